//! Least privilege: each policy names its actions and scopes its resources, and only the
//! stack's own principals reach the workflow bus, dispatch and its dead letters.

use serde_json::{Value, json};

use super::{DECISION, FUNCTIONS, of_type, reference, resources, template};

fn statements(f: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for p in f["Properties"]["Policies"]
        .as_array()
        .expect("inline policies only")
    {
        for s in p["Statement"].as_array().expect("statements") {
            // Conditional statements: both branches count.
            if let Some(branches) = s.get("Fn::If") {
                for b in branches.as_array().expect("if").iter().skip(1) {
                    if b.get("Effect").is_some() {
                        out.push(b.clone());
                    }
                }
            } else {
                out.push(s.clone());
            }
        }
    }
    out
}

#[test]
fn policies_name_their_actions_and_scope_their_resources() {
    let t = template();
    for (name, _) in FUNCTIONS {
        let f = &resources(&t)[name];
        let stmts = statements(f);
        assert!(!stmts.is_empty(), "{name} has its own policy");
        for s in &stmts {
            let actions: Vec<String> = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().expect("action").to_owned())
                    .collect(),
                other => panic!("{name}: action {other}"),
            };
            for a in &actions {
                assert!(!a.contains('*'), "{name}: wildcard action {a}");
            }
            let resource = s["Resource"].to_string();
            assert!(
                resource != "\"*\"",
                "{name}: unscoped resource for {actions:?}"
            );
            let scoped = resource.contains("Table")
                || resource.contains("WorkflowBus")
                || resource.contains("${SecretPrefix}/*")
                || resource.contains("DeadLetterQueue")
                || resource.contains("KmsKeyArn");
            assert!(
                scoped,
                "{name}: {resource} is not one of the stack's resources"
            );
            if actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                assert!(
                    resource.contains(":secret:${SecretPrefix}/*"),
                    "{name}: {resource}"
                );
            }
        }
        let all: String = stmts.iter().map(|s| s["Action"].to_string()).collect();
        // Each index the function's code queries, and BatchGetItem where it reads what a
        // keys-only index found.
        use shared::store::dynamo::schema::{
            BY_MEMBER_INDEX, BY_ORG_CHANNEL_INDEX, BY_ORG_INDEX, BY_TASK_INDEX, BY_USERID_INDEX,
            DUE_INDEX,
        };
        let (indexes, batch_get): (&[&str], bool) = match name {
            "ChannelConfigFunction" => {
                (&[BY_ORG_INDEX, BY_MEMBER_INDEX, BY_ORG_CHANNEL_INDEX], true)
            }
            "DispatchFunction" => (&[DUE_INDEX], true),
            "TestSendFunction" => (&[BY_ORG_CHANNEL_INDEX], true),
            "CallbackFunction" => (&[BY_USERID_INDEX, BY_TASK_INDEX], false),
            _ => (&[], false),
        };
        let resources: String = stmts.iter().map(|s| s["Resource"].to_string()).collect();
        for index in indexes {
            assert!(
                resources.contains(&format!("${{Table.Arn}}/index/{index}\"")),
                "{name} may not query {index}: {resources}"
            );
        }
        assert_eq!(all.contains("dynamodb:BatchGetItem"), batch_get, "{name}");
        if name == "CallbackFunction" {
            // release_push deletes a claim so that WeCom's retry of a failed push is acted on.
            assert!(all.contains("dynamodb:DeleteItem"), "{name}: {all}");
        }
        // Only the callback and dispatch's sweep publish (members' decisions on cards), only on
        // the workflow bus (the created one, or the one named), and only decisions: the
        // ActionSource source, the "Workflow Action Taken" detail-type.
        let puts: Vec<&Value> = stmts
            .iter()
            .filter(|s| s["Action"].to_string().contains("events:"))
            .collect();
        if matches!(name, "CallbackFunction" | "DispatchFunction") {
            assert_eq!(puts.len(), 1, "{name}: {puts:?}");
            assert_eq!(puts[0]["Action"], json!(["events:PutEvents"]), "{name}");
            assert_eq!(
                puts[0]["Resource"],
                json!({"Fn::If": ["CreateBus", {"Fn::GetAtt": ["WorkflowBus", "Arn"]},
                    {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"}]}),
                "{name}"
            );
            assert_eq!(
                puts[0]["Condition"],
                json!({"StringEquals": {
                    "events:source": reference("ActionSource"),
                    "events:detail-type": DECISION
                }}),
                "{name} may put decisions only"
            );
        } else {
            assert!(puts.is_empty(), "{name} may not publish events: {puts:?}");
        }
        let writes_secrets = all.contains("secretsmanager:CreateSecret");
        assert_eq!(
            writes_secrets,
            name == "ChannelConfigFunction",
            "{name}: only channel-config writes secrets"
        );
    }
}

/// Whether one of the bus policy's Deny statements refuses `principal` putting an event of
/// `detail_type` (template expressions both: a function role's ARN or the EventPublisherArns
/// list; the EventDetailType parameter or a literal).
fn bus_denies(statements: &[&Value], principal: &Value, detail_type: &Value) -> bool {
    let holds = |op: &str, key: &str, values: &Value| -> bool {
        let values = match values {
            Value::Array(v) => v.clone(),
            one => vec![one.clone()],
        };
        match (op, key) {
            ("StringEquals", "events:detail-type") => values.contains(detail_type),
            ("StringNotEquals", "events:detail-type") => !values.contains(detail_type),
            ("ArnNotLike", "aws:PrincipalArn") => !values.contains(principal),
            other => panic!("a condition the test does not read: {other:?}"),
        }
    };
    statements.iter().any(|s| {
        assert_eq!(s["Effect"], "Deny", "{s}");
        s["Condition"]
            .as_object()
            .expect("a Deny with conditions")
            .iter()
            .all(|(op, keys)| {
                keys.as_object()
                    .expect("keys")
                    .iter()
                    .all(|(key, values)| holds(op, key, values))
            })
    })
}

/// Workflow events come from a dedicated bus (created unless one is named) whose policy can
/// name the only principals that may publish them; members' decisions, only the callback and
/// dispatch; the dead-letter queue takes messages from this stack's rules only.
#[test]
fn only_the_stacks_rule_reaches_dispatch_and_its_dead_letters() {
    let t = template();
    assert_eq!(t["Parameters"]["EventBusName"]["Default"], "");
    let bus = &resources(&t)["WorkflowBus"];
    assert_eq!(bus["Type"], "AWS::Events::EventBus");
    assert_eq!(bus["Condition"], "CreateBus");
    let policies = of_type(&t, "AWS::Events::EventBusPolicy");
    let mut ids = Vec::new();
    for (name, p) in &policies {
        let props = &p["Properties"];
        assert_eq!(props["EventBusName"], reference("WorkflowBus"), "{name}");
        let s = &props["Statement"];
        assert_eq!(s["Action"], "events:PutEvents", "{name}");
        assert_eq!(s["Principal"], "*", "{name}");
        assert_eq!(
            s["Resource"],
            json!({"Fn::GetAtt": ["WorkflowBus", "Arn"]}),
            "{name}"
        );
        ids.push(props["StatementId"].as_str().expect("StatementId"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), policies.len(), "one statement id each: {ids:?}");
    // Every statement, as when named publishers restrict the bus; and the decisions' alone,
    // as on a created bus without them.
    let all: Vec<&Value> = policies
        .iter()
        .map(|(_, p)| &p["Properties"]["Statement"])
        .collect();
    let unnamed: Vec<&Value> = policies
        .iter()
        .filter(|(_, p)| p["Condition"] == "CreateBus")
        .map(|(_, p)| &p["Properties"]["Statement"])
        .collect();
    for (_, p) in &policies {
        assert!(
            p["Condition"] == "CreateBus" || p["Condition"] == "RestrictPublishers",
            "{p}"
        );
    }
    let publishers = reference("EventPublisherArns");
    let callback = json!({"Fn::GetAtt": ["CallbackFunctionRole", "Arn"]});
    let dispatch = json!({"Fn::GetAtt": ["DispatchFunctionRole", "Arn"]});
    let someone = json!("arn:aws:iam::123456789012:role/someone-else");
    let node = reference("EventDetailType");
    let decision = json!(DECISION);
    let other = json!("Workflow Completed");
    for (principal, detail_type, denied) in [
        (&publishers, &node, false),
        (&callback, &node, true),
        (&dispatch, &node, true),
        (&someone, &node, true),
        (&callback, &decision, false),
        (&dispatch, &decision, false),
        (&publishers, &decision, true),
        (&someone, &decision, true),
        (&publishers, &other, false),
        (&callback, &other, true),
        (&someone, &other, true),
    ] {
        assert_eq!(
            bus_denies(&all, principal, detail_type),
            denied,
            "{principal} putting {detail_type}"
        );
    }
    // Without named publishers, decisions are still the callback's and dispatch's only.
    for (principal, denied) in [
        (&callback, false),
        (&dispatch, false),
        (&publishers, true),
        (&someone, true),
    ] {
        assert_eq!(
            bus_denies(&unnamed, principal, &decision),
            denied,
            "{principal} putting {decision} on a bus without named publishers"
        );
    }

    let events = &resources(&t)["DispatchFunction"]["Properties"]["Events"];
    for rule in ["WorkflowEvent", "DecisionTaken"] {
        assert!(
            events[rule]["Properties"]["EventBusName"]
                .to_string()
                .contains("WorkflowBus"),
            "{rule}"
        );
    }
    let dlq = &resources(&t)["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let source = dlq[0]["Condition"].to_string();
    assert!(
        source.contains("DispatchFunctionWorkflowEvent")
            && source.contains("DispatchFunctionDecisionTaken")
            && !source.contains("rule/*"),
        "the queue takes this stack's rules only: {source}"
    );
}
