//! A member's decision on an interactive card (docs/API.md §11): the click, checked and
//! deduplicated, kept as an action record, told to the workflow system, and answered on the
//! card.
//!
//! The first decision per (event, member) wins. WeCom retries a push it got no answer to, and
//! a member may click twice before the card greys out: a retried push of the winning click is
//! recognised by its `click` id and finishes what was left undone; any other click is kept in
//! `later` and changes nothing.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Delivery;
use crate::domain::{EventId, Node, OrgId, SubscriptionType};

/// Later clicks kept on one record: enough to see what happened, bounded however often a
/// member clicks.
pub const LATER_MAX: usize = 10;

/// What became of the card after the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardAnswer {
    /// Not tried yet.
    Pending,
    /// The buttons now show the decision.
    Updated,
    /// WeCom: the response code was used already (42022). Not retried.
    CodeUsed,
    /// WeCom: the response code is invalid, most likely expired (60140). Not retried.
    CodeExpired,
    /// Another refusal, or WeCom could not be reached; not retried (the decision stands).
    Failed,
}

/// A click that came after the decision: recorded, not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LaterClick {
    pub action: String,
    pub userid: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// One accepted decision: what the workflow system hears, and how far acting on it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub org: OrgId,
    pub event_id: EventId,
    pub member: String,
    /// The WeCom userid that clicked: the member's.
    pub userid: String,
    pub subscription_type: SubscriptionType,
    pub node: Node,
    /// The button's key.
    pub action: String,
    /// The button's text, for the card's answer.
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub task_id: String,
    /// The click that decided (`FromUserName`/`CreateTime`/key): a retried push of it is the
    /// same click.
    pub click: String,
    /// The single-use code the click came with, for updating the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
    /// Told to the workflow system (EventBridge, or the local webhook).
    pub published: bool,
    pub card: CardAnswer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later: Vec<LaterClick>,
    /// Unix milliseconds of the last change: the version a replace is conditioned on.
    pub updated_ms: i64,
    /// Unix seconds after which the store may forget the record (TTL).
    pub expires_at: i64,
}

/// A click as the callback read it from WeCom's push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub userid: String,
    pub key: String,
    pub task_id: String,
    pub create_time: String,
    pub response_code: Option<String>,
}

impl Click {
    /// Names this click across WeCom's retries of its push.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}",
            self.userid.to_ascii_lowercase(),
            self.create_time,
            self.key
        )
    }
}

/// Why a click is not taken as a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the card was sent to {expected}, the click came from {found}")]
    OtherUser { expected: String, found: String },
    #[error("the card has no button {0:?}")]
    UnknownKey(String),
    #[error("the delivery is not an interactive card")]
    NotACard,
}

impl ActionRecord {
    /// The decision `click` makes on the card of `d`, or why it makes none: only the member the
    /// card was sent to decides, and only with one of its buttons.
    pub fn decide(
        d: &Delivery,
        click: &Click,
        at: OffsetDateTime,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<Self, Refused> {
        let Some(crate::wecom::MessageBody::TemplateCard(card)) = &d.body else {
            return Err(Refused::NotACard);
        };
        let expected = d.userid.clone().unwrap_or_default();
        if expected.is_empty() || !expected.eq_ignore_ascii_case(&click.userid) {
            return Err(Refused::OtherUser {
                expected,
                found: click.userid.clone(),
            });
        }
        let button = card
            .button_list
            .iter()
            .find(|b| b.key == click.key)
            .ok_or_else(|| Refused::UnknownKey(click.key.clone()))?;
        Ok(Self {
            org: d.org.clone(),
            event_id: d.event_id.clone(),
            member: d.member.clone(),
            userid: click.userid.to_ascii_lowercase(),
            subscription_type: d.subscription_type.clone(),
            node: d.node.clone(),
            action: click.key.clone(),
            text: button.text.clone(),
            at,
            task_id: click.task_id.clone(),
            click: click.id(),
            response_code: click.response_code.clone(),
            published: false,
            card: CardAnswer::Pending,
            card_errcode: None,
            later: Vec::new(),
            updated_ms: now_ms,
            expires_at,
        })
    }

    /// Keeps a click that came after the decision; false if it is kept already (a retried
    /// push) or the record is full.
    pub fn add_later(&mut self, click: &LaterClick) -> bool {
        if self.later.contains(click) || self.later.len() >= LATER_MAX {
            return false;
        }
        self.later.push(click.clone());
        true
    }

    /// What the buttons say once decided: the button's text and who pressed it. Language-neutral
    /// on purpose: the admin wrote the button text in the members' language.
    pub fn answer_text(&self) -> String {
        let text: String = format!("{} · {}", self.text, self.member)
            .chars()
            .take(ANSWER_MAX)
            .collect();
        text
    }
}

/// Longest answer put on the greyed-out button.
pub const ANSWER_MAX: usize = 20;

/// Where accepted decisions go: the workflow system's side of the loop.
#[async_trait]
pub trait ActionSink: Send + Sync {
    /// Delivers one decision; an error means it was not delivered and will be tried again
    /// (WeCom retries the push).
    async fn publish(&self, a: &ActionRecord) -> Result<(), String>;
    /// For logs: where decisions go.
    fn describe(&self) -> String;
}

/// Decisions are only recorded (and listed by `/actions`).
pub struct RecordOnly;

#[async_trait]
impl ActionSink for RecordOnly {
    async fn publish(&self, _: &ActionRecord) -> Result<(), String> {
        Ok(())
    }
    fn describe(&self) -> String {
        "recorded only".into()
    }
}

/// The JSON a workflow system receives for a decision (EventBridge detail, webhook body).
pub fn action_json(a: &ActionRecord) -> serde_json::Value {
    serde_json::json!({
        "event_id": a.event_id,
        "org": a.org,
        "member": a.member,
        "userid": a.userid,
        "subscription_type": a.subscription_type,
        "node": a.node,
        "action": a.action,
        "at": a.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}

/// POSTs each decision as JSON to a URL (the local runner's `WECOM_NOTIFY_ACTIONS_WEBHOOK`).
pub struct Webhook {
    http: reqwest::Client,
    url: String,
}

impl Webhook {
    pub fn new(url: &str) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{url:?}: not an http(s) URL"));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            url: url.to_owned(),
        })
    }
}

