//! Metrics, two sinks: CloudWatch in Lambda, Prometheus in the local runner.
//!
//! - [`count`]: counts that deserve an alarm, as CloudWatch metrics without an API call: in
//!   Lambda a line in the embedded metric format (EMF, [`emf`]) on stdout becomes a metric of
//!   namespace [`NAMESPACE`], dimension `Stack`; elsewhere the count is only logged.
//! - [`prom`]: the recording calls of the figures both hosts have (deliveries, WeCom calls,
//!   decisions, …). Each feeds the Prometheus metrics of the local runner (docs/OPERATIONS.md,
//!   Metrics) through the `metrics` facade — a no-op without a recorder, as in every Lambda
//!   function — and, for the figures the dashboard draws, writes EMF lines when in Lambda
//!   ([`DIMENSIONED`], [`DURATIONS`]). One call site per figure feeds both hosts.

pub mod emf;
pub mod prom;

pub const NAMESPACE: &str = "WecomNotify";

/// Delivery records the sweep skipped because it cannot decode them.
pub const UNREADABLE_DELIVERIES: &str = "UnreadableDeliveries";
/// Channels a credential probe found drifted.
pub const CHANNEL_DRIFT: &str = "ChannelDrift";
/// Members' decisions still unfinished ten minutes after the click.
pub const UNFINISHED_DECISIONS: &str = "UnfinishedDecisions";
/// Every metric [`count`] is called with: the template's alarms and dashboard use these names
/// (`tests/e2e/template` checks).
pub const COUNTS: [&str; 3] = [UNREADABLE_DELIVERIES, CHANNEL_DRIFT, UNFINISHED_DECISIONS];

/// Deliveries settled by a dispatch or a sweep (Count), by `Status`: the public status
/// (`delivered`, `delayed`, `held`, `failed`, `skipped`, `duplicate`).
pub const DELIVERIES: &str = "Deliveries";
/// Failed deliveries (Count), by `Reason`: the delivery's reason (`receiver_not_found`,
/// `wecom_error`, …; `unknown` if none).
pub const FAILURES: &str = "Failures";
/// Members' decisions on cards when first recorded (Count), by `Action`: the button's key.
pub const DECISIONS: &str = "Decisions";
/// How long each HTTP call to WeCom's API took (Milliseconds), retries each on their own.
pub const WECOM_CALL_DURATION: &str = "WeComCallDuration";

/// The metrics written with a second dimension beside `Stack`: (metric, dimension). Each
/// distinct value of the dimension is a CloudWatch metric of its own (billed per month), so
/// the values come from closed sets or, for actions, the org's button keys; never a secret,
/// member, userid or callback id. The dashboard draws them with SEARCH expressions
/// (`tests/e2e/template` checks).
pub const DIMENSIONED: [(&str, &str); 3] = [
    (DELIVERIES, emf::STATUS),
    (FAILURES, emf::REASON),
    (DECISIONS, emf::ACTION),
];
/// The durations written (Milliseconds, dimension `Stack` only).
pub const DURATIONS: [&str; 1] = [WECOM_CALL_DURATION];

/// Records `value` for the metric `name` (unit Count).
pub fn count(name: &str, value: usize) {
    match emf::stack() {
        Some(stack) => emf::write([emf_line(&stack, name, value)]),
        None => tracing::warn!(metric = name, value, "metric"),
    }
}

fn emf_line(stack: &str, name: &str, value: usize) -> serde_json::Value {
    emf::line(stack, name, "Count", None, value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_its_metric_dimension_and_value() {
        let line = emf_line("prod", "UnreadableDeliveries", 3);
        assert_eq!(line["UnreadableDeliveries"], 3);
        assert_eq!(line["Stack"], "prod");
        let m = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], NAMESPACE);
        assert_eq!(m["Dimensions"][0][0], "Stack");
        assert_eq!(m["Metrics"][0]["Name"], "UnreadableDeliveries");
    }
}
