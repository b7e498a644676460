//! What several flows of this binary share that needs the functions' own crates (the e2e
//! library, tests/src, is what the bench tools share too).

use axum::middleware::from_fn;
use shared::auth::{Claims, LocalJwt};

/// test-send's routes in process, behind what the local runner puts in front of them (the
/// local JWT check, the reader's language), and an admin token of `org` for them.
pub(crate) fn test_send_router(state: test_send::AppState, org: &str) -> (axum::Router, String) {
    let jwt = LocalJwt::new(b"test-secret-test-secret-test-sec");
    let layer = jwt.clone();
    let router = test_send::router(state)
        .layer(from_fn(move |req, next| layer.clone().layer(req, next)))
        .layer(from_fn(shared::i18n::scope));
    let token = jwt
        .issue(&Claims {
            sub: "u1".into(),
            org: org.into(),
            role: "admin".into(),
            exp: shared::domain::unix_now() + 600,
        })
        .expect("token");
    (router, token)
}
