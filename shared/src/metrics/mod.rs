//! Metrics, two ways.
//!
//! - [`count`]: counts that deserve an alarm, as CloudWatch metrics without an API call: in
//!   Lambda a line in the embedded metric format (EMF) on stdout becomes a metric of namespace
//!   [`NAMESPACE`], dimension `Stack`; elsewhere the count is only logged.
//! - [`prom`]: the Prometheus metrics of the local runner (docs/OPERATIONS.md, Metrics),
//!   recorded through the `metrics` facade. Without a recorder — in every Lambda function —
//!   each call is a no-op; the local runner installs the exporter when
//!   `WECOM_NOTIFY_METRICS_LISTEN` is set.

use serde_json::json;

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

/// Records `value` for the metric `name` (unit Count).
pub fn count(name: &str, value: usize) {
    match std::env::var("WECOM_NOTIFY_STACK") {
        Ok(stack) if !stack.is_empty() => println!("{}", emf_line(&stack, name, value)),
        _ => tracing::warn!(metric = name, value, "metric"),
    }
}

fn emf_line(stack: &str, name: &str, value: usize) -> serde_json::Value {
    json!({
        "_aws": {
            "Timestamp": crate::domain::unix_ms(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stack"]],
                "Metrics": [{ "Name": name, "Unit": "Count" }],
            }],
        },
        "Stack": stack,
        name: value,
    })
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
