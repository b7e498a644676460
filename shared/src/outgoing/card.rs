//! Interactive template cards (`button_interaction`, docs/WECOM.md §7): the card a member
//! answers from inside WeCom, cut to WeCom's limits so it is never refused for its shape.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// WeCom's limits for a `button_interaction` card, in characters (docs/WECOM.md §7).
pub const CARD_TITLE_MAX: usize = 36;
pub const CARD_DESC_MAX: usize = 44;
pub const CARD_SUB_TITLE_MAX: usize = 160;
pub const CARD_KEYNAME_MAX: usize = 5;
pub const CARD_VALUE_MAX: usize = 30;
pub const CARD_LINES_MAX: usize = 6;
/// Longest `task_id`, in bytes of `[A-Za-z0-9_@-]`.
pub const TASK_ID_MAX: usize = 128;

/// `s` cut to at most `max` characters, ending in "…" when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

/// The card's `task_id` for one (org, event, member): the same delivery always gets the same
/// id, so a resend after a crash meets WeCom's "task_id exists" (42014) instead of a second
/// card; distinct deliveries get distinct ids (a SHA-256 prefix of 120 bits).
pub fn task_id(org: &str, event_id: &str, member: &str) -> String {
    let mut h = Sha256::new();
    // Lengths first: ("a", "bc") and ("ab", "c") must not meet.
    for part in [org, event_id, member] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    format!("wn_{}", hex::encode(&h.finalize()[..15]))
}

/// One key/value line of the card.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CardLine {
    pub keyname: String,
    pub value: String,
}

/// One button: WeCom's `button_list` item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CardButton {
    pub text: String,
    pub style: u8,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MainTitle {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub desc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CardAction {
    /// 1: open `url`.
    #[serde(rename = "type")]
    pub kind: u8,
    pub url: String,
}

/// The `template_card` object of `message/send`, within WeCom's limits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TemplateCard {
    pub card_type: String,
    pub main_title: MainTitle,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_title_text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub horizontal_content_list: Vec<CardLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_action: Option<CardAction>,
    pub task_id: String,
    pub button_list: Vec<CardButton>,
}

impl TemplateCard {
    /// A `button_interaction` card; every text is cut to its limit, lines beyond the sixth
    /// are dropped.
    pub fn buttons(
        title: &str,
        description: &str,
        sub_title: &str,
        lines: &[(&str, &str)],
        url: Option<&str>,
        task_id: String,
        buttons: Vec<CardButton>,
    ) -> Self {
        Self {
            card_type: "button_interaction".into(),
            main_title: MainTitle {
                title: truncate_chars(title, CARD_TITLE_MAX),
                desc: truncate_chars(description, CARD_DESC_MAX),
            },
            sub_title_text: truncate_chars(sub_title, CARD_SUB_TITLE_MAX),
            horizontal_content_list: lines
                .iter()
                .take(CARD_LINES_MAX)
                .map(|(k, v)| CardLine {
                    keyname: truncate_chars(k, CARD_KEYNAME_MAX),
                    value: truncate_chars(v, CARD_VALUE_MAX),
                })
                .collect(),
            card_action: url.map(|u| CardAction {
                kind: 1,
                url: u.to_owned(),
            }),
            task_id,
            button_list: buttons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_stable_distinct_and_within_wecom_rules() {
        let a = task_id("acme", "evt-1", "alice");
        assert_eq!(a, task_id("acme", "evt-1", "alice"));
        assert_ne!(a, task_id("acme", "evt-1", "bob"));
        assert_ne!(a, task_id("acme", "evt-2", "alice"));
        assert_ne!(task_id("a", "bc", "d"), task_id("ab", "c", "d"));
        let long = task_id(&"o".repeat(64), &"事".repeat(128), &"m".repeat(64));
        for id in [a, long] {
            assert!(id.len() <= TASK_ID_MAX, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@')),
                "{id}"
            );
        }
    }

    #[test]
    fn texts_are_cut_to_wecom_limits_in_characters() {
        let lines: Vec<(&str, &str)> = (0..8)
            .map(|_| {
                (
                    "审批人员名称",
                    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一",
                )
            })
            .collect();
        let c = TemplateCard::buttons(
            &"标".repeat(40),
            &"d".repeat(50),
            &"s".repeat(200),
            &lines,
            Some("https://example.com/r/1"),
            task_id("acme", "evt-1", "alice"),
            vec![],
        );
        assert_eq!(c.main_title.title.chars().count(), CARD_TITLE_MAX);
        assert!(c.main_title.title.ends_with('…'));
        assert_eq!(c.main_title.desc.chars().count(), CARD_DESC_MAX);
        assert_eq!(c.sub_title_text.chars().count(), CARD_SUB_TITLE_MAX);
        assert_eq!(c.horizontal_content_list.len(), CARD_LINES_MAX);
        assert!(
            c.horizontal_content_list
                .iter()
                .all(|l| l.keyname.chars().count() <= CARD_KEYNAME_MAX
                    && l.value.chars().count() <= CARD_VALUE_MAX)
        );
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("", 0), "");
    }

    #[test]
    fn the_card_has_wecom_s_json_shape() {
        let c = TemplateCard::buttons(
            "SQL review",
            "",
            "prod-db",
            &[("节点", "approval_pending")],
            Some("https://example.com/r/1"),
            "wn_1".into(),
            vec![CardButton {
                text: "同意".into(),
                style: 1,
                key: "approve".into(),
            }],
        );
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "card_type": "button_interaction",
                "main_title": {"title": "SQL review"},
                "sub_title_text": "prod-db",
                "horizontal_content_list": [{"keyname": "节点", "value": "approval_pending"}],
                "card_action": {"type": 1, "url": "https://example.com/r/1"},
                "task_id": "wn_1",
                "button_list": [{"text": "同意", "style": 1, "key": "approve"}]
            })
        );
        assert_eq!(serde_json::from_value::<TemplateCard>(v).expect("back"), c);
    }
}
