//! The OpenAPI document, composed: the runner is the one place that knows every function, so
//! it merges their parts (each declared on its handlers) into the document it serves, and its
//! tests keep `docs/openapi.json` (what the deployed channel-config serves) equal to it.
//!
//! To regenerate `docs/openapi.json` after changing a route or a wire type:
//! `WECOM_NOTIFY_WRITE_OPENAPI=1 cargo test -p wecom-notify-local openapi`.

use utoipa::OpenApi;

/// The whole document as the service serves it.
pub fn document_text() -> String {
    shared::http::openapi::to_text(&document())
}

/// The whole document: the frame, every function's part and the runner's own.
pub fn document() -> utoipa::openapi::OpenApi {
    shared::http::openapi::compose([
        channel_config::openapi(),
        test_send::openapi(),
        callback::openapi(),
        Local::openapi(),
    ])
}

/// The runner's own routes, as annotated on their handlers.
#[derive(OpenApi)]
#[openapi(paths(crate::events::post_local_event, crate::healthz))]
struct Local;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use shared::http::routes;

    use super::*;

    fn json() -> Value {
        serde_json::from_str(&document_text()).expect("the document parses")
    }

    /// (method, path) of every operation the document names.
    fn operations_in(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ]
                .contains(&method.as_str())
                {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_committed_document_is_the_composed_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let text = document_text();
        if std::env::var_os("WECOM_NOTIFY_WRITE_OPENAPI").is_some() {
            // channel-config embeds the file: it sees the new one on its next build.
            std::fs::write(path, &text).expect("write docs/openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == text,
            "docs/openapi.json differs from the document the code composes; regenerate it with \
             `WECOM_NOTIFY_WRITE_OPENAPI=1 cargo test -p wecom-notify-local openapi` and commit it"
        );
        assert!(
            channel_config::openapi::COMMITTED == committed,
            "channel-config was built with another docs/openapi.json: build it again"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_and_names_exactly_the_routes() {
        let doc = json();
        let version = doc["openapi"].as_str().expect("openapi");
        assert!(version.starts_with("3.1."), "openapi {version}");
        let documented: BTreeSet<String> =
            operations_in(&doc).into_iter().map(|(_, p)| p).collect();
        let routed: BTreeSet<String> = routes::PATHS.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(documented, routed);
        assert_eq!(
            routes::PATHS.len(),
            doc["paths"].as_object().expect("paths").len()
        );
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = json();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external $ref {r}"));
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn admin_routes_need_the_bearer_token_and_the_others_are_public() {
        let doc = json();
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"],
            json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
        );
        for (method, path) in operations_in(&doc) {
            let op = &doc["paths"][&path][method.to_lowercase()];
            let admin = path.starts_with("/v1/orgs/") || path == routes::LOCAL_EVENTS;
            let security = op.get("security").cloned().unwrap_or(Value::Null);
            if admin {
                assert_eq!(security, json!([{"bearer": []}]), "{method} {path}");
                assert!(op["responses"]["401"].is_object(), "{method} {path}: 401");
                assert!(op["responses"]["403"].is_object(), "{method} {path}: 403");
            } else {
                assert_eq!(security, Value::Null, "{method} {path} is public");
            }
        }
    }

    #[test]
    fn every_error_answer_has_the_error_object() {
        let doc = json();
        for (method, path) in operations_in(&doc) {
            let op = &doc["paths"][&path][method.to_lowercase()];
            for (status, response) in op["responses"].as_object().expect("responses") {
                if status.starts_with('2') {
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"];
                let name = schema["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    .unwrap_or_else(|| panic!("{method} {path} {status}: {schema}"));
                let errors = match name {
                    // 401: ours, or API Gateway's on AWS.
                    "Unauthorized" => {
                        doc["components"]["schemas"][name]["oneOf"][0]["$ref"].clone()
                    }
                    _ => json!(format!("#/components/schemas/{name}")),
                };
                let errors = errors.as_str().unwrap_or_default().rsplit('/').next();
                assert!(
                    matches!(errors, Some("ErrorBody" | "TestSendFailure")),
                    "{method} {path} {status}: {schema}"
                );
                let required =
                    &doc["components"]["schemas"][errors.unwrap_or_default()]["required"];
                assert!(
                    required
                        .as_array()
                        .is_some_and(|r| r.contains(&json!("error"))),
                    "{method} {path} {status}"
                );
            }
        }
    }

    #[test]
    fn the_channel_body_names_exactly_the_put_fields() {
        let doc = json();
        let props: BTreeSet<&str> = doc["components"]["schemas"]["ChannelBody"]["properties"]
            .as_object()
            .expect("ChannelBody")
            .keys()
            .map(String::as_str)
            .collect();
        let mut fields: BTreeSet<&str> = shared::http::PUT_FIELDS.into_iter().collect();
        fields.extend(shared::http::OPTION_FIELDS);
        assert_eq!(props, fields);
        fields.retain(|f| !shared::http::OPTION_FIELDS.contains(f));
        let unsaved: BTreeSet<&str> = doc["components"]["schemas"]["TestUnsaved"]["properties"]
            .as_object()
            .expect("TestUnsaved")
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "message")
            .collect();
        assert_eq!(unsaved, fields);
    }
}
