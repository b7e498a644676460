//! The counting proxy between the functions and moto: each request's start, end and
//! `X-Amz-Target`, labelled by the items it touches.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::args::{DYNAMODB_LATENCY, SECRETS_MANAGER_LATENCY};
use crate::runtime::{Call, Shared};

/// Forwards every request to moto as it is and records when it started and ended.
pub(crate) async fn proxy(
    State(sh): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (start, init) = {
        let inv = sh.inv();
        (inv.elapsed(), inv.next_at.is_none())
    };
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} {}", parts.method, parts.uri.path()));
    let mut label = target.clone();
    let answer = async {
        if sh.aws_latency {
            // Before moto, which answers one request at a time: overlapping calls wait
            // their latency side by side, as they would on AWS.
            tokio::time::sleep(if target.starts_with("secretsmanager.") {
                SECRETS_MANAGER_LATENCY
            } else {
                DYNAMODB_LATENCY
            })
            .await;
        }
        let body = axum::body::to_bytes(body, 64 << 20)
            .await
            .map_err(|e| e.to_string())?;
        label = labelled(&target, &body);
        let url = format!(
            "{}{}",
            sh.moto,
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let mut rb = sh.http.request(parts.method.clone(), url);
        for (k, v) in &parts.headers {
            if !matches!(
                k.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                rb = rb.header(k, v);
            }
        }
        let resp = rb.body(body).send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        let mut out = Response::builder().status(status);
        for (k, v) in &headers {
            if !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            ) {
                out = out.header(k, v);
            }
        }
        out.body(Body::from(bytes)).map_err(|e| e.to_string())
    }
    .await
    .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response());
    let mut inv = sh.inv();
    let end = inv.elapsed();
    let conn = match inv.conns.iter().position(|p| *p == peer.port()) {
        Some(i) => i + 1,
        None => {
            inv.conns.push(peer.port());
            inv.conns.len()
        }
    };
    inv.calls.push(Call {
        target: label,
        start,
        end,
        status: answer.status().as_u16(),
        init,
        conn,
    });
    answer
}

/// What a DynamoDB key is, from its `pk`/`sk` prefixes (shared/src/store/dynamo).
pub(crate) fn item_kind(key: &Value) -> String {
    let pk = key["pk"]["S"].as_str().unwrap_or_default();
    let sk = key["sk"]["S"].as_str().unwrap_or_default();
    let prefix = |v: &str| v.split('#').next().unwrap_or_default().to_owned();
    match prefix(pk).as_str() {
        "CALLBACK" => "alias".into(),
        "MEMBER" => "binding".into(),
        "ORG" => match prefix(sk).as_str() {
            "APP" => "app".into(),
            "SUB" => "subscription".into(),
            other => format!("org/{}", other.to_lowercase()),
        },
        "DLV" => "delivery".into(),
        "TOKEN" => "token".into(),
        "PACE" => "pace".into(),
        "PUSH" => "push".into(),
        "UID" => "userid".into(),
        "" => "?".into(),
        other => other.to_lowercase(),
    }
}

/// `Operation[what]`: the operation and the items (or secret) it touches.
pub(crate) fn labelled(target: &str, body: &[u8]) -> String {
    let op = target.rsplit_once('.').map_or(target, |(_, op)| op);
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let what = match op {
        "GetItem" | "DeleteItem" => item_kind(&v["Key"]),
        "PutItem" => item_kind(&v["Item"]),
        "UpdateItem" => {
            let names: Vec<&str> = v["ExpressionAttributeNames"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if names.is_empty() {
                item_kind(&v["Key"])
            } else {
                format!("{}: {}", item_kind(&v["Key"]), names.join(","))
            }
        }
        "TransactWriteItems" => v["TransactItems"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|t| {
                        let (kind, k) = if t["Put"].is_object() {
                            ("put ", &t["Put"]["Item"])
                        } else if t["Update"].is_object() {
                            ("update ", &t["Update"]["Key"])
                        } else if t["Delete"].is_object() {
                            ("delete ", &t["Delete"]["Key"])
                        } else {
                            ("check ", &t["ConditionCheck"]["Key"])
                        };
                        format!("{kind}{}", item_kind(k))
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .unwrap_or_default(),
        "Query" => v["IndexName"].as_str().unwrap_or("table").to_owned(),
        "GetSecretValue" => {
            let id = v["SecretId"].as_str().unwrap_or_default();
            if id.contains("/warm-up/") {
                "warm-up probe".into()
            } else {
                "app secrets".into()
            }
        }
        _ => String::new(),
    };
    if what.is_empty() {
        op.to_owned()
    } else {
        format!("{op}[{what}]")
    }
}
