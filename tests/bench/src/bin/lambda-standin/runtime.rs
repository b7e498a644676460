//! What Lambda is to the function: the Runtime API on a loopback port, and the state of the
//! one invocation in flight that the Runtime API and the counting proxy both record into.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) target: String,
    pub(crate) start: Duration,
    pub(crate) end: Duration,
    pub(crate) status: u16,
    /// Before the first `/next`: during the function's init.
    pub(crate) init: bool,
    /// Which of the process's connections to the proxy carried it (1, 2, …).
    pub(crate) conn: usize,
}

#[derive(Clone, Debug)]
pub(crate) enum Ending {
    Response(String),
    Error(String),
    InitError(String),
}

#[derive(Default)]
pub(crate) struct Invocation {
    pub(crate) t0: Option<Instant>,
    pub(crate) function: String,
    pub(crate) request_id: String,
    /// Taken by the first `/next`.
    pub(crate) event: Option<String>,
    pub(crate) next_at: Option<Duration>,
    pub(crate) ended: Option<(Duration, Ending)>,
    pub(crate) calls: Vec<Call>,
    /// The client ports of the connections the process opened to the proxy, in order.
    pub(crate) conns: Vec<u16>,
}

impl Invocation {
    pub(crate) fn elapsed(&self) -> Duration {
        self.t0.map(|t| t.elapsed()).unwrap_or_default()
    }
}

pub(crate) struct Shared {
    pub(crate) inv: Mutex<Invocation>,
    pub(crate) ended: tokio::sync::Notify,
    /// Bumped for every new process: releases the `/next` polls of the last one.
    pub(crate) generation: tokio::sync::watch::Sender<u64>,
    pub(crate) moto: String,
    pub(crate) http: reqwest::Client,
    /// `--aws-latency`: each store call is held this long before it is forwarded.
    pub(crate) aws_latency: bool,
}

impl Shared {
    pub(crate) fn inv(&self) -> MutexGuard<'_, Invocation> {
        self.inv.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn end(&self, request_id: Option<&str>, ending: Ending) {
        let mut inv = self.inv();
        let at = inv.elapsed();
        let ending = match request_id {
            Some(id) if id != inv.request_id => {
                Ending::Error(format!("answer for unknown request id {id:?}"))
            }
            _ => ending,
        };
        if inv.ended.is_none() {
            inv.ended = Some((at, ending));
        }
        drop(inv);
        self.ended.notify_one();
    }
}

pub(crate) fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
pub(crate) fn runtime_api(sh: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(
                |State(sh): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes| {
                    invocation_end(sh, id, body, Ending::Response)
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(
                |State(sh): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes| {
                    invocation_end(sh, id, body, Ending::Error)
                },
            ),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(sh)
}

pub(crate) async fn next(State(sh): State<Arc<Shared>>) -> Response {
    let mut generation = sh.generation.subscribe();
    let taken = {
        let mut inv = sh.inv();
        if inv.next_at.is_none() {
            inv.next_at = Some(inv.elapsed());
        }
        inv.event
            .take()
            .map(|e| (e, inv.request_id.clone(), inv.function.clone()))
    };
    let Some((event, id, function)) = taken else {
        // Lambda freezes the sandbox here; the stand-in kills the process. Held until then.
        let _ = tokio::time::timeout(Duration::from_secs(300), generation.changed()).await;
        return StatusCode::GONE.into_response();
    };
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        unix_secs(),
        rand::random::<u128>() >> 32,
        rand::random::<u64>()
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", id)
        .header(
            "Lambda-Runtime-Deadline-Ms",
            (unix_ms() + 30_000).to_string(),
        )
        .header(
            "Lambda-Runtime-Invoked-Function-Arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:wecom-notify-{function}"),
        )
        .header("Lambda-Runtime-Trace-Id", trace)
        .body(Body::from(event))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

/// `…/invocation/{id}/response` and `…/invocation/{id}/error`: the invocation ends with what
/// the function posted, as `ending` names it.
async fn invocation_end(
    sh: Arc<Shared>,
    id: String,
    body: Bytes,
    ending: fn(String) -> Ending,
) -> StatusCode {
    sh.end(
        Some(&id),
        ending(String::from_utf8_lossy(&body).into_owned()),
    );
    StatusCode::ACCEPTED
}

pub(crate) async fn init_error(State(sh): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    sh.end(
        None,
        Ending::InitError(String::from_utf8_lossy(&body).into_owned()),
    );
    StatusCode::ACCEPTED
}

/// Serves `router` on a free loopback port, telling handlers the client's address.
pub(crate) async fn serve(router: Router) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind a loopback port: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr.to_string())
}
