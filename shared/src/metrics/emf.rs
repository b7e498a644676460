//! CloudWatch metrics as embedded metric format (EMF) lines: a JSON object on stdout that
//! CloudWatch Logs turns into metric values of namespace [`NAMESPACE`], without an API call.
//! Written only in Lambda, where `WECOM_NOTIFY_STACK` names the stack (the template sets it):
//! elsewhere [`stack`] is `None`, and each builder below then makes no line.
//!
//! One line carries one value per metric for one set of dimension values (a dimension is a
//! member of the line, so it holds one value): a batch's deliveries are one line per distinct
//! status and one per distinct failure reason, not one line per delivery.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{DECISIONS, DELIVERIES, FAILURES, NAMESPACE, WECOM_CALL_DURATION};
use crate::workflow::{ActionKey, PublicStatus, Reason};

/// The dimension every metric has: the stack's name.
pub const STACK: &str = "Stack";
/// The dimension of [`DELIVERIES`].
pub const STATUS: &str = "Status";
/// The dimension of [`FAILURES`].
pub const REASON: &str = "Reason";
/// The dimension of [`DECISIONS`].
pub const ACTION: &str = "Action";

/// The `Reason` of a failed delivery that has none: a dimension value cannot be empty, and the
/// console's Overview calls such a failure `unknown` too.
pub const NO_REASON: &str = "unknown";
/// The `Action` of a decision whose key is not an action key. Keys are checked where
/// subscriptions and events are accepted, so this is a net: whatever reaches here, a dimension
/// value stays short ASCII and never free text.
pub const OTHER_ACTION: &str = "_other";

/// The stack's name when running in Lambda (`WECOM_NOTIFY_STACK`, non-empty).
pub fn stack() -> Option<String> {
    named(std::env::var("WECOM_NOTIFY_STACK").ok())
}

