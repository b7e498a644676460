//! The CloudWatch dashboard: its body is JSON once CloudFormation has substituted it, every
//! metric it draws is one that exists (the functions' own counts by the names the code writes,
//! Lambda's and SQS's for the resources of the template), every alarm is on it, and the output
//! opens it.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{FUNCTIONS, of_type, resources, template};

const PSEUDO: [&str; 5] = [
    "AWS::Region",
    "AWS::StackName",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::URLSuffix",
];

/// `Fn::Sub`'s string with each `${Name}` or `${Name.Attr}` replaced as CloudFormation would,
/// by a stand-in value: `<Name>` for a resource or parameter, `<Name.Attr>`, `<AWS::Region>`.
/// A name that is neither a resource, a parameter nor a pseudo parameter is an error (the stack
/// would not deploy).
fn substitute(t: &Value, s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        if let Some(literal) = after.strip_prefix('!') {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let end = after.find('}').ok_or("an unclosed ${ in Fn::Sub")?;
        let name = &after[..end];
        let logical = name.split('.').next().unwrap_or(name);
        if !(PSEUDO.contains(&name)
            || resources(t).contains_key(logical)
            || t["Parameters"].get(logical).is_some())
        {
            return Err(format!(
                "Fn::Sub names ${{{name}}}: no such resource, parameter or pseudo parameter"
            ));
        }
        out.push_str(&format!("<{name}>"));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn body(t: &Value) -> Value {
    let dashboards = of_type(t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let sub = dashboards[0].1["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is an Fn::Sub of a string");
    let text = substitute(t, sub).expect("every name resolves");
    serde_json::from_str(&text).expect("the substituted body is JSON")
}

/// A metric row of a metric widget: namespace, name and the dimensions' (name, value) pairs.
type Row = (String, String, Vec<(String, String)>);

/// Each metric row of the dashboard's metric widgets.
fn metric_rows(body: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for w in body["widgets"].as_array().expect("widgets") {
        if w["type"] != "metric" {
            continue;
        }
        for row in w["properties"]["metrics"].as_array().expect("metrics") {
            let parts: Vec<&str> = row
                .as_array()
                .expect("a metric row")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // No "." shorthand: every row names its namespace and metric in full.
            assert!(parts.len() >= 2 && !parts.contains(&"."), "{row}");
            let dims = parts[2..]
                .chunks(2)
                .map(|c| (c[0].to_owned(), c.get(1).expect("a value").to_string()))
                .collect();
            rows.push((parts[0].to_owned(), parts[1].to_owned(), dims));
        }
    }
    rows
}

#[test]
fn the_dashboard_draws_only_metrics_that_exist() {
    let t = template();
    let body = body(&t);
    let rows = metric_rows(&body);
    assert!(!rows.is_empty());
    for (namespace, name, dims) in &rows {
        match namespace.as_str() {
            ns if ns == shared::metrics::NAMESPACE => {
                assert!(
                    shared::metrics::COUNTS.contains(&name.as_str()),
                    "{name}: the functions write no such metric (shared::metrics::COUNTS)"
                );
                assert_eq!(
                    dims,
                    &[("Stack".to_owned(), "<AWS::StackName>".to_owned())],
                    "{name}: the dimension the functions write"
                );
            }
            "AWS/Lambda" => {
                assert!(["Errors", "Throttles", "Duration"].contains(&name.as_str()));
                assert_eq!(dims.len(), 1);
                assert_eq!(dims[0].0, "FunctionName");
                let f = dims[0].1.trim_matches(['<', '>']);
                assert!(FUNCTIONS.iter().any(|(l, _)| *l == f), "{name} of {f}");
            }
            "AWS/SQS" => {
                assert_eq!(name, "ApproximateNumberOfMessagesVisible");
                assert_eq!(
                    dims,
                    &[(
                        "QueueName".to_owned(),
                        "<DeadLetterQueue.QueueName>".to_owned()
                    )]
                );
            }
            other => panic!("a metric of namespace {other}: nothing writes it"),
        }
    }
    // Each count the functions write is drawn.
    for count in shared::metrics::COUNTS {
        assert!(
            rows.iter()
                .any(|(ns, n, _)| ns == shared::metrics::NAMESPACE && n == count),
            "{count} is not on the dashboard"
        );
    }
    // All four functions' errors, throttles and durations at p50 and p99.
    for (function, _) in FUNCTIONS {
        let value = format!("<{function}>");
        for metric in ["Errors", "Throttles", "Duration"] {
            assert!(
                rows.iter().any(|(_, n, d)| n == metric && d[0].1 == value),
                "{metric} of {function}"
            );
        }
    }
    let stats: BTreeSet<&str> = body["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .filter(|w| w.to_string().contains("\"Duration\""))
        .filter_map(|w| w["properties"]["stat"].as_str())
        .collect();
    assert_eq!(
        stats,
        BTreeSet::from(["p50", "p99"]),
        "duration percentiles"
    );
    // Every widget draws in the stack's region.
    for w in body["widgets"].as_array().expect("widgets") {
        if w["type"] == "metric" {
            assert_eq!(w["properties"]["region"], "<AWS::Region>", "{w}");
        }
    }
}

#[test]
fn every_alarm_is_on_the_dashboard_and_the_missing_figures_are_named() {
    let t = template();
    let body = body(&t);
    let widgets = body["widgets"].as_array().expect("widgets");
    let alarm_widgets: Vec<&Value> = widgets.iter().filter(|w| w["type"] == "alarm").collect();
    assert_eq!(alarm_widgets.len(), 1, "one alarm widget");
    let listed: BTreeSet<String> = alarm_widgets[0]["properties"]["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .map(|a| {
            let arn = a.as_str().expect("an ARN");
            let name = arn
                .strip_prefix(
                    "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:<",
                )
                .and_then(|n| n.strip_suffix('>'))
                .unwrap_or_else(|| panic!("{arn}: not the ARN of an alarm of this stack"));
            name.to_owned()
        })
        .collect();
    let alarms: BTreeSet<String> = of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, _)| name.clone())
        .collect();
    assert!(alarms.len() >= 9, "{alarms:?}");
    assert_eq!(
        listed, alarms,
        "the alarm widget lists exactly the template's alarms"
    );

    // Deliveries, failures, latency and decisions have no CloudWatch metric: the dashboard says
    // so and where they are, rather than drawing an empty graph.
    let text: String = widgets
        .iter()
        .filter(|w| w["type"] == "text")
        .map(|w| w["properties"]["markdown"].as_str().expect("markdown"))
        .collect();
    for words in [
        "deliveries by status",
        "failures by reason",
        "latency",
        "decisions",
        "Overview",
    ] {
        assert!(text.contains(words), "the note names {words}: {text}");
    }
}

