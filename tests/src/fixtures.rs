//! What the flows send and call with: the fake WeCom's demo app as a channel, the usual
//! subscription's buttons, a workflow event, a WeCom client with short retries.

use std::time::Duration;

/// The body of `PUT …/members/{member}/wecom-channel` for the fake WeCom's demo app and the
/// given receiver: [`demo_app_update`] as the API takes it. A test that needs another field
/// sets it.
pub fn demo_channel(source_column: &str, receiver: &str) -> serde_json::Value {
    serde_json::json!({
        "corp_id": "ww0123456789abcdef", "app_secret": "demo-app-secret", "agent_id": 1000002,
        "source_column": source_column, "receiver": receiver,
        "token": "Token123", "encoding_aes_key": shared::testing::ENCODING_AES_KEY
    })
}

/// The buttons most card flows subscribe with: approve (primary) and reject (danger).
pub fn approve_reject() -> serde_json::Value {
    serde_json::json!([{"key": "approve", "text": "同意", "style": "primary"},
                       {"key": "reject", "text": "驳回", "style": "danger"}])
}

/// A full channel update for the fake WeCom's demo app (CorpID, AgentId, Secret of
/// [`crate::fake::demo_corp`]) and the given receiver.
pub fn demo_app_update(
    column: shared::domain::SourceColumn,
    receiver: &str,
) -> shared::channel::ChannelUpdate {
    use shared::domain::{AgentId, AppSecret, CorpId, EncodingAesKey, Receiver, WeComToken};
    shared::channel::ChannelUpdate {
        wechat_plugin: false,
        quiet_hours: None,
        corp_id: CorpId::parse("ww0123456789abcdef").expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
        receiver: Receiver::parse(column, receiver).expect("receiver"),
        app_secret: Some(AppSecret::parse("demo-app-secret").expect("secret")),
        token: Some(WeComToken::parse("Token123").expect("token")),
        encoding_aes_key: Some(
            EncodingAesKey::parse(shared::testing::ENCODING_AES_KEY).expect("key"),
        ),
    }
}

/// A WeCom client for tests against the fake: the production retry policy, with short delays.
pub fn fast_wecom_client(base: &str, timeout: Duration) -> shared::wecom::WeComClient {
    shared::wecom::WeComClient::with_policy(
        base,
        shared::wecom::RetryPolicy {
            min_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retries: 3,
        },
        timeout,
    )
    .expect("a WeCom client")
}

/// The `detail` of a workflow event: a SQL review of `org` waiting for `recipients`, opening
/// `https://workflow.example.com/r/1`. A test that needs another node or text sets that field.
pub fn workflow_detail(event_id: &str, org: &str, recipients: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "event_id": event_id, "org": org, "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": recipients,
        "title": "SQL review waiting for you", "content": "prod-db: ALTER TABLE orders",
        "url": "https://workflow.example.com/r/1", "occurred_at": "2026-03-11T08:00:00Z"
    })
}

/// A whole EventBridge envelope of [`workflow_detail`], as `POST /v1/local/events` and the
/// dispatch function take it.
pub fn workflow_envelope(event_id: &str, org: &str, recipients: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "1", "detail-type": "Workflow Node Reached", "source": "workflow",
        "account": "111122223333", "time": "2026-03-11T08:00:00Z", "region": "ap-east-1",
        "resources": [],
        "detail": workflow_detail(event_id, org, recipients),
    })
}

/// [`workflow_detail`] as the dispatcher takes it, at `node`.
pub fn workflow_event(
    event_id: &str,
    org: &str,
    node: &str,
    recipients: &[&str],
) -> shared::workflow::WorkflowEvent {
    let mut detail = workflow_detail(event_id, org, recipients);
    detail["node"] = serde_json::json!(node);
    shared::workflow::WorkflowEvent::from_detail(&detail).expect("valid event")
}
