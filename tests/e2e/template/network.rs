//! Where the functions run and who reaches them: every function that calls WeCom's API in
//! the VPC behind the NAT's fixed address, the public routes few and throttled, every admin route
//! behind the authorizer.

use serde_json::{Value, json};

use super::{http_routes, of_type, reference, resources, template};

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
        "GET /v1/orgs/{org}/audit ChannelConfigFunction",
        "GET /v1/orgs/{org}/deliveries ChannelConfigFunction",
        "GET /v1/orgs/{org}/members/{member}/wecom-channel ChannelConfigFunction",
        "GET /v1/orgs/{org}/stats ChannelConfigFunction",
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

/// Every operation of the API document (docs/openapi.json, generated from the handlers) is a
/// route of the deployed API, so a route added to the code cannot be left out of the template;
/// only the local runner's own routes are not deployed.
#[test]
fn every_documented_operation_is_deployed() {
    let t = template();
    let routes: Vec<(String, String)> = http_routes(&t)
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"),
        )
        .expect("docs/openapi.json"),
    )
    .expect("JSON");
    let local = [
        shared::http::routes::LOCAL_EVENTS,
        shared::http::routes::HEALTHZ,
    ];
    let mut missing = Vec::new();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        if local.contains(&path.as_str()) {
            continue;
        }
        // The console's assets share one route.
        let deployed = if path.starts_with("/console/") {
            "/console/{asset}"
        } else {
            path.as_str()
        };
        let methods = ops.as_object().expect("operations").keys().filter(|k| {
            ["get", "put", "post", "delete", "patch", "head", "options"].contains(&k.as_str())
        });
        for method in methods {
            checked += 1;
            let method = method.to_ascii_uppercase();
            if !routes.contains(&(method.clone(), deployed.to_owned())) {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    assert!(checked > 15, "only {checked} operations documented");
    assert!(
        missing.is_empty(),
        "documented but not deployed: {missing:?}"
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