#[async_trait]
impl ActionSink for Webhook {
    async fn publish(&self, a: &ActionRecord) -> Result<(), String> {
        let resp = self
            .http
            .post(&self.url)
            .json(&action_json(a))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered HTTP {}", resp.status()))
        }
    }
    /// Scheme and host only: a webhook URL may carry a token in its path or query.
    fn describe(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(u) => format!(
                "webhook {}://{}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "webhook".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Actions, WorkflowEvent};
    use serde_json::json;

    fn card_delivery() -> Delivery {
        let ev = WorkflowEvent::from_detail(&json!({"event_id":"e1","org":"acme",
            "subscription_type":"t","node":"n","recipients":["alice"],"title":"x",
            "url":"https://w.example.com/1","occurred_at":"2026-03-11T08:00:00Z"}))
        .expect("event");
        let actions: Actions = serde_json::from_value(
            json!([{"key":"approve","text":"同意"},{"key":"reject","text":"驳回"}]),
        )
        .expect("actions");
        let body = ev.render_card("alice", &actions);
        let mut d = Delivery::claim(&ev, "alice".into(), body, 1, 2, 3);
        d.userid = Some("zhangsan".into());
        d
    }

    fn click(userid: &str, key: &str) -> Click {
        Click {
            userid: userid.into(),
            key: key.into(),
            task_id: "t".into(),
            create_time: "1700000000".into(),
            response_code: Some("rc".into()),
        }
    }

    #[test]
    fn only_the_recipient_decides_and_only_with_a_button_of_the_card() {
        let d = card_delivery();
        let at = OffsetDateTime::UNIX_EPOCH;
        let a = ActionRecord::decide(&d, &click("ZhangSan", "reject"), at, 5, 9).expect("ok");
        assert_eq!(
            (a.userid.as_str(), a.action.as_str(), a.text.as_str()),
            ("zhangsan", "reject", "驳回")
        );
        assert_eq!(a.answer_text(), "驳回 · alice");
        assert!(matches!(
            ActionRecord::decide(&d, &click("lisi", "approve"), at, 5, 9),
            Err(Refused::OtherUser { .. })
        ));
        assert_eq!(
            ActionRecord::decide(&d, &click("zhangsan", "merge"), at, 5, 9),
            Err(Refused::UnknownKey("merge".into()))
        );
        let mut text = d.clone();
        text.body = Some(crate::wecom::MessageBody::text("x"));
        assert_eq!(
            ActionRecord::decide(&text, &click("zhangsan", "approve"), at, 5, 9),
            Err(Refused::NotACard)
        );
    }

    #[test]
    fn later_clicks_are_kept_once_and_bounded() {
        let d = card_delivery();
        let at = OffsetDateTime::UNIX_EPOCH;
        let mut a = ActionRecord::decide(&d, &click("zhangsan", "approve"), at, 5, 9).expect("ok");
        let later = LaterClick {
            action: "reject".into(),
            userid: "zhangsan".into(),
            at,
        };
        assert!(a.add_later(&later));
        assert!(!a.add_later(&later), "a retried push of the same click");
        for i in 1..LATER_MAX {
            let mut l = later.clone();
            l.at = at + time::Duration::seconds(i as i64);
            assert!(a.add_later(&l));
        }
        let mut one_more = later.clone();
        one_more.at = at + time::Duration::hours(1);
        assert!(!a.add_later(&one_more));
        assert_eq!(a.later.len(), LATER_MAX);
    }

    #[test]
    fn the_published_json_is_the_contract_shape() {
        let d = card_delivery();
        let a = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            5,
            9,
        )
        .expect("ok");
        assert_eq!(
            action_json(&a),
            json!({"event_id":"e1","org":"acme","member":"alice","userid":"zhangsan",
                   "subscription_type":"t","node":"n","action":"approve",
                   "at":"1970-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn a_webhook_must_be_http_and_is_named_without_its_path() {
        let hook =
            Webhook::new("https://hooks.example.com:8443/T0/secret-token?key=k").expect("ok");
        assert_eq!(hook.describe(), "webhook https://hooks.example.com:8443");
        assert!(Webhook::new("ftp://x").is_err());
        assert!(Webhook::new("not a url").is_err());
        assert!(Webhook::new("http://127.0.0.1:9/hook").is_ok());
    }
}
