//! The SAM template's invariants: fixed egress for the functions that call WeCom, public
//! callback routes, authorised admin routes, least-privilege policies, complete configuration.

mod dashboard;
mod iam;
mod network;
mod operations;

use serde_json::Value;

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

pub(crate) fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .collect()
}

pub(crate) fn reference(name: &str) -> Value {
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

/// The detail-type of members' decisions on cards.
pub(crate) const DECISION: &str = "Workflow Action Taken";
