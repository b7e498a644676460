//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 document, public like the console page. The
//! document is composed by the local runner from every function's part; the deployed
//! channel-config serves `docs/openapi.json`, which the runner's tests keep equal to it. The
//! local runner mounts this outside its JWT check; on AWS the template routes it without the
//! authorizer.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shared::http::{method_not_allowed, routes};

/// The committed document (`docs/openapi.json`): what the deployed function serves.
pub const COMMITTED: &str = include_str!("../../../docs/openapi.json");

/// Serves `document` (the JSON text) at [`routes::OPENAPI`].
pub fn openapi_router(document: &'static str) -> Router {
    Router::new()
        .route(
            routes::OPENAPI,
            get(openapi_document).fallback(method_not_allowed),
        )
        .with_state(document)
}

/// This document
///
/// Public: the OpenAPI 3.1 document of this API, generated from the code. (channel-config)
#[utoipa::path(
    get,
    path = routes::OPENAPI,
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json")),
)]
pub(crate) async fn openapi_document(State(document): State<&'static str>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::Value;
    use shared::testing::oneshot;

    use super::*;

    #[tokio::test]
    async fn the_document_is_served_as_json_without_a_token() {
        let a = oneshot(
            &openapi_router(COMMITTED),
            Request::get(routes::OPENAPI)
                .body(Body::empty())
                .expect("req"),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.content_type().as_deref(), Some("application/json"));
        let doc: Value = a.json();
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1."))
        );
        assert!(doc["paths"][routes::OPENAPI]["get"].is_object());

        let post = oneshot(
            &openapi_router(COMMITTED),
            Request::builder()
                .method(Method::POST)
                .uri(routes::OPENAPI)
                .body(Body::empty())
                .expect("req"),
        )
        .await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
