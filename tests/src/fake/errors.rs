//! WeCom's answers: its errmsg format, its texts per errcode, and the early refusals (an
//! errcode, a gateway status, a cut connection).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The IP the fake says it saw, in 60020's errmsg.
pub const SEEN_IP: &str = "139.227.20.128";

/// WeCom's errmsg format: `<text>, hint: [...], from ip: <ip>, more info at <url>`.
fn errmsg(code: i64, text: &str) -> String {
    errmsg_from(code, text, SEEN_IP)
}

pub(super) fn errmsg_from(code: i64, text: &str, ip: &str) -> String {
    format!(
        "{text}, hint: [{}], from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}",
        1_700_000_000_000_000_000u64 + code.unsigned_abs()
    )
}

pub(super) fn text_for(code: i64) -> &'static str {
    match code {
        -1 => "system busy",
        40001 => "invalid credential",
        40013 => "invalid corpid",
        40014 => "invalid access_token",
        40058 => "invalid Request Parameter",
        41001 => "access_token missing",
        41002 => "corpid missing",
        41004 => "corpsecret missing",
        42001 => "access_token expired",
        44004 => "empty content",
        45002 => "content size out of limit",
        45009 => "api freq out of limit",
        45033 => "api concurrent out of limit",
        46004 => "user no exist",
        48002 => "api forbidden",
        60011 => "no privilege to access/modify contact/party/agent",
        60020 => "not allow to access from your ip",
        60111 => "userid not found",
        81013 => "user & party & tag all invalid",
        82001 => "All touser & toparty & totag invalid",
        301002 => "not allow operate another agent with this accesstoken.",
        42014 => "task_id exist or empty or too long",
        42015 => "update template card agentid not match",
        42022 => "response_code already used",
        60140 => "invalid response_code",
        42017 => "button key missing",
        42020 => "button name missing",
        42031 => "invalid card_type",
        42035 => "invalid horizontal_content_list",
        42038 => "invalid button text",
        42039 => "invalid button key",
        _ => "error",
    }
}

pub(super) fn wecom_error(code: i64) -> Response {
    axum::Json(json!({ "errcode": code, "errmsg": errmsg(code, text_for(code)) })).into_response()
}

pub(super) fn ok(mut extra: Value) -> Response {
    extra["errcode"] = json!(0);
    extra["errmsg"] = json!("ok");
    axum::Json(extra).into_response()
}

/// Why the fake answers early: an errcode, or a cut connection.
pub(super) enum Refusal {
    Code(i64),
    Cut,
    Status(u16),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Code(c) => wecom_error(c),
            Self::Status(s) => (
                StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY),
                "fake WeCom: upstream error",
            )
                .into_response(),
            // Headers go out, then the body fails: the connection is cut mid-answer.
            Self::Cut => {
                let cut = futures_util::stream::once(async {
                    Err::<Bytes, std::io::Error>(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "fake WeCom dropped the connection",
                    ))
                });
                Response::new(axum::body::Body::from_stream(cut))
            }
        }
    }
}
