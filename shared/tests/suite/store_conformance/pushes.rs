//! Push claims ([`shared::store::PushClaims`]).

use super::{Harness, dynamo, embedded, key};

async fn pushes_are_claimed_once(h: Harness) {
    let id = h
        .svc
        .ensure_binding(&key("acme", "alice"))
        .await
        .expect("stub")
        .callback_id;
    let ttl = std::time::Duration::from_secs(600);
    assert!(h.pushes.claim_push(&id, "msg:1", ttl).await.expect("claim"));
    assert!(!h.pushes.claim_push(&id, "msg:1", ttl).await.expect("again"));
    assert!(h.pushes.claim_push(&id, "msg:2", ttl).await.expect("other"));
    let zero = std::time::Duration::from_secs(0);
    assert!(
        h.pushes
            .claim_push(&id, "msg:3", zero)
            .await
            .expect("claim")
    );
    assert!(
        h.pushes
            .claim_push(&id, "msg:3", ttl)
            .await
            .expect("expired"),
        "an expired claim can be taken again"
    );
    h.pushes.release_push(&id, "msg:1").await.expect("release");
    assert!(
        h.pushes
            .claim_push(&id, "msg:1", ttl)
            .await
            .expect("claim after release"),
        "a released claim can be taken again"
    );
}

shared::both_stores!(pushes_are_claimed_once);
