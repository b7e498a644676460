//! Bindings with their apps and callback ids ([`shared::store::BindingStore`]), through the channel service that saves them.

use shared::channel::ChannelError;
use shared::domain::{
    AgentId, AppKey, AppSecret, CallbackCheck, CallbackId, CorpId, Diagnosis, MemberKey, OrgId,
    QuietHours, Receiver, SourceColumn, TestOutcome, WeComToken, now,
};
use shared::store::CallbackTarget;
use shared::store::PageAt;
use shared::testing::{ENCODING_AES_KEY as KEY_A, OTHER_ENCODING_AES_KEY as KEY_B};

use super::{Harness, bare, dynamo, embedded, full, key, key_app, secrets_of};

async fn create_and_read(h: Harness) {
    let k = key("acme", "alice");
    let before = h.svc.ensure_binding(&k).await.expect("stub");
    assert!(before.config.is_none());
    let saved = h
        .saved(&k, full("ww01", 1000002, "secret-one", "tokenOne", KEY_A))
        .await;
    assert_eq!(
        saved.callback_id, before.callback_id,
        "callback id is stable"
    );
    let cfg = saved.config.clone().expect("configured");
    assert_eq!(cfg.corp_id.as_str(), "ww01");
    assert_eq!(cfg.agent_id.get(), 1000002);
    assert_eq!(cfg.receiver, Receiver::Phone("13800000000".into()));
    assert!(saved.updated_at.is_some());
    assert_eq!(
        secrets_of(&h, &k).await,
        ("secret-one".into(), "tokenOne".into(), KEY_A.into())
    );
    assert_eq!(h.bindings.binding(&k).await.expect("read"), Some(saved));
}

async fn first_save_needs_every_secret(h: Harness) {
    let k = key("acme", "alice");
    let err = h
        .svc
        .save(&k, bare("ww01", 7))
        .await
        .expect_err("no secrets yet");
    assert!(
        matches!(err, ChannelError::MissingSecret("app_secret")),
        "{err:?}"
    );
    assert!(
        h.bindings
            .binding(&k)
            .await
            .expect("read")
            .expect("stub")
            .config
            .is_none()
    );
}

async fn update_with_secret_omitted_keeps_the_old_one(h: Harness) {
    let k = key("acme", "alice");
    h.saved(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    let mut u = bare("ww01", 7);
    u.token = Some(WeComToken::parse("tokenTwo").expect("token"));
    u.receiver = Receiver::parse(SourceColumn::Email, "alice@example.com").expect("email");
    let saved = h.svc.save(&k, u).await.expect("update");
    assert_eq!(
        saved.config.expect("cfg").receiver,
        Receiver::Email("alice@example.com".into())
    );
    assert_eq!(
        secrets_of(&h, &k).await,
        ("secret-one".into(), "tokenTwo".into(), KEY_A.into())
    );
    // Moving to another AgentId with nothing re-sent carries the secrets along.
    let moved = h.svc.save(&k, bare("ww01", 8)).await.expect("move");
    assert_eq!(moved.config.expect("cfg").agent_id.get(), 8);
    assert_eq!(
        secrets_of(&h, &k).await,
        ("secret-one".into(), "tokenTwo".into(), KEY_A.into())
    );
    let old_app = AppKey {
        org: k.org.clone(),
        corp_id: CorpId::parse("ww01").expect("corp"),
        agent_id: AgentId::parse(7).expect("agent"),
    };
    assert_eq!(
        h.bindings.app(&old_app).await.expect("read"),
        None,
        "old app released"
    );
}

async fn list_per_org_and_org_isolation(h: Harness) {
    for m in ["bob", "alice"] {
        h.svc
            .save(
                &key("acme", m),
                full("ww01", 7, "acme-secret", "tokenAcme", KEY_A),
            )
            .await
            .expect("save acme");
    }
    h.svc
        .save(
            &key("other", "carol"),
            full("ww01", 7, "other-secret", "tokenOther", KEY_B),
        )
        .await
        .expect("save other");
    h.svc
        .ensure_binding(&key("acme", "unsaved"))
        .await
        .expect("stub");

    let acme: Vec<String> = h
        .svc
        .list(&OrgId::parse("acme").expect("org"), PageAt::new(None, 100))
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|b| b.key.member.to_string())
        .collect();
    assert_eq!(acme, ["alice", "bob"], "configured only, ordered by member");
    let other = h
        .svc
        .list(&OrgId::parse("other").expect("org"), PageAt::new(None, 100))
        .await
        .expect("list");
    assert_eq!(other.items.len(), 1);
    assert_eq!(other.next, None);
    assert!(
        h.svc
            .ensure_binding(&key("other", "alice"))
            .await
            .expect("read")
            .config
            .is_none(),
        "same member name in another org is another binding"
    );
    // Same WeCom app in two orgs: separate secrets, and deleting one leaves the other.
    assert_eq!(secrets_of(&h, &key("acme", "alice")).await.0, "acme-secret");
    assert_eq!(
        secrets_of(&h, &key("other", "carol")).await.0,
        "other-secret"
    );
    h.svc.delete(&key("other", "carol")).await.expect("delete");
    assert_eq!(secrets_of(&h, &key("acme", "bob")).await.0, "acme-secret");
}

