//! Workflow events, subscriptions and delivery records: what dispatch works with.
//! Nothing here knows AWS or HTTP.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{FieldError, MemberId, OrgId};
use crate::wecom::MessageBody;
use crate::wecom::message::{MARKDOWN_MAX, TEXT_MAX, TEXTCARD_DESCRIPTION_MAX, truncate_bytes};

/// Most recipients one event may name (WeCom's own `touser` limit).
pub const MAX_RECIPIENTS: usize = 1000;

fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A subscription type or workflow node name: 1–64 of `[A-Za-z0-9_.-]`.
pub fn parse_slug(field: &'static str, s: &str) -> Result<String, FieldError> {
    if is_slug(s) {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "must be 1-64 characters of A-Z a-z 0-9 _ . -",
        ))
    }
}

/// How a subscription's messages look in WeCom. `textcard` is the default: it is readable in
/// the WeChat plugin too, where markdown is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    #[default]
    Textcard,
    Text,
    Markdown,
}

/// The org's switch for one (subscription type, workflow node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub subscription_type: String,
    pub node: String,
    pub personal_channel: bool,
    #[serde(default)]
    pub message_format: MessageFormat,
}

impl Subscription {
    pub fn validate(&self) -> Result<(), FieldError> {
        parse_slug("subscription_type", &self.subscription_type)?;
        parse_slug("node", &self.node)?;
        Ok(())
    }
}

/// The `detail` of a workflow event (CONTRACT §8), validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowEvent {
    pub event_id: String,
    pub org: OrgId,
    pub subscription_type: String,
    pub node: String,
    pub recipients: Vec<String>,
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

/// Why an event cannot be dispatched: a clear message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed workflow event: {0}")]
pub struct MalformedEvent(pub String);

impl WorkflowEvent {
    /// Parses and checks an EventBridge `detail`.
    pub fn from_detail(detail: &Value) -> Result<Self, MalformedEvent> {
        if !detail.is_object() {
            return Err(MalformedEvent(
                "detail must be a JSON object (event_id, org, subscription_type, node, recipients, title, content, url, occurred_at)".into(),
            ));
        }
        // Checked first: the time parser's errors do not name the field.
        if let Some(t) = detail.get("occurred_at")
            && t.as_str()
                .is_none_or(|t| OffsetDateTime::parse(t, &Rfc3339).is_err())
        {
            return Err(MalformedEvent(
                "occurred_at: must be an RFC 3339 time such as 2026-03-11T08:00:00Z".into(),
            ));
        }
        // The path names the field a type error is in (serde alone does not).
        let ev: Self = serde_path_to_error::deserialize(detail.clone()).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." {
                MalformedEvent(inner)
            } else {
                MalformedEvent(format!("{path}: {inner}"))
            }
        })?;
        let bad = |field: &str, why: &str| MalformedEvent(format!("{field}: {why}"));
        if ev.event_id.is_empty()
            || ev.event_id.len() > 128
            || ev.event_id.contains('#')
            || ev.event_id.chars().any(char::is_control)
        {
            return Err(bad(
                "event_id",
                "must be 1-128 characters, without # or control characters",
            ));
        }
        parse_slug("subscription_type", &ev.subscription_type)
            .map_err(|e| bad("subscription_type", &e.message))?;
        parse_slug("node", &ev.node).map_err(|e| bad("node", &e.message))?;
        if ev.recipients.is_empty() {
            return Err(bad("recipients", "must name at least one member"));
        }
        if ev.recipients.len() > MAX_RECIPIENTS {
            return Err(bad("recipients", "at most 1000 per event"));
        }
        if ev
            .recipients
            .iter()
            .any(|r| r.is_empty() || r.len() > 128 || r.chars().any(char::is_control))
        {
            return Err(bad(
                "recipients",
                "each must be 1-128 characters without control characters",
            ));
        }
        if ev.title.trim().is_empty() {
            return Err(bad("title", "must not be empty"));
        }
        if let Some(u) = &ev.url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(bad("url", "must be an http(s) URL"));
        }
        Ok(ev)
    }

    /// Recipients in order, each once.
    pub fn unique_recipients(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.recipients
            .iter()
            .filter(|r| seen.insert(r.as_str()))
            .cloned()
            .collect()
    }

    /// The message body in the subscription's format, within WeCom's limits. A textcard needs
    /// a URL; without one the message is text.
    ///
    /// Every body ends with the event's reference. WeCom's duplicate check (our second net
    /// against resending after a crash) compares content, so the reference makes it catch a
    /// resend of the *same* event and never swallow a different event that happens to be
    /// worded the same.
    pub fn render(&self, format: MessageFormat) -> MessageBody {
        let url = self.url.as_deref().filter(|u| !u.is_empty());
        let reference = format!("Ref: {}", self.event_id);
        let content = self.content.trim_end();
        // Room for the reference is kept when the content is cut.
        let fit = |text: &str, max: usize| {
            let keep = max.saturating_sub(reference.len() + 1);
            format!("{}\n{reference}", truncate_bytes(text, keep))
        };
        match (format, url) {
            (MessageFormat::Textcard, Some(url)) => {
                let description = if content.is_empty() {
                    self.title.as_str()
                } else {
                    content
                };
                MessageBody::text_card(
                    &self.title,
                    &fit(description, TEXTCARD_DESCRIPTION_MAX),
                    url,
                )
            }
            (MessageFormat::Markdown, _) => {
                let mut s = format!("**{}**", self.title);
                if !content.is_empty() {
                    s.push_str(&format!("\n{content}"));
                }
                if let Some(u) = url {
                    s.push_str(&format!("\n[Open]({u})"));
                }
                MessageBody::markdown(&fit(&s, MARKDOWN_MAX))
            }
            _ => {
                let mut s = self.title.clone();
                if !content.is_empty() {
                    s.push_str(&format!("\n{content}"));
                }
                if let Some(u) = url {
                    s.push_str(&format!("\n{u}"));
                }
                MessageBody::text(&fit(&s, TEXT_MAX))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Claimed and being sent, or waiting for a retry: nobody else acts on it before
    /// `lease_until`; after that, whoever finds it (a redelivered event, the sweep) does.
    Sending,
    Delivered,
    /// Paced: WeCom's per-member window is full; sent at `not_before`.
    Delayed,
    Failed,
    Skipped,
}

impl DeliveryStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed | Self::Skipped)
    }

    /// The status as `/deliveries` shows it: a claim waiting for its send or retry is
    /// `delayed` (it will be sent).
    pub fn public(self) -> &'static str {
        match self {
            Self::Sending | Self::Delayed => "delayed",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// A [`MessageBody`] as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
pub enum StoredBody {
    Text {
        content: String,
    },
    Markdown {
        content: String,
    },
    Textcard {
        title: String,
        description: String,
        url: String,
    },
}

impl From<&MessageBody> for StoredBody {
    fn from(b: &MessageBody) -> Self {
        match b {
            MessageBody::Text { content } => Self::Text {
                content: content.clone(),
            },
            MessageBody::Markdown { content } => Self::Markdown {
                content: content.clone(),
            },
            MessageBody::TextCard {
                title,
                description,
                url,
            } => Self::Textcard {
                title: title.clone(),
                description: description.clone(),
                url: url.clone(),
            },
        }
    }
}

impl From<&StoredBody> for MessageBody {
    fn from(b: &StoredBody) -> Self {
        match b {
            StoredBody::Text { content } => Self::Text {
                content: content.clone(),
            },
            StoredBody::Markdown { content } => Self::Markdown {
                content: content.clone(),
            },
            StoredBody::Textcard {
                title,
                description,
                url,
            } => Self::TextCard {
                title: title.clone(),
                description: description.clone(),
                url: url.clone(),
            },
        }
    }
}

/// One (event, member) delivery: claimed before anything is sent, so each is acted on once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub org: OrgId,
    pub event_id: String,
    /// As the event named it (it may not be a valid member id: then it is `skipped`).
    pub member: String,
    pub subscription_type: String,
    pub node: String,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub attempts: u32,
    /// Unix milliseconds of the claim: the order of `/deliveries`.
    pub created_ms: i64,
    /// Unix milliseconds of the last change.
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_ms: Option<i64>,
    /// The rendered message, so a delayed or retried delivery is sent without the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<StoredBody>,
    /// Unix seconds after which the store may forget the record (TTL).
    pub expires_at: i64,
}

