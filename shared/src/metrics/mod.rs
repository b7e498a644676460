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
