//! What the functions are built and configured with, and what an operator gets: arm64 builds,
//! the whole configuration, retries with dead letters and alarms, outputs, a lease that outlasts
//! the timeout, parameters refused at deploy time that the functions would refuse at start.

use serde_json::{Value, json};

use super::{DECISION, FUNCTIONS, of_type, reference, resources, template};

#[test]
fn the_four_functions_are_arm64_rust_builds_of_the_workspace_binaries() {
    let t = template();
    let g = &t["Globals"]["Function"];
    assert_eq!(g["Runtime"], "provided.al2023");
    assert_eq!(g["Architectures"], serde_json::json!(["arm64"]));
    assert_eq!(g["Handler"], "bootstrap");
    let functions = of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 4);
    for (name, binary) in FUNCTIONS {
        let f = &resources(&t)[name];
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], binary, "{name}");
        assert_eq!(
            f["Properties"]["CodeUri"],
            format!("../functions/{binary}"),
            "{name} builds its own crate of the workspace"
        );
        let manifest = std::fs::read_to_string(format!(
            "{}/../functions/{binary}/Cargo.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("function crate");
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{binary} is a [[bin]]"
        );
    }
}

#[test]
fn every_function_gets_the_whole_configuration() {
    let t = template();
    let env = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .expect("env");
    for var in [
        "WECOM_API_BASE",
        "WECOM_NOTIFY_STORE",
        "WECOM_NOTIFY_TABLE",
        "WECOM_NOTIFY_SECRET_PREFIX",
        "WECOM_NOTIFY_EGRESS_IPS",
        "WECOM_NOTIFY_PUBLIC_URL",
        "WECOM_NOTIFY_KMS_KEY_ID",
        "WECOM_NOTIFY_DELIVERY_RETENTION_DAYS",
        "WECOM_NOTIFY_AUDIT_RETENTION_DAYS",
        "WECOM_NOTIFY_JWT_ISSUER",
        "WECOM_NOTIFY_CONSOLE_CLIENT_ID",
        "WECOM_NOTIFY_ACTIONS_BUS",
        "WECOM_NOTIFY_ACTIONS_SOURCE",
        "RUST_LOG",
    ] {
        assert!(env.contains_key(var), "{var} missing");
    }
    assert_eq!(
        env["WECOM_NOTIFY_AUDIT_RETENTION_DAYS"],
        reference("AuditRetentionDays")
    );
    // The console signs in where the authorizer checks tokens.
    assert_eq!(env["WECOM_NOTIFY_JWT_ISSUER"], reference("JwtIssuer"));
    assert_eq!(
        env["WECOM_NOTIFY_CONSOLE_CLIENT_ID"],
        reference("ConsoleClientId")
    );
    // Decisions go back to the bus the workflow events come from.
    assert_eq!(
        env["WECOM_NOTIFY_ACTIONS_BUS"],
        json!({"Fn::If": ["CreateBus", reference("WorkflowBus"), reference("EventBusName")]})
    );
    assert_eq!(
        env["WECOM_NOTIFY_ACTIONS_SOURCE"],
        reference("ActionSource")
    );
    assert_eq!(env["WECOM_NOTIFY_STORE"], "dynamodb");
    assert_eq!(env["WECOM_NOTIFY_TABLE"], reference("Table"));
    for (name, _) in FUNCTIONS {
        assert!(
            resources(&t)[name]["Properties"]
                .get("Environment")
                .is_none(),
            "{name} takes the global environment unchanged"
        );
    }
}

