//! The CloudWatch dashboard: its body is JSON once CloudFormation has substituted it, every
//! metric it draws is one that exists (the functions' own metrics by the names and dimensions
//! the code writes, in plain rows or SEARCH expressions; Lambda's and SQS's for the resources
//! of the template), every metric the functions write is drawn, every alarm is on it, and the
//! output opens it.

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

/// Each metric row of the dashboard's metric widgets; an expression row (a lone object with
/// an `expression`) is left to [`searches`].
fn metric_rows(body: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for w in body["widgets"].as_array().expect("widgets") {
        if w["type"] != "metric" {
            continue;
        }
        for row in w["properties"]["metrics"].as_array().expect("metrics") {
            let row = row.as_array().expect("a metric row");
            if row.len() == 1 && row[0].get("expression").is_some() {
                continue;
            }
            let parts: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
            // No "." shorthand: every row names its namespace and metric in full.
            assert!(parts.len() >= 2 && !parts.contains(&"."), "{row:?}");
            let dims = parts[2..]
                .chunks(2)
                .map(|c| (c[0].to_owned(), c.get(1).expect("a value").to_string()))
                .collect();
            rows.push((parts[0].to_owned(), parts[1].to_owned(), dims));
        }
    }
    rows
}

/// A SEARCH expression, taken apart: `SEARCH('{Namespace,Dim,...} Key="value" ...',
/// 'Statistic', period)`.
#[derive(Debug, PartialEq)]
struct Search {
    namespace: String,
    /// The schema's dimension names: a metric matches only with exactly these.
    dimensions: Vec<String>,
    /// The terms, each an exact match (`Key="value"`); a bare word would match partially
    /// (`Deliveries` also finds `UnreadableDeliveries`), so it is refused.
    terms: Vec<(String, String)>,
    stat: String,
    period: u64,
}

fn parse_search(e: &str) -> Result<Search, String> {
    let inner = e
        .strip_prefix("SEARCH('")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or(format!("not SEARCH('...', ...): {e}"))?;
    let (query, rest) = inner.split_once("', '").ok_or("no statistic")?;
    let (stat, period) = rest.split_once("', ").ok_or("no period")?;
    let period = period.parse().map_err(|_| format!("period {period:?}"))?;
    let query = query.trim();
    let schema = query
        .strip_prefix('{')
        .and_then(|q| q.split_once('}'))
        .ok_or("no {schema}")?;
    let mut names = schema.0.split(',').map(|n| n.trim().to_owned());
    let namespace = names.next().ok_or("no namespace")?;
    let mut terms = Vec::new();
    for term in schema.1.split_whitespace() {
        let (k, v) = term
            .split_once('=')
            .ok_or(format!("{term}: not Key=\"value\""))?;
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or(format!("{term}: a partial match"))?;
        terms.push((k.to_owned(), v.to_owned()));
    }
    Ok(Search {
        namespace,
        dimensions: names.collect(),
        terms,
        stat: stat.to_owned(),
        period,
    })
}