/// An empty name is no stack: a dimension value cannot be empty.
fn named(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// Writes each line on stdout, where Lambda hands it to CloudWatch Logs.
pub fn write(lines: impl IntoIterator<Item = Value>) {
    for l in lines {
        println!("{l}");
    }
}

/// One line: `metric` = `value` in `unit`, dimensions `Stack` and `dimension` if any.
pub fn line(
    stack: &str,
    metric: &str,
    unit: &str,
    dimension: Option<(&str, &str)>,
    value: Value,
) -> Value {
    let mut dimensions = vec![STACK];
    let mut l = json!({
        "_aws": { "Timestamp": crate::domain::unix_ms() },
        STACK: stack,
        metric: value,
    });
    if let Some((name, v)) = dimension {
        dimensions.push(name);
        l[name] = json!(v);
    }
    l["_aws"]["CloudWatchMetrics"] = json!([{
        "Namespace": NAMESPACE,
        "Dimensions": [dimensions],
        "Metrics": [{ "Name": metric, "Unit": unit }],
    }]);
    l
}

/// A batch of settled deliveries: [`DELIVERIES`] by status, and [`FAILURES`] by reason for
/// the failed ones. Nothing for an empty batch, or outside Lambda.
pub fn deliveries(stack: Option<&str>, settled: &[(PublicStatus, Option<Reason>)]) -> Vec<Value> {
    let Some(stack) = stack else {
        return Vec::new();
    };
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for (status, reason) in settled {
        *by_status.entry(status.as_str()).or_default() += 1;
        if *status == PublicStatus::Failed {
            *by_reason
                .entry(reason.map_or(NO_REASON, Reason::as_str))
                .or_default() += 1;
        }
    }
    let count =
        |metric, dim, (v, n): (&str, usize)| line(stack, metric, "Count", Some((dim, v)), json!(n));
    by_status
        .into_iter()
        .map(|s| count(DELIVERIES, STATUS, s))
        .chain(by_reason.into_iter().map(|r| count(FAILURES, REASON, r)))
        .collect()
}

/// The `Action` dimension of a decision: its key when it is an action key (1–32 of
/// `[A-Za-z0-9_-]`, ASCII as a dimension value must be), else [`OTHER_ACTION`]. Each distinct
/// value is a metric of its own, billed monthly: the keys come from the org's buttons, so
/// their number is what the orgs configure.
pub fn action(key: &str) -> &str {
    if ActionKey::parse(key).is_ok() {
        key
    } else {
        OTHER_ACTION
    }
}

/// One decision: [`DECISIONS`] by action; nothing outside Lambda.
pub fn decision(stack: Option<&str>, key: &str) -> Option<Value> {
    Some(line(
        stack?,
        DECISIONS,
        "Count",
        Some((ACTION, action(key))),
        json!(1),
    ))
}

/// One call to WeCom's API: [`WECOM_CALL_DURATION`] in milliseconds, by stack only (the
/// path would multiply the metrics for a figure the dashboard draws as one); nothing outside
/// Lambda.
pub fn wecom_call(stack: Option<&str>, took: std::time::Duration) -> Option<Value> {
    Some(line(
        stack?,
        WECOM_CALL_DURATION,
        "Milliseconds",
        None,
        json!(took.as_secs_f64() * 1000.0),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The (metric, unit, dimension set) of a line's one directive, checked against the
    /// members the line carries: each dimension named is a string member, the metric a number.
    fn directive(l: &Value) -> (String, String, Vec<String>) {
        let d = &l["_aws"]["CloudWatchMetrics"];
        assert_eq!(d.as_array().map(Vec::len), Some(1), "{l}");
        let d = &d[0];
        assert_eq!(d["Namespace"], NAMESPACE);
        assert_eq!(d["Dimensions"].as_array().map(Vec::len), Some(1), "{l}");
        let dims: Vec<String> = d["Dimensions"][0]
            .as_array()
            .expect("a dimension set")
            .iter()
            .map(|n| n.as_str().expect("a name").to_owned())
            .collect();
        for name in &dims {
            let v = l[name].as_str().unwrap_or_else(|| panic!("{name} in {l}"));
            assert!(!v.is_empty() && v.is_ascii(), "{name}={v:?}");
        }
        let name = d["Metrics"][0]["Name"].as_str().expect("a name").to_owned();
        assert!(l[&name].is_number(), "{l}");
        assert!(l["_aws"]["Timestamp"].as_i64().is_some_and(|t| t > 0));
        let unit = d["Metrics"][0]["Unit"].as_str().expect("a unit").to_owned();
        (name, unit, dims)
    }

    #[test]
    fn a_batch_is_one_line_per_status_and_per_failure_reason() {
        use PublicStatus::*;
        let settled = [
            (Delivered, None),
            (Failed, Some(Reason::ReceiverNotFound)),
            (Delivered, None),
            (Delayed, Some(Reason::Paced)),
            (Failed, Some(Reason::ReceiverNotFound)),
            (Failed, Some(Reason::WecomError)),
            (Skipped, Some(Reason::SubscriptionOff)),
            (Failed, None),
        ];
        let lines = deliveries(Some("prod"), &settled);
        let mut seen = Vec::new();
        for l in &lines {
            let (metric, unit, dims) = directive(l);
            assert_eq!(unit, "Count");
            assert_eq!(l[STACK], "prod");
            let dim = &dims[1];
            assert_eq!(dims, [STACK, dim.as_str()]);
            seen.push((
                metric.clone(),
                l[dim].as_str().unwrap().to_owned(),
                l[&metric].as_u64().unwrap(),
            ));
        }
        let s = |m: &str, v: &str, n| (m.to_owned(), v.to_owned(), n);
        assert_eq!(
            seen,
            [
                s(DELIVERIES, "delayed", 1),
                s(DELIVERIES, "delivered", 2),
                s(DELIVERIES, "failed", 4),
                s(DELIVERIES, "skipped", 1),
                s(FAILURES, "receiver_not_found", 2),
                s(FAILURES, NO_REASON, 1),
                s(FAILURES, "wecom_error", 1),
            ]
        );
        // Which dimension each metric has.
        for l in &lines {
            let (metric, _, dims) = directive(l);
            let expected = if metric == DELIVERIES { STATUS } else { REASON };
            assert_eq!(dims[1], expected, "{l}");
        }
    }

    #[test]
    fn an_empty_batch_writes_nothing() {
        assert!(deliveries(Some("prod"), &[]).is_empty());
    }

    #[test]
    fn a_decision_is_counted_by_its_key_and_nothing_else() {
        let l = decision(Some("prod"), "approve").unwrap();
        let (metric, unit, dims) = directive(&l);
        assert_eq!((metric.as_str(), unit.as_str()), (DECISIONS, "Count"));
        assert_eq!(dims, [STACK, ACTION]);
        assert_eq!((&l[ACTION], &l[DECISIONS]), (&json!("approve"), &json!(1)));
        // The line holds the stack, the key, the count and the directive: no member, userid
        // or callback id could ride along.
        let members: Vec<&String> = l.as_object().unwrap().keys().collect();
        assert_eq!(members, ["Action", "Decisions", "Stack", "_aws"]);
    }

    #[test]
    fn a_key_that_is_no_action_key_is_not_a_dimension_value() {
        for bad in ["", "审批", "a b", &"k".repeat(33), "x\ny"] {
            assert_eq!(action(bad), OTHER_ACTION, "{bad:?}");
            assert_eq!(decision(Some("prod"), bad).unwrap()[ACTION], OTHER_ACTION);
        }
        assert_eq!(action(&"k".repeat(32)), "k".repeat(32));
        assert_eq!(action("re-open_2"), "re-open_2");
    }

    #[test]
    fn a_wecom_call_is_its_duration_in_milliseconds_by_stack_only() {
        let l = wecom_call(Some("prod"), Duration::from_micros(123_500)).unwrap();
        let (metric, unit, dims) = directive(&l);
        assert_eq!(metric, WECOM_CALL_DURATION);
        assert_eq!(unit, "Milliseconds");
        assert_eq!(dims, [STACK]);
        assert!((l[WECOM_CALL_DURATION].as_f64().unwrap() - 123.5).abs() < 1e-9);
    }

    #[test]
    fn outside_lambda_nothing_is_written() {
        let settled = [(PublicStatus::Failed, Some(Reason::WecomError))];
        assert!(deliveries(None, &settled).is_empty());
        assert_eq!(decision(None, "approve"), None);
        assert_eq!(wecom_call(None, Duration::from_millis(5)), None);
        assert_eq!(named(None), None);
        assert_eq!(
            named(Some(String::new())),
            None,
            "an empty name is no stack"
        );
        assert_eq!(named(Some("prod".into())).as_deref(), Some("prod"));
    }
}
