//! App secrets and their records ([`shared::store::SecretStore`], [`shared::store::SecretRecords`]): written once, retired after a grace, never in the record store.

use std::sync::Arc;

use shared::channel::{ChannelError, ChannelService};
use shared::testing::{
    ENCODING_AES_KEY as KEY_A, FaultyBindings, FaultySecretRecords, OTHER_ENCODING_AES_KEY as KEY_B,
};

use super::{Harness, dynamo, embedded, full, grace, key, key_app, swept};

async fn delete_removes_secrets(h: Harness) {
    let k = key("acme", "alice");
    let saved = h
        .saved(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    let app_key = saved.app_key().expect("app");
    let app = h.app(&app_key).await;
    assert!(h.holds_secret(&app.secret_name).await);

    h.svc.delete(&k).await.expect("delete");
    let after = h
        .bindings
        .binding(&k)
        .await
        .expect("read")
        .expect("stub stays");
    assert!(after.config.is_none());
    assert_eq!(
        after.callback_id, saved.callback_id,
        "URL survives a delete"
    );
    assert_eq!(h.bindings.app(&app_key).await.expect("read"), None);
    // A reader may still hold the secret's name: it is retired, deleted after a grace period.
    assert!(
        h.holds_secret(&app.secret_name).await,
        "kept for the grace period"
    );
    assert!(h.svc.resolve(after).await.expect("resolve").is_none());
    // Deleting again is fine.
    h.svc.delete(&k).await.expect("idempotent");
    let now = shared::domain::unix_now();
    assert_eq!(swept(&h.svc, now).await, 0, "too young");
    assert_eq!(swept(&h.svc, now + grace() + 1).await, 1);
    assert!(
        !h.holds_secret(&app.secret_name).await,
        "gone after the grace period"
    );
}

async fn a_replaced_secret_is_readable_until_its_grace_ends(h: Harness) {
    let k = key("acme", "alice");
    h.saved(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    let app_key = key_app("acme", "ww01", 7);
    let first = h.app(&app_key).await;
    h.svc
        .save(&k, full("ww01", 7, "secret-two", "tokenOne", KEY_A))
        .await
        .expect("replace");
    let second = h.app(&app_key).await;
    assert_ne!(first.secret_name, second.secret_name);
    assert!(
        h.holds_secret(&first.secret_name).await,
        "a reader that read the old name can still use it"
    );
    let now = shared::domain::unix_now();
    assert_eq!(swept(&h.svc, now + grace() + 1).await, 1);
    assert!(!h.holds_secret(&first.secret_name).await);
    assert!(
        h.holds_secret(&second.secret_name).await,
        "the live secret is never swept"
    );
}

/// A replaced secret whose retirement could not be recorded still gets its grace: its record
/// says only when it was created (two hours ago here), and the sweep that finds it
/// unreferenced records it retired then, instead of deleting it under a reader that read its
/// name just before the swap.
async fn a_secret_whose_retirement_was_not_recorded_keeps_its_grace(h: Harness) {
    let k = key("acme", "alice");
    let faulty = Arc::new(FaultySecretRecords::new(h.secret_records.clone()));
    let svc = ChannelService::new(&h.stores, "wn-retire").with_secret_records(faulty.clone());
    svc.save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let app_key = key_app("acme", "ww01", 7);
    let first = h.app(&app_key).await;
    let grace = grace();
    let now = shared::domain::unix_now();
    // The secret has been in use for two hours.
    h.secret_records
        .record_secret(&shared::domain::SecretRecord {
            name: first.secret_name.clone(),
            app: app_key.clone(),
            created_at: now - 2 * grace,
            retired_at: None,
        })
        .await
        .expect("backdate");
    faulty.fail_retirements(true);
    svc.save(&k, full("ww01", 7, "secret-two", "tokenOne", KEY_A))
        .await
        .expect("the save succeeds; only the retirement record failed");
    faulty.fail_retirements(false);
    let second = h.app(&app_key).await;
    assert_ne!(first.secret_name, second.secret_name);
    let readable = |name: String| {
        let secrets = h.secrets.clone();
        async move { secrets.get(&name).await.expect("get").is_some() }
    };
    for at in [now, now + grace - 60] {
        assert_eq!(swept(&svc, at).await, 0, "at +{}", at - now);
        assert!(
            readable(first.secret_name.clone()).await,
            "a reader that read the old name can still use it {} s after the swap",
            at - now
        );
    }
    assert_eq!(
        swept(&svc, now + grace + 1).await,
        1,
        "deleted once its grace has passed"
    );
    assert!(!readable(first.secret_name.clone()).await);
    assert!(
        readable(second.secret_name.clone()).await,
        "the live secret is never swept"
    );
}

/// A save that dies between writing its new secret and committing leaves that secret
/// unreferenced: the sweep retires it once it is older than the grace period, and deletes it
/// a grace later, never before.
async fn a_crash_before_the_commit_leaves_nothing_behind_for_long(h: Harness) {
    let k = key("acme", "alice");
    let dying = Arc::new(FaultyBindings::new(h.bindings.clone()));
    dying.hang_commits();
    let hanging = Arc::new(ChannelService::new(&h.stores, "wn-crash").with_bindings(dying.clone()));
    // The save runs until its commit hangs, and is dropped there: the process died.
    tokio::select! {
        r = hanging.save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A)) => {
            panic!("the save died at its commit, yet it ended: {r:?}")
        }
        () = dying.commit_hung() => {}
    }
    assert_eq!(
        h.bindings
            .app(&key_app("acme", "ww01", 7))
            .await
            .expect("app"),
        None
    );
    let now = shared::domain::unix_now();
    assert_eq!(swept(&hanging, now).await, 0, "too young");
    let grace = grace();
    // Older than the grace and unreferenced: nothing says when it stopped being used (it
    // could be a replaced secret whose retirement record failed), so it is retired now...
    assert_eq!(
        swept(&hanging, now + grace + 1).await,
        0,
        "retired, not yet deleted"
    );
    // ...and deleted a grace later.
    assert_eq!(
        swept(&hanging, now + 2 * grace + 1).await,
        1,
        "the orphan is deleted"
    );
    assert_eq!(swept(&hanging, now + 2 * grace + 2).await, 0);
}

