//! The Prometheus metrics of the local runner: every name, label and recording call in one
//! place (the names are a contract; docs/OPERATIONS.md, Metrics, lists them with alert rules).
//!
//! Recorded through the `metrics` facade: a no-op until a recorder is installed, which only
//! the local runner does (`WECOM_NOTIFY_METRICS_LISTEN`). Label values come from closed sets
//! (statuses, reasons, diagnoses, drift kinds, WeCom paths and errcodes, route templates) or
//! from an org's configuration (action keys): never a secret, token, userid, member name,
//! callback id or raw request path.
//!
//! The calls for deliveries, WeCom calls and decisions also write the CloudWatch metrics the
//! dashboard draws ([`super::DIMENSIONED`], [`super::DURATIONS`]) when in Lambda, so one call
//! site feeds both hosts; elsewhere they write nothing more.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};

use crate::domain::{Diagnosis, Drift};
use crate::wecom::WeComError;
use crate::workflow::{PublicStatus, Reason};

/// Deliveries by `status` (delivered, delayed, held, failed, skipped, duplicate) and `reason` (the
/// delivery's reason, empty if none), counted when a dispatch or sweep settles them.
pub const DELIVERIES: &str = "wecom_notify_deliveries_total";
/// Calls to WeCom's API by `path` (`/cgi-bin/…`) and `errcode` (`0` ok, WeCom's errcode,
/// `network` when WeCom did not answer, `protocol` for an answer that could not be read).
/// Each HTTP attempt counts, retries included.
pub const WECOM_CALLS: &str = "wecom_notify_wecom_calls_total";
/// How long each call to WeCom took, by `path`.
pub const WECOM_CALL_SECONDS: &str = "wecom_notify_wecom_call_seconds";
/// Callback requests by the `outcome` of their verification: `ok`, a diagnosis
/// (`signature_mismatch`, `decrypt_failed`, `corp_id_mismatch`, `bad_request`,
/// `no_binding`), `unknown_callback`, or `error` (the store failed).
pub const CALLBACK_VERIFICATIONS: &str = "wecom_notify_callback_verifications_total";
/// Members' decisions on cards, by `action` (the button's key), when first recorded.
pub const DECISIONS: &str = "wecom_notify_decisions_total";
/// Credential probes that found drift, by `kind` (`credentials_rejected`, `ip_not_trusted`,
/// `member_not_found`, `out_of_scope`, `not_permitted`, `unreachable`, `other`).
pub const PROBE_DRIFT: &str = "wecom_notify_probe_drift_total";
/// How late the oldest due delivery was when the last sweep took it (0 when none was due).
pub const SWEEP_LAG: &str = "wecom_notify_sweep_lag_seconds";
/// HTTP requests by `route` (the matched route template, `unmatched` for none) and `status`.
pub const HTTP_REQUESTS: &str = "wecom_notify_http_requests_total";
/// How long each HTTP request took, by `route`.
pub const HTTP_REQUEST_SECONDS: &str = "wecom_notify_http_request_seconds";

/// The histograms' buckets, in seconds.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Describes every metric (the exposition's `# HELP` lines); the local runner calls it once
/// its recorder is installed.
pub fn describe() {
    describe_counter!(DELIVERIES, "Deliveries settled, by status and reason");
    describe_counter!(WECOM_CALLS, "Calls to WeCom's API, by path and errcode");
    describe_histogram!(
        WECOM_CALL_SECONDS,
        Unit::Seconds,
        "Duration of calls to WeCom's API, by path"
    );
    describe_counter!(
        CALLBACK_VERIFICATIONS,
        "Callback requests, by the outcome of their verification"
    );
    describe_counter!(DECISIONS, "Decisions on cards, by action");
    describe_counter!(PROBE_DRIFT, "Credential probes that found drift, by kind");
    describe_gauge!(
        SWEEP_LAG,
        Unit::Seconds,
        "How late the oldest due delivery was when the last sweep took it"
    );
    describe_counter!(HTTP_REQUESTS, "HTTP requests, by route template and status");
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Duration of HTTP requests, by route template"
    );
}

/// A batch of deliveries settled, each by its status and reason. In Lambda, one EMF line per
/// distinct status and failure reason of the batch, not one per delivery.
pub fn deliveries(settled: &[(PublicStatus, Option<Reason>)]) {
    for (status, reason) in settled {
        counter!(DELIVERIES, "status" => status.as_str(), "reason" => reason.map_or("", Reason::as_str))
            .increment(1);
    }
    super::emf::write(super::emf::deliveries(
        super::emf::stack().as_deref(),
        settled,
    ));
}