#[test]
fn the_dashboard_url_output_opens_the_dashboard() {
    let t = template();
    let out = &t["Outputs"]["DashboardUrl"];
    assert!(out["Description"].as_str().is_some_and(|d| !d.is_empty()));
    let branches = out["Value"]["Fn::If"].as_array().expect("Fn::If");
    assert_eq!(branches[0], "InChina");
    for (branch, host) in [
        (&branches[1], "https://console.amazonaws.cn/"),
        (&branches[2], "https://console.aws.amazon.com/"),
    ] {
        let url = substitute(&t, branch["Fn::Sub"].as_str().expect("Fn::Sub")).expect("resolves");
        assert!(url.starts_with(host), "{url}");
        assert!(
            url.ends_with("/cloudwatch/home?region=<AWS::Region>#dashboards:name=<Dashboard>"),
            "{url}"
        );
    }
    assert_eq!(
        t["Conditions"]["InChina"],
        serde_json::json!({"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]})
    );
}

#[test]
fn a_name_fn_sub_cannot_resolve_is_caught() {
    let t = template();
    assert!(substitute(&t, "x ${NoSuchResource}").is_err());
    assert!(substitute(&t, "${DispatchFunction").is_err());
    assert_eq!(
        substitute(
            &t,
            "${!Literal} ${AWS::Region} ${DeadLetterQueue.QueueName}"
        ),
        Ok("${Literal} <AWS::Region> <DeadLetterQueue.QueueName>".to_owned())
    );
}