async fn members_of_one_app_share_its_secrets(h: Harness) {
    let (a, b) = (key("acme", "alice"), key("acme", "bob"));
    h.svc
        .save(&a, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save a");
    h.svc
        .save(&b, bare("ww01", 7))
        .await
        .expect("b reuses the app's secrets");
    assert_eq!(secrets_of(&h, &b).await.1, "tokenOne");
    let mut u = bare("ww01", 7);
    u.token = Some(WeComToken::parse("tokenTwo").expect("token"));
    h.svc.save(&b, u).await.expect("b re-copies the Token");
    assert_eq!(
        secrets_of(&h, &a).await.1,
        "tokenTwo",
        "WeCom has one Token per app"
    );

    let app_key = h
        .svc
        .ensure_binding(&a)
        .await
        .expect("a")
        .app_key()
        .expect("app");
    let app = h.app(&app_key).await;
    assert_eq!(app.members, 2);
    h.svc.delete(&a).await.expect("delete a");
    assert!(h.holds_secret(&app.secret_name).await, "bob still uses it");
    h.svc.delete(&b).await.expect("delete b");
    h.sweep_after_grace().await;
    assert!(
        !h.holds_secret(&app.secret_name).await,
        "deleted once the last member left and the grace period passed"
    );
}

async fn members_join_and_leave_one_app_at_once(h: Harness) {
    let first = key("acme", "m00");
    h.saved(&first, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    let others: Vec<MemberKey> = (1..=12).map(|i| key("acme", &format!("m{i:02}"))).collect();
    let saves = others.iter().cloned().map(|k| {
        let svc = h.svc.clone();
        tokio::spawn(async move { svc.save(&k, bare("ww01", 7)).await })
    });
    for s in futures_util::future::join_all(saves).await {
        s.expect("join")
            .expect("parallel saves on one app all succeed");
    }
    let app_key = key_app("acme", "ww01", 7);
    let app = h.app(&app_key).await;
    assert_eq!(app.members, 13);

    let deletes = others.iter().cloned().map(|k| {
        let svc = h.svc.clone();
        tokio::spawn(async move { svc.delete(&k).await })
    });
    for d in futures_util::future::join_all(deletes).await {
        d.expect("join").expect("parallel deletes all succeed");
    }
    let app = h.app(&app_key).await;
    assert_eq!(app.members, 1, "the first member still holds the app");
    assert_eq!(secrets_of(&h, &first).await.0, "secret-one");

    h.svc.delete(&first).await.expect("delete the last");
    assert_eq!(h.bindings.app(&app_key).await.expect("read"), None);
    h.sweep_after_grace().await;
    assert_eq!(
        h.secrets.get(&app.secret_name).await.expect("get"),
        None,
        "the last member's leaving frees the secret"
    );
}

async fn concurrent_updates_do_not_lose_a_field(h: Harness) {
    let k = key("acme", "alice");
    h.saved(&k, full("ww01", 7, "secret-zero", "tokenZero", KEY_A))
        .await;
    for round in 0..4 {
        let token = format!("tokenRound{round}");
        let secret = format!("secret-round-{round}");
        let mut by_token = bare("ww01", 7);
        by_token.token = Some(WeComToken::parse(&token).expect("token"));
        let mut by_secret = bare("ww01", 7);
        by_secret.app_secret = Some(AppSecret::parse(&secret).expect("secret"));
        let check = CallbackCheck {
            at: now(),
            ok: false,
            diagnosis: Some(Diagnosis::SignatureMismatch),
            hint: Some(format!("round {round}")),
            authentic: true,
        };
        let (s1, s2, s3) = (h.svc.clone(), h.svc.clone(), h.svc.clone());
        let (k1, k2, k3) = (k.clone(), k.clone(), k.clone());
        let t1 = tokio::spawn(async move { s1.save(&k1, by_token).await });
        let t2 = tokio::spawn(async move { s2.save(&k2, by_secret).await });
        let c = check.clone();
        let t3 = tokio::spawn(async move { s3.record_callback_check(&k3, &c).await });
        t1.await.expect("join").expect("save token");
        t2.await.expect("join").expect("save secret");
        t3.await.expect("join").expect("record check");
        assert_eq!(
            secrets_of(&h, &k).await,
            (secret, token, KEY_A.into()),
            "round {round}: both concurrent fields survive"
        );
        let rec = h.svc.ensure_binding(&k).await.expect("read");
        assert_eq!(rec.last_callback_check, Some(check), "round {round}");
        assert!(rec.config.is_some());
    }
    // Only the live secret remains: the losers' and replaced ones were removed.
    let app_key = h
        .svc
        .ensure_binding(&k)
        .await
        .expect("b")
        .app_key()
        .expect("app");
    let app = h.app(&app_key).await;
    assert!(h.holds_secret(&app.secret_name).await);
}

async fn checks_and_tests_are_recorded_without_touching_config(h: Harness) {
    let k = key("acme", "alice");
    let stub = h.svc.ensure_binding(&k).await.expect("stub");
    let check = CallbackCheck {
        at: now(),
        ok: false,
        diagnosis: Some(Diagnosis::NoBinding),
        hint: Some("save first".into()),
        authentic: false,
    };
    h.svc
        .record_callback_check(&k, &check)
        .await
        .expect("record on stub");
    let saved = h
        .saved(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    assert_eq!(
        saved.last_callback_check,
        Some(check),
        "a save keeps the last check"
    );
    let test = TestOutcome {
        at: now(),
        result: "successful".into(),
        wecom_errcode: None,
        hint: None,
    };
    h.svc.record_test(&k, &test).await.expect("record test");
    let rec = h.svc.ensure_binding(&k).await.expect("read");
    assert_eq!(rec.last_test, Some(test));
    assert_eq!(
        rec.revision, saved.revision,
        "results do not bump the revision"
    );
    assert_eq!(rec.callback_id, stub.callback_id);
    // Recording on a member that never existed creates nothing.
    let ghost = key("acme", "ghost");
    h.bindings
        .record_callback_check(&ghost, &rec.last_callback_check.clone().expect("check"))
        .await
        .expect("no-op");
    assert_eq!(h.bindings.binding(&ghost).await.expect("read"), None);
}

async fn callback_ids_resolve_to_their_member(h: Harness) {
    let k = key("acme", "alice");
    let a = h.svc.ensure_binding(&k).await.expect("stub");
    let again = h.svc.ensure_binding(&k).await.expect("again");
    assert_eq!(a.callback_id, again.callback_id);
    // Not saved yet: the member only.
    assert_eq!(
        h.bindings
            .resolve_callback(&a.callback_id)
            .await
            .expect("resolve"),
        Some(CallbackTarget {
            key: k.clone(),
            app: None,
            secret_hint: None,
        })
    );
    let other = h
        .svc
        .ensure_binding(&key("acme", "bob"))
        .await
        .expect("stub");
    assert_ne!(other.callback_id, a.callback_id);
    assert_eq!(
        h.bindings
            .resolve_callback(&CallbackId::random())
            .await
            .expect("resolve"),
        None
    );
    // Concurrent first reads agree on one id.
    let k2 = key("acme", "carol");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (svc, k2) = (h.svc.clone(), k2.clone());
        tasks.push(tokio::spawn(async move { svc.ensure_binding(&k2).await }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.expect("join").expect("binding").callback_id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// A saved binding's callback id names its app and the secret the app pointed to; the
/// callback's one read finds the binding and the right secrets even after another member's
/// save moved the app to a new secret.
async fn a_callback_id_leads_to_the_app_and_its_current_secret(h: Harness) {
    let (alice, bob) = (key("acme", "alice"), key("acme", "bob"));
    h.svc
        .save(&alice, full("wwcorp", 1000002, "s1", "Token1", KEY_A))
        .await
        .expect("alice");
    let id = h
        .svc
        .ensure_binding(&alice)
        .await
        .expect("alice")
        .callback_id;
    let app = h.app(&key_app("acme", "wwcorp", 1000002)).await;
    assert_eq!(
        h.bindings.resolve_callback(&id).await.expect("resolve"),
        Some(CallbackTarget {
            key: alice.clone(),
            app: Some(key_app("acme", "wwcorp", 1000002)),
            secret_hint: Some(app.secret_name.clone()),
        })
    );
    let found = h.svc.for_callback(&id).await.expect("read").expect("found");
    assert_eq!(found.record.key, alice);
    let resolved = found.resolved.expect("secrets").expect("configured");
    assert_eq!(resolved.secrets.token.expose(), "Token1");

    // Bob saves new secrets for the same app: alice's callback reads them, not the old ones.
    h.svc
        .save(&bob, full("wwcorp", 1000002, "s2", "Token2", KEY_A))
        .await
        .expect("bob");
    let found = h.svc.for_callback(&id).await.expect("read").expect("found");
    let resolved = found.resolved.expect("secrets").expect("configured");
    assert_eq!(resolved.secrets.token.expose(), "Token2");
    assert_eq!(resolved.secrets.app_secret.expose(), "s2");

    // Deleted: the id still leads to the member, with nothing to verify against.
    h.svc.delete(&alice).await.expect("delete");
    let found = h.svc.for_callback(&id).await.expect("read").expect("found");
    assert!(found.resolved.expect("no error").is_none());
    assert!(
        h.svc
            .for_callback(&CallbackId::random())
            .await
            .expect("read")
            .is_none()
    );
}

async fn resolved_userids_are_cached_until_the_config_changes(h: Harness) {
    let k = key("acme", "alice");
    let saved = h
        .saved(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await;
    assert_eq!(saved.cached_userid(), None);
    h.svc
        .remember_userid(&saved, "zhangsan")
        .await
        .expect("remember");
    let rec = h.svc.ensure_binding(&k).await.expect("read");
    assert_eq!(rec.cached_userid(), Some("zhangsan"));
    assert_eq!(
        rec.revision, saved.revision,
        "caching does not bump the revision"
    );

    // A contact change for that userid forgets it.
    let n = h
        .svc
        .forget_userid_in_org(&k.org, "ww01", "ZhangSan")
        .await
        .expect("forget");
    assert_eq!(n, 1);
    assert_eq!(
        h.svc
            .ensure_binding(&k)
            .await
            .expect("read")
            .cached_userid(),
        None
    );

    // A new receiver forgets it too.
    h.svc
        .remember_userid(&saved, "zhangsan")
        .await
        .expect("remember");
    let mut u = bare("ww01", 7);
    u.receiver = Receiver::parse(SourceColumn::Phone, "13900000000").expect("phone");
    let changed = h.saved(&k, u).await;
    assert_eq!(changed.cached_userid(), None);
    assert_eq!(changed.resolved_user, None);
    assert!(
        h.bindings
            .bindings_resolved_to(&k.org, "ww01", "zhangsan")
            .await
            .expect("by userid")
            .is_empty(),
        "the userid index forgets with the binding"
    );
}

async fn quiet_hours_are_kept_and_cleared(h: Harness) {
    let k = key("acme", "alice");
    let night = QuietHours::parse("22:00", "08:00", "Asia/Shanghai").expect("quiet hours");
    let mut u = full("ww01", 1000002, "secret-one", "tokenOne", KEY_A);
    u.quiet_hours = Some(night.clone());
    let saved = h.saved(&k, u).await;
    let read = h.bound(&k).await;
    assert_eq!(read, saved);
    let kept = read.config.and_then(|c| c.quiet_hours);
    assert_eq!(kept, Some(night));
    // A save without them clears them (a PUT replaces the configuration).
    h.saved(&k, bare("ww01", 1000002)).await;
    let read = h.bound(&k).await;
    assert_eq!(read.config.and_then(|c| c.quiet_hours), None);
}

shared::both_stores!(
    create_and_read,
    quiet_hours_are_kept_and_cleared,
    first_save_needs_every_secret,
    update_with_secret_omitted_keeps_the_old_one,
    list_per_org_and_org_isolation,
    members_of_one_app_share_its_secrets,
    members_join_and_leave_one_app_at_once,
    concurrent_updates_do_not_lose_a_field,
    checks_and_tests_are_recorded_without_touching_config,
    callback_ids_resolve_to_their_member,
    a_callback_id_leads_to_the_app_and_its_current_secret,
    resolved_userids_are_cached_until_the_config_changes,
);
