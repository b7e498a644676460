//! What the tests of every crate share (feature `test-support`): known-good WeCom values, a
//! one-request driver for routers, and store doubles that inject faults.

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::{BoxError, Router};
use http_body_util::BodyExt;
use tower::ServiceExt;

mod faulty;
mod intercepted;

pub use faulty::{FaultyBindings, FaultySecretRecords};
pub use intercepted::{Intercepted, Interceptor};

/// A valid EncodingAESKey (from WeCom's published samples).
pub const ENCODING_AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
/// Another valid EncodingAESKey, for "the key differs" cases.
pub const OTHER_ENCODING_AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// What a router answered: status, headers and the body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The body as JSON, `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one request (any body: axum's, or `lambda_http`'s from an API Gateway fixture)
/// through `router`, as `tower::ServiceExt::oneshot` does, and reads the whole answer.
pub async fn oneshot<B>(router: &Router, req: Request<B>) -> Answer
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let resp = match router.clone().oneshot(req.map(Body::new)).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(e) => format!("<unreadable body: {e}>"),
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Runs each named `async fn(harness)` against both stores, as two test modules
/// (`embedded_store`, `dynamodb_store`): the caller's `embedded()` and `dynamo()` build the
/// harness each test gets.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::embedded().await).await
                }
            )*
        }
        mod dynamodb_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::dynamo().await).await
                }
            )*
        }
    };
}
