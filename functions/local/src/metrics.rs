//! Prometheus metrics (`WECOM_NOTIFY_METRICS_LISTEN`): the exporter behind the `metrics`
//! facade the functions record through ([`shared::metrics::prom`] names every metric), the
//! HTTP layer that counts requests by route template, and the separate listener that serves
//! `GET /metrics` in the text exposition format.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use shared::metrics::prom;

/// The exposition format's content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the recorder is tidied (histogram samples folded into their buckets).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A recorder whose histograms are true Prometheus histograms with [`prom::SECONDS_BUCKETS`].
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets(prom::SECONDS_BUCKETS)
        .expect("the buckets are not empty")
        .build_recorder()
}

/// Installs the recorder for the whole process and describes every metric.
pub fn install() -> Result<PrometheusHandle, String> {
    let recorder = recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| format!("could not install the metrics recorder: {e}"))?;
    prom::describe();
    metrics::describe_counter!(
        crate::oidc::KEY_FETCHES,
        "Fetches of the OpenID provider's signing keys (discovery and JWKS), by outcome"
    );
    Ok(handle)
}

/// `GET /metrics`, and nothing else.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], handle.render()) }
        }),
    )
}

/// Serves [`router`] on `listener` until the process ends, tidying the recorder meanwhile.
pub async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle) {
    tokio::spawn({
        let handle = handle.clone();
        async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        }
    });
    if let Err(e) = axum::serve(listener, router(handle)).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}

/// Binds the metrics listener, with an error naming the variable.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("WECOM_NOTIFY_METRICS_LISTEN: cannot listen on {addr}: {e}"))
}

/// Counts each request by its route template (never its path: callback ids and member names
/// would become label values) and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(
        || prom::UNMATCHED_ROUTE.to_owned(),
        |m| m.as_str().to_owned(),
    );
    let started = Instant::now();
    let resp = next.run(req).await.into_response();
    prom::http_request(&route, resp.status().as_u16(), started.elapsed());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::{Diagnosis, Drift};
    use shared::wecom::WeComError;
    use shared::workflow::{PublicStatus, Reason};

    #[test]
    fn every_metric_renders_with_its_labels_and_histograms_have_buckets() {
        let recorder = recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            prom::describe();
            prom::deliveries(&[
                (PublicStatus::Failed, Some(Reason::ReceiverNotFound)),
                (PublicStatus::Delivered, None),
                (PublicStatus::Delivered, None),
            ]);
            let refused: Result<(), _> = Err(WeComError::Network("timeout".into()));
            prom::wecom_call("/cgi-bin/gettoken", &refused, Duration::from_millis(30));
            prom::callback_verification(Err(Some(Diagnosis::SignatureMismatch)));
            prom::unknown_callback();
            prom::decision("approve");
            prom::decision("not a key");
            prom::probe_drift(Drift::IpNotTrusted);
            prom::sweep_lag_ms(2_500);
            prom::http_request("/v1/wecom/callback/{id}", 200, Duration::from_millis(3));
        });
        let text = handle.render();
        for line in [
            r#"wecom_notify_deliveries_total{status="failed",reason="receiver_not_found"} 1"#,
            r#"wecom_notify_deliveries_total{status="delivered",reason=""} 2"#,
            r#"wecom_notify_wecom_calls_total{path="/cgi-bin/gettoken",errcode="network"} 1"#,
            r#"wecom_notify_wecom_call_seconds_bucket{path="/cgi-bin/gettoken",le="0.05"} 1"#,
            r#"wecom_notify_callback_verifications_total{outcome="signature_mismatch"} 1"#,
            r#"wecom_notify_callback_verifications_total{outcome="unknown_callback"} 1"#,
            r#"wecom_notify_decisions_total{action="approve"} 1"#,
            r#"wecom_notify_decisions_total{action="_other"} 1"#,
            r#"wecom_notify_probe_drift_total{kind="ip_not_trusted"} 1"#,
            "wecom_notify_sweep_lag_seconds 2.5",
            r#"wecom_notify_http_requests_total{route="/v1/wecom/callback/{id}",status="200"} 1"#,
            r#"wecom_notify_http_request_seconds_count{route="/v1/wecom/callback/{id}"} 1"#,
            "# TYPE wecom_notify_wecom_call_seconds histogram",
            "# TYPE wecom_notify_deliveries_total counter",
            "# TYPE wecom_notify_sweep_lag_seconds gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