#[test]
fn events_have_retries_a_dead_letter_queue_and_alarms() {
    let t = template();
    let r = resources(&t);
    let d = &r["DispatchFunction"]["Properties"];
    let rule = &d["Events"]["WorkflowEvent"];
    assert_eq!(rule["Type"], "EventBridgeRule");
    let p = &rule["Properties"];
    assert_eq!(
        p["EventBusName"],
        serde_json::json!({"Fn::If": ["CreateBus", reference("WorkflowBus"), reference("EventBusName")]})
    );
    assert_eq!(
        p["Pattern"]["source"],
        serde_json::json!([reference("EventSource")])
    );
    assert_eq!(
        p["Pattern"]["detail-type"],
        serde_json::json!([reference("EventDetailType")])
    );
    assert!(p["RetryPolicy"]["MaximumRetryAttempts"].as_u64().is_some());
    assert!(
        p["DeadLetterConfig"]["Arn"]
            .to_string()
            .contains("DeadLetterQueue")
    );
    assert!(
        d["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
            .to_string()
            .contains("DeadLetterQueue")
    );
    assert_eq!(
        d["Events"]["Sweep"]["Properties"]["Schedule"],
        "rate(1 minute)"
    );
    // A member's decision, once on the bus, reaches dispatch, which answers its card: the
    // same bus, retries and dead letters as the workflow events.
    let decision = &d["Events"]["DecisionTaken"];
    assert_eq!(decision["Type"], "EventBridgeRule");
    let q = &decision["Properties"];
    assert_eq!(q["EventBusName"], p["EventBusName"]);
    assert_eq!(q["Pattern"]["source"], json!([reference("ActionSource")]));
    assert_eq!(q["Pattern"]["detail-type"], json!([DECISION]));
    assert_eq!(q["RetryPolicy"], p["RetryPolicy"]);
    assert_eq!(q["DeadLetterConfig"], p["DeadLetterConfig"]);

    let table = &r["Table"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        "expires_at"
    );
    let gsis = table["GlobalSecondaryIndexes"].as_array().expect("gsi");
    let indexes: Vec<&str> = gsis
        .iter()
        .map(|i| i["IndexName"].as_str().expect("name"))
        .collect();
    use shared::store::dynamo::schema::{
        BY_MEMBER_INDEX, BY_ORG_CHANNEL_INDEX, BY_ORG_INDEX, BY_TASK_INDEX, BY_USERID_INDEX,
        DUE_INDEX,
    };
    assert_eq!(
        indexes,
        [
            BY_ORG_INDEX,
            BY_MEMBER_INDEX,
            DUE_INDEX,
            BY_USERID_INDEX,
            BY_ORG_CHANNEL_INDEX,
            BY_TASK_INDEX
        ],
        "the indexes the code queries"
    );
    for i in gsis {
        // Keys only: an update that leaves an index's keys alone writes nothing to it.
        assert_eq!(i["Projection"]["ProjectionType"], "KEYS_ONLY", "{i}");
    }
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(env["WECOM_NOTIFY_SHARDS"], json!({"Ref": "DeliveryShards"}));
    assert_eq!(env["WECOM_NOTIFY_STACK"], json!({"Ref": "AWS::StackName"}));

    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let text: String = alarms.iter().map(|(_, a)| a.to_string()).collect();
    assert!(text.contains("ApproximateNumberOfMessagesVisible"));
    assert!(text.contains("Throttles"));
    assert!(
        alarms.iter().any(|(_, a)| a["Properties"]["MetricName"]
            == shared::metrics::UNREADABLE_DELIVERIES
            && a["Properties"]["Namespace"] == shared::metrics::NAMESPACE),
        "an alarm on records the sweep cannot read"
    );
    assert!(
        alarms.iter().any(
            |(_, a)| a["Properties"]["MetricName"] == shared::metrics::CHANNEL_DRIFT
                && a["Properties"]["Namespace"] == shared::metrics::NAMESPACE
                && a["Properties"]["Threshold"] == 0
        ),
        "an alarm on the first drift a probe finds"
    );
    let unfinished = &r["UnfinishedDecisionsAlarm"]["Properties"];
    assert_eq!(
        unfinished["MetricName"],
        shared::metrics::UNFINISHED_DECISIONS
    );
    assert_eq!(unfinished["Namespace"], shared::metrics::NAMESPACE);
    assert_eq!(
        unfinished["Dimensions"],
        json!([{"Name": "Stack", "Value": reference("AWS::StackName")}])
    );
    assert_eq!(unfinished["Threshold"], 0);
    assert_eq!(unfinished["ComparisonOperator"], "GreaterThanThreshold");
    for (name, _) in FUNCTIONS {
        assert!(
            alarms
                .iter()
                .any(|(_, a)| a["Properties"]["MetricName"] == "Errors"
                    && a.to_string().contains(name)),
            "errors alarm for {name}"
        );
    }
    for (_, a) in &alarms {
        assert!(
            a["Properties"]["AlarmActions"]
                .to_string()
                .contains("AlarmTopicArn")
        );
    }
}

#[test]
fn outputs_tell_the_operator_what_to_do() {
    let t = template();
    for o in [
        "ApiUrl",
        "ConsoleUrl",
        "CallbackBaseUrl",
        "EgressIps",
        "TableName",
        "DlqUrl",
        "DashboardUrl",
    ] {
        let out = &t["Outputs"][o];
        assert!(out["Value"] != Value::Null, "{o}");
        assert!(
            out["Description"].as_str().is_some_and(|d| !d.is_empty()),
            "{o}"
        );
    }
    assert!(
        t["Outputs"]["CallbackBaseUrl"]["Value"]
            .to_string()
            .contains("/v1/wecom/callback/")
    );
    assert!(
        t["Outputs"]["ConsoleUrl"]["Value"]
            .to_string()
            .contains("/console")
    );
}

/// A claim outlives the invocation that holds it: a sweep may take over only what a dead
/// invocation left, never what a slow live one is still sending.
#[test]
fn a_dispatch_lease_outlasts_the_dispatch_timeout() {
    let t = template();
    let timeout = resources(&t)["DispatchFunction"]["Properties"]["Timeout"]
        .as_u64()
        .expect("DispatchFunction has a Timeout");
    let lease = dispatch::Settings::default().lease.as_secs();
    assert!(
        lease > timeout,
        "lease {lease}s must be longer than the function timeout {timeout}s"
    );
}

/// An `ActionSource` the functions would refuse (shared::config) makes every function fail at
/// start, the callback's URL verification included: the stack refuses it at deploy time.
/// CloudFormation matches `AllowedPattern` against the whole value, and counts `MaxLength` in
/// characters (the functions count bytes: the pattern keeps to ASCII, where both agree).
#[test]
fn an_action_source_the_functions_refuse_is_refused_at_deploy_time() {
    let t = template();
    let p = &t["Parameters"]["ActionSource"];
    let pattern = p["AllowedPattern"]
        .as_str()
        .expect("ActionSource has an AllowedPattern");
    let told = p["ConstraintDescription"]
        .as_str()
        .expect("ActionSource says what it takes");
    assert!(told.contains("aws.") && told.contains("256"), "{told}");
    let whole = regex_lite::Regex::new(&format!("^(?:{pattern})$")).expect("a regex");
    let (min, max) = (
        p["MinLength"].as_u64().expect("MinLength"),
        p["MaxLength"].as_u64().expect("MaxLength"),
    );
    let deployable = |v: &str| {
        let n = v.chars().count() as u64;
        (min..=max).contains(&n) && whole.is_match(v)
    };
    let functions_take = |v: &str| {
        shared::config::Config::from_lookup(true, |k| match k {
            "WECOM_NOTIFY_ACTIONS_SOURCE" => Some(v.to_owned()),
            "WECOM_NOTIFY_TABLE" => Some("wecom-notify-Table-1".into()),
            _ => None,
        })
        .is_ok()
    };
    assert!(deployable(p["Default"].as_str().expect("Default")));
    let long = "x".repeat(256);
    for ok in [
        "wecom-notify",
        "com.example.wecom",
        "a",
        "aw",
        "aws",
        "awsx",
        "aws-events",
        "aws_events",
        "aw.s",
        "a.ws",
        "AWS.events",
        "my source/1",
        long.as_str(),
    ] {
        assert!(deployable(ok), "{ok:?} is refused at deploy time");
        assert!(functions_take(ok), "{ok:?}");
    }
    let too_long = "x".repeat(257);
    let wide = "通知".repeat(100);
    for bad in [
        "aws.events",
        "aws.",
        "aws.x",
        " aws.events",
        "\taws.events",
        "",
        too_long.as_str(),
        wide.as_str(),
    ] {
        assert!(!deployable(bad), "{bad:?} is deployable");
    }
    // Whatever the template lets through, the functions take.
    for v in [
        "aws.events",
        " aws.events",
        "aws. ",
        "aws .x",
        " x",
        "x ",
        wide.as_str(),
        too_long.as_str(),
        long.as_str(),
    ] {
        assert!(!deployable(v) || functions_take(v), "{v:?}");
    }
}