impl Delivery {
    pub fn is_member(&self, member: &MemberId) -> bool {
        self.member == member.as_str()
    }

    /// When someone must act on it next, if it is not final: a delayed send's time, or the
    /// end of a claim's lease.
    pub fn due_ms(&self) -> Option<i64> {
        match self.status {
            DeliveryStatus::Delayed => self.not_before_ms,
            DeliveryStatus::Sending => self.lease_until_ms,
            _ => None,
        }
    }
}

pub fn unix_ms() -> i64 {
    let ns = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail() -> Value {
        json!({"event_id":"evt-1","org":"acme","subscription_type":"sql_review","node":"approval_pending",
               "recipients":["alice","bob","alice"],"title":"SQL review waiting","content":"DB prod",
               "url":"https://example.com/r/1","occurred_at":"2026-03-11T08:00:00Z"})
    }

    #[test]
    fn valid_events_parse_and_recipients_dedupe() {
        let ev = WorkflowEvent::from_detail(&detail()).expect("valid");
        assert_eq!(ev.unique_recipients(), ["alice", "bob"]);
    }

    #[test]
    fn malformed_events_name_the_problem() {
        for (patch, words) in [
            (json!({"event_id": ""}), "event_id"),
            (json!({"org": "a b"}), "org"),
            (json!({"recipients": []}), "recipients"),
            (json!({"title": " "}), "title"),
            (json!({"url": "ftp://x"}), "url"),
            (json!({"occurred_at": "yesterday"}), "occurred_at"),
            (json!({"recipients": "alice"}), "recipients"),
            (json!({"node": "a#b"}), "node"),
            (json!({"colour": "red"}), "colour"),
        ] {
            let mut d = detail();
            for (k, v) in patch.as_object().expect("obj") {
                d[k] = v.clone();
            }
            let err = WorkflowEvent::from_detail(&d).expect_err("malformed");
            assert!(err.0.contains(words), "{words}: {err}");
        }
        let err = WorkflowEvent::from_detail(&json!("{\"event_id\":1}")).expect_err("a string");
        assert!(err.0.contains("JSON object"), "{err}");
    }

    #[test]
    fn rendering_follows_the_format() {
        let ev = WorkflowEvent::from_detail(&detail()).expect("valid");
        assert_eq!(ev.render(MessageFormat::Textcard).msgtype(), "textcard");
        assert_eq!(ev.render(MessageFormat::Text).msgtype(), "text");
        assert_eq!(ev.render(MessageFormat::Markdown).msgtype(), "markdown");
        let mut no_url = ev.clone();
        no_url.url = None;
        assert_eq!(no_url.render(MessageFormat::Textcard).msgtype(), "text");
        let mut long = ev;
        long.title = "审".repeat(100);
        match long.render(MessageFormat::Textcard) {
            MessageBody::TextCard { title, .. } => {
                assert!(title.len() <= 128 && title.ends_with('…'))
            }
            other => panic!("{other:?}"),
        }
    }
}
