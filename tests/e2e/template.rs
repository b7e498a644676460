//! The SAM template's invariants: fixed egress for the functions that call WeCom, public
//! callback routes, authorised admin routes, least-privilege policies, complete configuration.

use serde_json::{Value, json};

pub(crate) fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).expect("the template is YAML without tags");
    serde_json::to_value(yaml).expect("as JSON")
}

pub(crate) fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .collect()
}

fn reference(name: &str) -> Value {
    serde_json::json!({ "Ref": name })
}

/// One HttpApi route of the template.
pub(crate) struct Route {
    pub method: String,
    pub path: String,
    pub function: &'static str,
    /// Not behind the JWT authorizer.
    pub public: bool,
    pub api: Value,
}

/// Every HttpApi event of the four functions: the deployed route table.
pub(crate) fn http_routes(t: &Value) -> Vec<Route> {
    let mut routes = Vec::new();
    for (function, _) in FUNCTIONS {
        let events = resources(t)[function]["Properties"]["Events"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (_, e) in events {
            if e["Type"] != "HttpApi" {
                continue;
            }
            let p = &e["Properties"];
            routes.push(Route {
                method: p["Method"].as_str().expect("method").to_owned(),
                path: p["Path"].as_str().expect("path").to_owned(),
                function,
                public: p["Auth"]["Authorizer"] == "NONE",
                api: p["ApiId"].clone(),
            });
        }
    }
    routes
}

pub(crate) const FUNCTIONS: [(&str, &str); 4] = [
    ("CallbackFunction", "callback"),
    ("ChannelConfigFunction", "channel-config"),
    ("TestSendFunction", "test-send"),
    ("DispatchFunction", "dispatch"),
];

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

/// What marks code that calls WeCom's API: the client, the app it signs in as, the card update.
const WECOM_API: [&str; 3] = ["WeComClient", "WeComApp", "update_card_buttons"];

/// The Rust source under `dir`, every file of it.
fn rust_sources(dir: &std::path::Path) -> String {
    let mut code = String::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            code.push_str(&rust_sources(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            code.push_str(&std::fs::read_to_string(&path).expect("source"));
        }
    }
    code
}

/// The source directory of a template function's crate, by its CodeUri.
fn function_sources(f: &Value) -> std::path::PathBuf {
    let uri = f["Properties"]["CodeUri"].as_str().expect("CodeUri");
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra")
        .join(uri)
        .join("src")
}

/// WeCom answers API calls only from the app's Trusted IPs, the NAT's Elastic IPs: every
/// function whose code calls WeCom's API is in the VPC. The callback calls none (a member's
/// decision is recorded and published there, and dispatch answers the card), so it may stay
/// outside, for a fast cold start on WeCom's pushes.
#[test]
fn every_function_that_calls_wecoms_api_is_in_the_vpc() {
    let t = template();
    let functions = of_type(&t, "AWS::Serverless::Function");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut callers = Vec::new();
    for entry in std::fs::read_dir(dir).expect("functions/") {
        let entry = entry.expect("dir entry");
        let crate_dir = entry.file_name().into_string().expect("utf-8 name");
        let code = rust_sources(&entry.path().join("src"));
        if !WECOM_API.iter().any(|n| code.contains(n)) {
            continue;
        }
        // The crate's function in the template (functions/local, the local runner, has none).
        let Some((name, f)) = functions
            .iter()
            .find(|(_, f)| f["Properties"]["CodeUri"] == format!("../functions/{crate_dir}"))
        else {
            continue;
        };
        let vpc = &f["Properties"]["VpcConfig"];
        assert!(
            vpc.is_object(),
            "{name} calls WeCom's API ({crate_dir}) but is not in the VPC"
        );
        assert_eq!(
            vpc["SubnetIds"]["Fn::If"][1],
            json!([reference("PrivateSubnet1"), reference("PrivateSubnet2")]),
            "{name}"
        );
        assert_eq!(
            vpc["SubnetIds"]["Fn::If"][2],
            reference("ExistingPrivateSubnetIds"),
            "{name}"
        );
        callers.push(name.as_str());
    }
    callers.sort_unstable();
    assert!(
        callers.contains(&"DispatchFunction") && callers.contains(&"TestSendFunction"),
        "the scan finds the functions known to call WeCom: {callers:?}"
    );
    let callback = rust_sources(&function_sources(&resources(&t)["CallbackFunction"]));
    for name in WECOM_API {
        assert!(
            !callback.contains(name),
            "the callback calls WeCom's API ({name}): outside the VPC, WeCom refuses it"
        );
    }
}

#[test]
fn private_subnets_route_to_the_internet_through_a_nat_with_an_elastic_ip() {
    let t = template();
    let r = resources(&t);
    assert_eq!(r["NatEip1"]["Type"], "AWS::EC2::EIP");
    assert_eq!(r["NatGateway1"]["Type"], "AWS::EC2::NatGateway");
    assert_eq!(
        r["NatGateway1"]["Properties"]["AllocationId"],
        serde_json::json!({"Fn::GetAtt": ["NatEip1", "AllocationId"]})
    );
    assert_eq!(
        r["NatGateway1"]["Properties"]["SubnetId"],
        reference("PublicSubnet1")
    );
    assert_eq!(
        r["NatGateway2"]["Properties"]["AllocationId"],
        serde_json::json!({"Fn::GetAtt": ["NatEip2", "AllocationId"]})
    );
    assert_eq!(r["NatGateway2"]["Condition"], "TwoNats");
    assert_eq!(
        r["PublicDefaultRoute"]["Properties"]["GatewayId"],
        reference("InternetGateway")
    );
    for (route, table, subnet) in [
        (
            "PrivateDefaultRoute1",
            "PrivateRouteTable1",
            "PrivateSubnet1",
        ),
        (
            "PrivateDefaultRoute2",
            "PrivateRouteTable2",
            "PrivateSubnet2",
        ),
    ] {
        let p = &r[route]["Properties"];
        assert_eq!(p["DestinationCidrBlock"], "0.0.0.0/0");
        assert_eq!(p["RouteTableId"], reference(table));
        let nat = p["NatGatewayId"].to_string();
        assert!(
            nat.contains("NatGateway1"),
            "{route} goes through a NAT: {nat}"
        );
        assert!(
            p.get("GatewayId").is_none(),
            "{route} must not go to the internet gateway"
        );
        let assoc = r
            .values()
            .find(|x| {
                x["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
                    && x["Properties"]["SubnetId"] == reference(subnet)
            })
            .expect("association");
        assert_eq!(assoc["Properties"]["RouteTableId"], reference(table));
    }
    assert_eq!(
        r["DynamoDbEndpoint"]["Properties"]["VpcEndpointType"],
        "Gateway"
    );
    assert_eq!(r["SecretsManagerVpcEndpoint"]["Condition"], "UseSmEndpoint");

    // The functions and the EgressIps output name the Elastic IPs.
    let egress =
        t["Globals"]["Function"]["Environment"]["Variables"]["WECOM_NOTIFY_EGRESS_IPS"].to_string();
    assert!(
        egress.contains("NatEip1")
            && egress.contains("NatEip2")
            && egress.contains("ExistingEgressIps")
    );
    let out = &t["Outputs"]["EgressIps"];
    assert!(
        out["Description"]
            .as_str()
            .expect("d")
            .contains("Trusted IP")
    );
    assert!(out["Value"].to_string().contains("NatEip1"));
}

#[test]
fn only_callback_console_and_openapi_routes_are_public_and_every_admin_route_is_authorised() {
    let t = template();
    let api = &resources(&t)["HttpApi"]["Properties"]["Auth"];
    let default = api["DefaultAuthorizer"]
        .as_str()
        .expect("a default authorizer");
    let jwt = &api["Authorizers"][default]["JwtConfiguration"];
    assert_eq!(jwt["issuer"], reference("JwtIssuer"));
    assert_eq!(jwt["audience"], reference("JwtAudience"));

    let mut routes = Vec::new();
    for r in http_routes(&t) {
        // Public: WeCom's callback (its signature is the auth), and the console page and API
        // document, which hold no data.
        let public = r.path.starts_with("/v1/wecom/callback/")
            || r.path.starts_with("/console")
            || r.path == "/v1/openapi.json";
        assert_eq!(
            r.public, public,
            "{}: public only for WeCom and the console",
            r.path
        );
        if public && !r.path.starts_with("/v1/wecom/callback/") {
            assert_eq!(
                r.method, "GET",
                "{}: the console and document are read-only",
                r.path
            );
        }
        assert_eq!(r.api, reference("HttpApi"));
        routes.push(format!("{} {} {}", r.method, r.path, r.function));
    }
    routes.sort();
    let expected = [
        "DELETE /v1/orgs/{org}/deliveries/{event_id}/{member} TestSendFunction",
        "DELETE /v1/orgs/{org}/members/{member}/wecom-channel ChannelConfigFunction",
        "GET /console ChannelConfigFunction",
        "GET /console/{asset} ChannelConfigFunction",
        "GET /v1/openapi.json ChannelConfigFunction",
        "GET /v1/orgs/{org}/actions ChannelConfigFunction",
        "GET /v1/orgs/{org}/deliveries ChannelConfigFunction",
        "GET /v1/orgs/{org}/members/{member}/wecom-channel ChannelConfigFunction",
        "GET /v1/orgs/{org}/subscriptions ChannelConfigFunction",
        "GET /v1/orgs/{org}/wecom-channels ChannelConfigFunction",
        "GET /v1/wecom/callback/{id} CallbackFunction",
        "POST /v1/orgs/{org}/members/{member}/wecom-channel/test TestSendFunction",
        "POST /v1/orgs/{org}/wecom-channels/probe TestSendFunction",
        "POST /v1/wecom/callback/{id} CallbackFunction",
        "PUT /v1/orgs/{org}/members/{member}/wecom-channel ChannelConfigFunction",
        "PUT /v1/orgs/{org}/subscriptions ChannelConfigFunction",
    ];
    assert_eq!(
        routes, expected,
        "every route of docs/API.md, each to its function"
    );
}

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
        "WECOM_NOTIFY_JWT_ISSUER",
        "WECOM_NOTIFY_CONSOLE_CLIENT_ID",
        "WECOM_NOTIFY_ACTIONS_BUS",
        "WECOM_NOTIFY_ACTIONS_SOURCE",
        "RUST_LOG",
    ] {
        assert!(env.contains_key(var), "{var} missing");
    }
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
        alarms.iter().any(
            |(_, a)| a["Properties"]["MetricName"] == "UnreadableDeliveries"
                && a["Properties"]["Namespace"] == shared::metrics::NAMESPACE
        ),
        "an alarm on records the sweep cannot read"
    );
    assert!(
        alarms
            .iter()
            .any(|(_, a)| a["Properties"]["MetricName"] == "ChannelDrift"
                && a["Properties"]["Namespace"] == shared::metrics::NAMESPACE
                && a["Properties"]["Threshold"] == 0),
        "an alarm on the first drift a probe finds"
    );
    let unfinished = &r["UnfinishedDecisionsAlarm"]["Properties"];
    assert_eq!(unfinished["MetricName"], "UnfinishedDecisions");
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

/// The public callback routes cannot be flooded into the account's concurrency: throttled at
/// the HTTP API, and the function capped by reserved concurrency.
#[test]
fn the_public_callback_routes_are_throttled_and_capped() {
    let t = template();
    let api = &resources(&t)["HttpApi"]["Properties"];
    for route in [
        "GET /v1/wecom/callback/{id}",
        "POST /v1/wecom/callback/{id}",
    ] {
        let s = &api["RouteSettings"][route];
        assert!(s["ThrottlingRateLimit"].is_object(), "{route}: {s}");
        assert!(s["ThrottlingBurstLimit"].is_object(), "{route}: {s}");
    }
    let callback = &resources(&t)["CallbackFunction"]["Properties"];
    assert_eq!(
        callback["ReservedConcurrentExecutions"],
        reference("CallbackConcurrency")
    );
    assert!(t["Parameters"]["CallbackConcurrency"]["Default"].as_u64() >= Some(1));
}

/// The detail-type of members' decisions on cards.
const DECISION: &str = "Workflow Action Taken";

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