/// Each SEARCH of the dashboard, with its row's label and its widget.
fn searches(body: &Value) -> Vec<(Search, String, &Value)> {
    let mut out = Vec::new();
    for w in body["widgets"].as_array().expect("widgets") {
        if w["type"] != "metric" {
            continue;
        }
        for row in w["properties"]["metrics"].as_array().expect("metrics") {
            let Some(e) = row[0]["expression"].as_str() else {
                continue;
            };
            let search = parse_search(e).unwrap_or_else(|err| panic!("{e}: {err}"));
            let label = row[0]["label"].as_str().unwrap_or_default().to_owned();
            out.push((search, label, w));
        }
    }
    out
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
                    shared::metrics::COUNTS.contains(&name.as_str())
                        || shared::metrics::DURATIONS.contains(&name.as_str()),
                    "{name}: the functions write no such metric with the Stack dimension alone \
                     (shared::metrics::COUNTS, DURATIONS)"
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
    // Each count and duration the functions write is drawn; each duration at p50 and p99.
    for count in shared::metrics::COUNTS {
        assert!(
            rows.iter()
                .any(|(ns, n, _)| ns == shared::metrics::NAMESPACE && n == count),
            "{count} is not on the dashboard"
        );
    }
    for duration in shared::metrics::DURATIONS {
        let drawn: BTreeSet<&str> = body["widgets"]
            .as_array()
            .expect("widgets")
            .iter()
            .flat_map(|w| w["properties"]["metrics"].as_array().into_iter().flatten())
            .filter(|row| row[1] == duration)
            .filter_map(|row| row.as_array()?.last()?["stat"].as_str())
            .collect();
        assert_eq!(drawn, BTreeSet::from(["p50", "p99"]), "{duration}");
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
fn every_alarm_is_on_the_dashboard() {
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

    // The text says where the per-org figures are, and no longer that any are missing.
    let text: String = widgets
        .iter()
        .filter(|w| w["type"] == "text")
        .map(|w| w["properties"]["markdown"].as_str().expect("markdown"))
        .collect();
    assert!(text.contains("Overview"), "{text}");
    assert!(!text.contains("no CloudWatch metric"), "{text}");
}

#[test]
fn the_searches_draw_exactly_the_dimensioned_metrics_the_functions_write() {
    let t = template();
    let body = body(&t);
    let found = searches(&body);
    let mut drawn = BTreeSet::new();
    for (search, label, widget) in &found {
        assert_eq!(search.namespace, shared::metrics::NAMESPACE, "{search:?}");
        let [stack, dimension] = search.dimensions.as_slice() else {
            panic!("{search:?}: the schema is Stack and one dimension");
        };
        assert_eq!(stack, shared::metrics::emf::STACK);
        let metric = search
            .terms
            .iter()
            .find(|(k, _)| k == "MetricName")
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{search:?}: no MetricName"));
        assert!(
            shared::metrics::DIMENSIONED.contains(&(metric, dimension.as_str())),
            "{metric} by {dimension}: the functions write no such metric (DIMENSIONED)"
        );
        // This stack's metrics only, by exact name.
        assert!(
            search
                .terms
                .contains(&("Stack".to_owned(), "<AWS::StackName>".to_owned())),
            "{search:?}"
        );
        assert_eq!(search.terms.len(), 2, "{search:?}");
        // Counts per hour, stacked, each series named by its dimension's value.
        assert_eq!((search.stat.as_str(), search.period), ("Sum", 3600));
        assert_eq!(widget["properties"]["stacked"], true, "{widget}");
        assert_eq!(label, &format!("${{PROP('Dim.{dimension}')}}"));
        assert_eq!(widget["properties"]["region"], "<AWS::Region>");
        drawn.insert((metric.to_owned(), dimension.clone()));
    }
    let written: BTreeSet<(String, String)> = shared::metrics::DIMENSIONED
        .iter()
        .map(|(m, d)| ((*m).to_owned(), (*d).to_owned()))
        .collect();
    assert_eq!(drawn, written, "each dimensioned metric is drawn once");
    assert_eq!(found.len(), written.len());
}

#[test]
fn a_search_that_would_match_more_than_it_names_is_refused() {
    let ok = parse_search(
        "SEARCH('{WecomNotify,Stack,Status} MetricName=\"Deliveries\" Stack=\"s\"', 'Sum', 3600)",
    )
    .expect("parses");
    assert_eq!(
        ok,
        Search {
            namespace: "WecomNotify".into(),
            dimensions: vec!["Stack".into(), "Status".into()],
            terms: vec![
                ("MetricName".into(), "Deliveries".into()),
                ("Stack".into(), "s".into())
            ],
            stat: "Sum".into(),
            period: 3600,
        }
    );
    for bad in [
        "SEARCH('{WecomNotify,Stack,Status} Deliveries', 'Sum', 3600)",
        "SEARCH('{WecomNotify,Stack,Status} MetricName=Deliveries', 'Sum', 3600)",
        "SEARCH('WecomNotify Deliveries', 'Sum', 3600)",
        "SEARCH('{WecomNotify,Stack}', 'Sum')",
        "METRICS()",
    ] {
        assert!(parse_search(bad).is_err(), "{bad}");
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
