//! Workflow events: the `detail` EventBridge hands dispatch, checked once at the edge, and
//! its rendering as a WeCom message.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::MessageFormat;
use crate::domain::{EventId, Node, OrgId, SubscriptionType};
use crate::i18n::Text;
use crate::outgoing::MessageBody;
use crate::outgoing::message::{
    MARKDOWN_MAX, MAX_TOUSER, TEXT_MAX, TEXTCARD_DESCRIPTION_MAX, truncate_bytes,
};

/// Most recipients one event may name (WeCom's own `touser` limit).
pub const MAX_RECIPIENTS: usize = MAX_TOUSER;

/// The `detail` of a workflow event (docs/API.md §8), validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowEvent {
    pub event_id: EventId,
    pub org: OrgId,
    pub subscription_type: SubscriptionType,
    pub node: Node,
    /// Member names; repeats are dropped.
    #[schema(value_type = Vec<crate::schema::Recipient>, min_items = 1, max_items = 1000)]
    pub recipients: Vec<String>,
    #[schema(pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    #[schema(pattern = "^https?://")]
    pub url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    /// This event's buttons instead of its subscription's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<super::Actions>,
    /// This event's `decide` instead of its subscription's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decide: Option<super::Decide>,
    /// This event's `remind_after_minutes` instead of its subscription's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_after_minutes: Option<super::RemindAfter>,
    /// This event's `reminders` instead of its subscription's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<super::Reminders>,
    /// This event's `escalate_to` instead of its subscription's (`[]`: nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<super::EscalateTo>,
    /// Goes through the recipients' quiet hours.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub urgent: bool,
}

/// Why an event cannot be dispatched: a clear message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed workflow event: {0}")]
pub struct MalformedEvent(pub Text);

impl MalformedEvent {
    fn field(field: &str, why: Text) -> Self {
        Self(
            Text::new("event.field")
                .arg("field", field)
                .arg("message", why.render()),
        )
    }
}