/// The app's secret missing behind its record (deleted by hand, a restore gone wrong) is an
/// error to retry, never "this member has no channel".
async fn a_missing_secret_is_an_error_not_no_channel(h: Harness) {
    let k = key("acme", "alice");
    h.saved(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    let app = h.app(&key_app("acme", "ww01", 7)).await;
    h.secrets.delete(&app.secret_name).await.expect("delete");
    let fresh = ChannelService::new(&h.stores, "wn-other-cache");
    assert!(matches!(
        fresh.configured(&k).await,
        Err(ChannelError::SecretMissing(_))
    ));
}

async fn secrets_never_reach_the_record_store(h: Harness) {
    h.saved(
        &key("acme", "alice"),
        full("ww01", 7, "SuperSecretValue42", "TokenValue99", KEY_B),
    )
    .await;
    let dump = (h.dump)().await;
    assert!(dump.contains("ww01"), "the dump does show the record");
    for secret in ["SuperSecretValue42", "TokenValue99", KEY_B] {
        assert!(
            !dump.contains(secret),
            "{secret} leaked into the record store"
        );
    }
}

shared::both_stores!(
    delete_removes_secrets,
    a_replaced_secret_is_readable_until_its_grace_ends,
    a_secret_whose_retirement_was_not_recorded_keeps_its_grace,
    a_crash_before_the_commit_leaves_nothing_behind_for_long,
    a_missing_secret_is_an_error_not_no_channel,
    secrets_never_reach_the_record_store,
);

#[cfg(unix)]
#[test]
fn the_local_secret_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    shared::store::secret_file::SecretFile::open(dir.path()).expect("open");
    let mode = std::fs::metadata(dir.path().join("secrets.json"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