/// The `errcode` label of a WeCom call's result.
pub fn errcode_label<T>(result: &Result<T, WeComError>) -> String {
    match result {
        Ok(_) => "0".into(),
        Err(e) => match e.errcode() {
            Some(code) => code.code().to_string(),
            None if matches!(e, WeComError::Protocol(_)) => "protocol".into(),
            None => "network".into(),
        },
    }
}

/// One HTTP call to WeCom at `path` (a `/cgi-bin/…` constant, never a URL with its query).
pub fn wecom_call<T>(path: &'static str, result: &Result<T, WeComError>, took: Duration) {
    counter!(WECOM_CALLS, "path" => path, "errcode" => errcode_label(result)).increment(1);
    metrics::histogram!(WECOM_CALL_SECONDS, "path" => path).record(took.as_secs_f64());
    super::emf::write(super::emf::wecom_call(super::emf::stack().as_deref(), took));
}

/// One callback request's verification: `Ok(())`, or what failed.
pub fn callback_verification(outcome: Result<(), Option<Diagnosis>>) {
    let outcome = match outcome {
        Ok(()) => "ok",
        Err(Some(d)) => d.as_str(),
        Err(None) => "error",
    };
    counter!(CALLBACK_VERIFICATIONS, "outcome" => outcome).increment(1);
}

/// A callback request for a callback id no binding has.
pub fn unknown_callback() {
    counter!(CALLBACK_VERIFICATIONS, "outcome" => "unknown_callback").increment(1);
}

/// A member's decision, recorded for the first time. The action is its button's key, an
/// [`ActionKey`](crate::workflow::ActionKey) checked at the edge; one that is not becomes
/// `_other` here too, so a label is never free text.
pub fn decision(action: &str) {
    let action = super::emf::action(action);
    counter!(DECISIONS, "action" => action.to_owned()).increment(1);
    super::emf::write(super::emf::decision(super::emf::stack().as_deref(), action));
}

/// A probe that found drift.
pub fn probe_drift(kind: Drift) {
    counter!(PROBE_DRIFT, "kind" => kind.as_str()).increment(1);
}

/// The sweep's lag: how late the oldest due delivery it took was, in milliseconds.
pub fn sweep_lag_ms(ms: i64) {
    #[allow(clippy::cast_precision_loss)]
    gauge!(SWEEP_LAG).set(ms.max(0) as f64 / 1000.0);
}

/// One HTTP request answered: `route` is the matched template ([`UNMATCHED_ROUTE`] for none).
pub fn http_request(route: &str, status: u16, took: Duration) {
    counter!(HTTP_REQUESTS, "route" => route.to_owned(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route.to_owned())
        .record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wecom::ErrCode;

    #[test]
    fn errcodes_are_zero_the_code_network_or_protocol() {
        let ok: Result<(), WeComError> = Ok(());
        assert_eq!(errcode_label(&ok), "0");
        let api: Result<(), _> = Err(WeComError::Api {
            code: ErrCode::from_response(60020, "not allow to access from your ip"),
            errmsg: "x".into(),
        });
        assert_eq!(errcode_label(&api), "60020");
        let net: Result<(), _> = Err(WeComError::Network("timeout".into()));
        assert_eq!(errcode_label(&net), "network");
        let proto: Result<(), _> = Err(WeComError::Protocol("not JSON".into()));
        assert_eq!(errcode_label(&proto), "protocol");
    }

    #[test]
    fn every_name_follows_the_conventions() {
        for name in [
            DELIVERIES,
            WECOM_CALLS,
            CALLBACK_VERIFICATIONS,
            DECISIONS,
            PROBE_DRIFT,
            HTTP_REQUESTS,
        ] {
            assert!(
                name.starts_with("wecom_notify_") && name.ends_with("_total"),
                "{name}"
            );
        }
        for name in [WECOM_CALL_SECONDS, SWEEP_LAG, HTTP_REQUEST_SECONDS] {
            assert!(
                name.starts_with("wecom_notify_") && name.ends_with("_seconds"),
                "{name}"
            );
        }
    }

    #[test]
    fn reasons_are_labelled_by_their_wire_names() {
        for r in [
            Reason::SubscriptionOff,
            Reason::UnknownMember,
            Reason::NoChannel,
            Reason::Paced,
            Reason::Retrying,
            Reason::NoMessage,
            Reason::ReceiverNotFound,
            Reason::ChannelMisconfigured,
            Reason::WecomError,
            Reason::WecomUnreachable,
            Reason::QuietHours,
            Reason::Decided,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
