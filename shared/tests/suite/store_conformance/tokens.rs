//! Shared access tokens and their lease ([`shared::store::TokenStore`]).

use shared::store::{CachedToken, Refusal};

use super::{Harness, dynamo, embedded};

async fn tokens_are_shared_and_leased_to_one_holder(h: Harness) {
    let key = "ww01:7:abcdef";
    assert_eq!(h.tokens.cached_token(key).await.expect("get"), None);
    let t = CachedToken {
        sealed: "c2VhbGVk".into(),
        expires_at: 4_000_000_000,
        refused: None,
    };
    h.tokens.put_token(key, &t).await.expect("put");
    assert_eq!(h.tokens.cached_token(key).await.expect("get"), Some(t));
    let refused = CachedToken {
        sealed: String::new(),
        expires_at: 4_000_000_000,
        refused: Some(Refusal {
            errcode: 40001,
            errmsg: "invalid credential, hint: [x]".into(),
            at: 1_700_000_000,
        }),
    };
    h.tokens.put_token(key, &refused).await.expect("put");
    assert_eq!(
        h.tokens.cached_token(key).await.expect("get"),
        Some(refused),
        "a refusal is kept as such"
    );
    h.tokens.delete_token(key).await.expect("delete");
    assert_eq!(h.tokens.cached_token(key).await.expect("get"), None);

    let ttl = std::time::Duration::from_secs(30);
    assert!(
        h.tokens
            .try_token_lease(key, "a", ttl)
            .await
            .expect("lease")
    );
    assert!(!h.tokens.try_token_lease(key, "b", ttl).await.expect("held"));
    assert!(
        h.tokens
            .try_token_lease(key, "a", ttl)
            .await
            .expect("re-entrant")
    );
    h.tokens
        .release_token_lease(key, "b")
        .await
        .expect("not b's to release");
    assert!(
        !h.tokens
            .try_token_lease(key, "b", ttl)
            .await
            .expect("still a's")
    );
    h.tokens
        .release_token_lease(key, "a")
        .await
        .expect("release");
    assert!(
        h.tokens
            .try_token_lease(key, "b", ttl)
            .await
            .expect("free again")
    );
    let zero = std::time::Duration::from_secs(0);
    assert!(
        h.tokens
            .try_token_lease("other", "c", zero)
            .await
            .expect("lease")
    );
    assert!(
        h.tokens
            .try_token_lease("other", "d", ttl)
            .await
            .expect("expired"),
        "an expired lease can be taken"
    );
}

shared::both_stores!(tokens_are_shared_and_leased_to_one_holder);
