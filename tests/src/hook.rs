//! A workflow system's endpoint, and waiting until it heard every decision.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runner::Runner;

/// A workflow system's endpoint: records each decision POSTed to it; the first `fail_first`
/// wait `slow_ms` and are refused with a 500 (the endpoint is down, and slowly so).
pub struct Hook {
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    posts: Arc<Mutex<usize>>,
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Hook {
    pub async fn start(fail_first: usize, slow_ms: u64) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let posts = Arc::new(Mutex::new(0usize));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let (got, posts) = (got.clone(), posts.clone());
                move |axum::Json(v): axum::Json<serde_json::Value>| {
                    let (got, posts) = (got.clone(), posts.clone());
                    async move {
                        let n = {
                            let mut p = posts.lock().expect("lock");
                            *p += 1;
                            *p
                        };
                        if n <= fail_first {
                            tokio::time::sleep(Duration::from_millis(slow_ms)).await;
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        got.lock().expect("lock").push(v);
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            got,
            posts,
            url,
            task,
        }
    }

    pub fn got(&self) -> Vec<serde_json::Value> {
        self.got.lock().expect("lock").clone()
    }

    pub fn posts(&self) -> usize {
        *self.posts.lock().expect("lock")
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /v1/orgs/demo/actions{query}` once every decision it lists is finished (published
/// or recorded only, card answered or given up): the dispatcher's sweep finishes them, every
/// 2 s locally. Fails the test after 60 s with the last answer.
pub async fn settled_actions(r: &Runner, query: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = r
            .call(
                reqwest::Method::GET,
                &format!("/v1/orgs/demo/actions{query}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let items = v["items"].as_array().cloned().unwrap_or_default();
        // (A version without `finished` finished everything inside the push.)
        if !items.is_empty() && items.iter().all(|a| a["finished"] != false) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "decisions still unfinished after 60 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