impl WorkflowEvent {
    /// Parses and checks an EventBridge `detail`.
    pub fn from_detail(detail: &Value) -> Result<Self, MalformedEvent> {
        if !detail.is_object() {
            return Err(MalformedEvent(Text::new("event.detail_not_object")));
        }
        // Checked first: the time parser's errors do not name the field.
        if let Some(t) = detail.get("occurred_at")
            && t.as_str()
                .is_none_or(|t| OffsetDateTime::parse(t, &Rfc3339).is_err())
        {
            return Err(MalformedEvent::field(
                "occurred_at",
                Text::new("event.occurred_at"),
            ));
        }
        let ev: Self = crate::json::from_value(detail.clone()).map_err(|e| match &e.path {
            Some(p) => MalformedEvent::field(p, e.text()),
            None => MalformedEvent(e.text()),
        })?;
        let bad = |field: &str, key: &str| MalformedEvent::field(field, Text::new(key));
        if ev.recipients.is_empty() {
            return Err(bad("recipients", "event.recipients.empty"));
        }
        if ev.recipients.len() > MAX_RECIPIENTS {
            return Err(MalformedEvent::field(
                "recipients",
                Text::new("event.recipients.too_many").arg("max", MAX_RECIPIENTS),
            ));
        }
        if ev
            .recipients
            .iter()
            .any(|r| r.is_empty() || r.len() > 128 || r.chars().any(char::is_control))
        {
            return Err(bad("recipients", "event.recipients.each"));
        }
        if ev.title.trim().is_empty() {
            return Err(bad("title", "event.title"));
        }
        if let Some(u) = &ev.url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(bad("url", "event.url"));
        }
        Ok(ev)
    }

    /// The approval rules of this event's cards: each field the event sets, else the
    /// subscription's.
    pub fn approval(&self, sub: Option<&super::Subscription>) -> super::Approval {
        let base = sub.map(super::Subscription::approval).unwrap_or_default();
        super::Approval {
            decide: self.decide.unwrap_or(base.decide),
            remind_after_minutes: self.remind_after_minutes.or(base.remind_after_minutes),
            reminders: self.reminders.unwrap_or(base.reminders),
            escalate_to: self.escalate_to.clone().unwrap_or(base.escalate_to),
        }
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
    /// The interactive card `member` answers with `actions` (docs/WECOM.md §7): the title,
    /// the content under it, the type, node and reference as lines, the URL when clicked,
    /// and a `task_id` of its own.
    pub fn render_card(&self, member: &str, actions: &super::Actions) -> MessageBody {
        use crate::outgoing::card::{CardButton, TemplateCard, task_id};
        let lines = [
            ("类型", self.subscription_type.as_str()),
            ("节点", self.node.as_str()),
            ("编号", self.event_id.as_str()),
        ];
        let buttons = actions
            .iter()
            .map(|a| CardButton {
                text: a.text.as_str().to_owned(),
                style: a.style.wecom_style(),
                key: a.key.as_str().to_owned(),
            })
            .collect();
        MessageBody::TemplateCard(Box::new(TemplateCard::buttons(
            &self.title,
            "",
            self.content.trim_end(),
            &lines,
            self.url.as_deref().filter(|u| !u.is_empty()),
            task_id(self.org.as_str(), self.event_id.as_str(), member),
            buttons,
        )))
    }

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
        assert_eq!(ev.actions, None);
        let mut d = detail();
        d["actions"] = json!([{"key": "approve", "text": "Approve"}]);
        let ev = WorkflowEvent::from_detail(&d).expect("with its own buttons");
        assert_eq!(ev.actions.map(|a| a.iter().count()), Some(1));
    }

    #[test]
    fn the_events_approval_fields_win_over_the_subscriptions() {
        let mut sub = super::super::Subscription::new(
            SubscriptionType::parse("sql_review").expect("type"),
            Node::parse("approval_pending").expect("node"),
            true,
        );
        sub.remind_after_minutes = super::super::RemindAfter::new(30).ok();
        sub.reminders = super::super::Reminders::new(2).expect("2");
        let mut d = detail();
        d["decide"] = json!("any");
        d["reminders"] = json!(1);
        d["escalate_to"] = json!(["carol"]);
        d["urgent"] = json!(true);
        let ev = WorkflowEvent::from_detail(&d).expect("valid");
        let a = ev.approval(Some(&sub));
        assert_eq!(a.decide, super::super::Decide::Any);
        assert_eq!(a.remind_after_minutes.map(|r| r.minutes()), Some(30));
        assert_eq!(a.reminders.get(), 1);
        assert_eq!(a.escalate_to.iter().count(), 1);
        assert!(ev.urgent);
        let plain = WorkflowEvent::from_detail(&detail()).expect("valid");
        assert_eq!(plain.approval(Some(&sub)), sub.approval());
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
            (
                json!({"actions": [{"key": "a b", "text": "A"}]}),
                "actions[0].key",
            ),
            (json!({"actions": []}), "actions"),
            (json!({"decide": "all"}), "decide"),
            (json!({"remind_after_minutes": 0}), "remind_after_minutes"),
            (json!({"reminders": 9}), "reminders"),
            (json!({"escalate_to": ["a b"]}), "escalate_to[0]"),
            (json!({"urgent": "yes"}), "urgent"),
        ] {
            let mut d = detail();
            for (k, v) in patch.as_object().expect("obj") {
                d[k] = v.clone();
            }
            let err = WorkflowEvent::from_detail(&d).expect_err("malformed");
            assert!(err.0.to_string().contains(words), "{words}: {err}");
        }
        let err = WorkflowEvent::from_detail(&json!("{\"event_id\":1}")).expect_err("a string");
        assert!(err.0.to_string().contains("JSON object"), "{err}");
    }

    #[test]
    fn a_card_carries_the_buttons_and_a_task_id_per_member() {
        let mut d = detail();
        d["actions"] = json!([{"key": "approve", "text": "同意"}, {"key": "reject", "text": "驳回", "style": "danger"}]);
        let ev = WorkflowEvent::from_detail(&d).expect("valid");
        let actions = ev.actions.clone().expect("actions");
        let (a, b) = (
            ev.render_card("alice", &actions),
            ev.render_card("bob", &actions),
        );
        let (MessageBody::TemplateCard(a), MessageBody::TemplateCard(b)) = (a, b) else {
            panic!("not cards");
        };
        assert_ne!(a.task_id, b.task_id);
        assert_eq!(
            a.task_id,
            crate::outgoing::card::task_id("acme", "evt-1", "alice")
        );
        assert_eq!(a.main_title.title, "SQL review waiting");
        assert_eq!(a.sub_title_text, "DB prod");
        let keys: Vec<(&str, u8)> = a
            .button_list
            .iter()
            .map(|b| (b.key.as_str(), b.style))
            .collect();
        assert_eq!(keys, [("approve", 1), ("reject", 3)]);
        assert_eq!(
            a.card_action.as_ref().map(|c| c.url.as_str()),
            Some("https://example.com/r/1")
        );
        assert_eq!(a.horizontal_content_list[2].value, "evt-1");
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
