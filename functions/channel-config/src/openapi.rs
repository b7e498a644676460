//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 document ([`shared::http::openapi`]), public
//! like the console page. The local runner mounts it outside its JWT check; on AWS the
//! template routes it without the authorizer.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shared::http::{method_not_allowed, openapi, routes};

pub fn openapi_router() -> Router {
    Router::new().route(routes::OPENAPI, get(document).fallback(method_not_allowed))
}

async fn document() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        openapi::json_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::Value;
    use shared::testing::oneshot;

    use super::*;

    #[tokio::test]
    async fn the_document_is_served_as_json_without_a_token() {
        let a = oneshot(
            &openapi_router(),
            Request::get(routes::OPENAPI)
                .body(Body::empty())
                .expect("req"),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.content_type().as_deref(), Some("application/json"));
        let doc: Value = a.json();
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1."))
        );
        assert!(doc["paths"][routes::OPENAPI]["get"].is_object());

        let post = oneshot(
            &openapi_router(),
            Request::builder()
                .method(Method::POST)
                .uri(routes::OPENAPI)
                .body(Body::empty())
                .expect("req"),
        )
        .await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    /// The views as the handlers built them with `json!` before they were types: the same
    /// bytes.
    mod before {
        use serde_json::{Value, json};
        use shared::domain::{BindingRecord, CallbackCheck};
        use shared::http::PublicBase;
        use shared::workflow::{Delivery, PublicStatus};
        use time::format_description::well_known::Rfc3339;

        fn rfc3339(t: time::OffsetDateTime) -> Value {
            t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
        }

        fn check_view(c: &CallbackCheck) -> Value {
            let mut v = json!({ "at": rfc3339(c.at), "ok": c.ok });
            if let Some(d) = c.diagnosis {
                v["diagnosis"] = json!(d);
            }
            if let Some(h) = &c.hint {
                v["hint"] = json!(h);
            }
            v
        }

        pub fn channel_view(
            rec: &BindingRecord,
            base: &PublicBase,
            egress_ips: &[String],
        ) -> Value {
            let configured = rec.config.is_some();
            let c = rec.config.as_ref();
            json!({
                "org": rec.key.org,
                "member": rec.key.member,
                "configured": configured,
                "corp_id": c.map(|c| c.corp_id.as_str()),
                "agent_id": c.map(|c| c.agent_id.get()),
                "source_column": c.map(|c| c.receiver.column().as_str()),
                "receiver": c.map(|c| c.receiver.value()),
                "app_secret_set": configured,
                "token_set": configured,
                "encoding_aes_key_set": configured,
                "wechat_plugin": c.is_some_and(|c| c.wechat_plugin),
                "last_probe": Value::Null,
                "callback_url": base.callback_url(&rec.callback_id),
                "trusted_ips": egress_ips,
                "last_callback_check": rec.last_callback_check.as_ref().map(check_view),
                "last_test": rec.last_test,
                "updated_at": rec.updated_at.map(rfc3339),
            })
        }

        pub fn delivery_view(d: &Delivery) -> Value {
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(d.updated_ms) * 1_000_000,
            )
            .map(rfc3339)
            .unwrap_or(Value::Null);
            let mut v = json!({
                "event_id": d.event_id,
                "member": d.member,
                "subscription_type": d.subscription_type,
                "node": d.node,
                "status": d.status.public().as_str(),
                "userid": d.userid,
                "msgid": d.msgid,
                "wecom_errcode": d.wecom_errcode,
                "hint": d.hint,
                "attempts": d.attempts,
                "at": at,
            });
            if let Some(r) = &d.reason {
                v["reason"] = json!(r);
            }
            if let Some(t) = d
                .not_before_ms
                .filter(|_| d.status.public() == PublicStatus::Delayed)
            {
                v["not_before"] =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1_000_000)
                        .map(rfc3339)
                        .unwrap_or(Value::Null);
            }
            v
        }
    }

    #[test]
    fn the_views_are_byte_for_byte_what_json_built() {
        use serde_json::json;
        use shared::domain::{
            BindingRecord, CallbackCheck, CallbackId, ChannelConfig, Diagnosis, MemberKey,
            TestOutcome,
        };
        use shared::http::PublicBase;
        use shared::http::views::to_json;
        use shared::workflow::Delivery;

        let key: MemberKey =
            serde_json::from_value(json!({"org": "acme", "member": "alice"})).expect("key");
        let base = PublicBase("https://notify.example.com".into());
        let ips = vec!["203.0.113.10".to_owned()];
        let mut rec = BindingRecord::unconfigured(key, CallbackId::random());
        let same = |rec: &BindingRecord| {
            assert_eq!(
                serde_json::to_string(&to_json(&crate::channel_view(rec, &base, &ips)))
                    .expect("new"),
                serde_json::to_string(&before::channel_view(rec, &base, &ips)).expect("old"),
            );
        };
        same(&rec);
        let config: ChannelConfig = serde_json::from_value(json!({
            "corp_id": "ww0123456789abcdef", "agent_id": 1000002,
            "source_column": "phone", "receiver": "13800000000"}))
        .expect("config");
        rec.reconfigure(Some(config), shared::domain::now());
        same(&rec);
        rec.last_callback_check = Some(CallbackCheck {
            at: shared::domain::now(),
            ok: false,
            diagnosis: Some(Diagnosis::SignatureMismatch),
            hint: Some("Copy the Token".into()),
            authentic: true,
        });
        rec.last_test = Some(TestOutcome {
            at: shared::domain::now(),
            result: "failed".into(),
            wecom_errcode: Some(60020),
            hint: Some("Add the IP".into()),
        });
        same(&rec);
        rec.last_test = Some(TestOutcome {
            at: shared::domain::now(),
            result: "successful".into(),
            wecom_errcode: None,
            hint: None,
        });
        rec.last_callback_check = Some(CallbackCheck {
            at: shared::domain::now(),
            ok: true,
            diagnosis: None,
            hint: None,
            authentic: true,
        });
        same(&rec);

        for d in [
            json!({"org": "acme", "event_id": "evt-1", "member": "alice",
                   "subscription_type": "sql_review", "node": "approval_pending",
                   "status": "delivered", "userid": "zhangsan", "msgid": "m1", "attempts": 1,
                   "created_ms": 1_773_216_000_000_i64, "updated_ms": 1_773_216_000_500_i64,
                   "expires_at": 1_775_808_000}),
            json!({"org": "acme", "event_id": "evt-2", "member": "bob",
                   "subscription_type": "sql_review", "node": "approval_pending",
                   "status": "delayed", "reason": "paced", "attempts": 0,
                   "not_before_ms": 1_773_216_060_000_i64,
                   "created_ms": 1_773_216_000_000_i64, "updated_ms": 1_773_216_000_000_i64,
                   "expires_at": 1_775_808_000}),
            json!({"org": "acme", "event_id": "evt-3", "member": "bob",
                   "subscription_type": "sql_review", "node": "approval_pending",
                   "status": "failed", "reason": "channel_misconfigured", "attempts": 1,
                   "wecom_errcode": 60020, "hint": "Add the IP",
                   "not_before_ms": 1_773_216_060_000_i64,
                   "created_ms": 1_773_216_000_000_i64, "updated_ms": 1_773_216_000_000_i64,
                   "expires_at": 1_775_808_000}),
            json!({"org": "acme", "event_id": "evt-4", "member": "?",
                   "subscription_type": "sql_review", "node": "approval_pending",
                   "status": "skipped", "reason": "unknown_member", "attempts": 0,
                   "created_ms": 1_773_216_000_000_i64, "updated_ms": 1_773_216_000_000_i64,
                   "expires_at": 1_775_808_000}),
        ] {
            let d: Delivery = serde_json::from_value(d).expect("delivery");
            assert_eq!(
                serde_json::to_string(&to_json(&crate::delivery_view(&d))).expect("new"),
                serde_json::to_string(&before::delivery_view(&d)).expect("old"),
            );
        }
    }
}
