//! What we send: WeCom message bodies, cut to WeCom's byte limits at character boundaries.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// WeCom's limits in bytes (docs/WECOM.md §4).
pub const TEXT_MAX: usize = 2048;
pub const MARKDOWN_MAX: usize = 2048;
pub const TEXTCARD_TITLE_MAX: usize = 128;
pub const TEXTCARD_DESCRIPTION_MAX: usize = 512;

const ELLIPSIS: &str = "…";

/// `s` cut to at most `max` bytes, never inside a character, ending in "…" when cut.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let room = max.saturating_sub(ELLIPSIS.len());
    let mut end = room.min(s.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    if max < ELLIPSIS.len() {
        return String::new();
    }
    format!("{}{ELLIPSIS}", &s[..end])
}

/// Most users one `message/send` may name.
pub const MAX_TOUSER: usize = 1000;

/// A message body, already within WeCom's limits. Stored with delayed deliveries in the same
/// shape (`{"msgtype": …, fields}`), so it is sent later exactly as rendered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
pub enum MessageBody {
    Text {
        content: String,
    },
    Markdown {
        content: String,
    },
    #[serde(rename = "textcard")]
    TextCard {
        title: String,
        description: String,
        url: String,
    },
    /// An interactive card with buttons (docs/WECOM.md §7).
    #[serde(rename = "template_card")]
    TemplateCard(Box<super::card::TemplateCard>),
}

impl MessageBody {
    pub fn text(content: &str) -> Self {
        Self::Text {
            content: truncate_bytes(content, TEXT_MAX),
        }
    }

    pub fn markdown(content: &str) -> Self {
        Self::Markdown {
            content: truncate_bytes(content, MARKDOWN_MAX),
        }
    }

    pub fn text_card(title: &str, description: &str, url: &str) -> Self {
        Self::TextCard {
            title: truncate_bytes(title, TEXTCARD_TITLE_MAX),
            description: truncate_bytes(description, TEXTCARD_DESCRIPTION_MAX),
            url: url.to_owned(),
        }
    }

    pub fn msgtype(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Markdown { .. } => "markdown",
            Self::TextCard { .. } => "textcard",
            Self::TemplateCard(_) => "template_card",
        }
    }

    fn object(&self) -> Value {
        match self {
            Self::Text { content } | Self::Markdown { content } => json!({ "content": content }),
            Self::TextCard {
                title,
                description,
                url,
            } => {
                json!({ "title": title, "description": description, "url": url, "btntxt": "详情" })
            }
            // A plain struct of strings and numbers: serialising it cannot fail.
            Self::TemplateCard(card) => serde_json::to_value(card).unwrap_or(Value::Null),
        }
    }
}

/// The recipients of one `message/send`, sorted and each once: WeCom's `touser`, written as
/// WeCom takes it (`a|b|c`) wherever it is stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Touser(Vec<String>);

impl Touser {
    pub fn of<S: Into<String>>(users: impl IntoIterator<Item = S>) -> Self {
        let mut users: Vec<String> = users.into_iter().map(Into::into).collect();
        users.sort();
        users.dedup();
        Self(users)
    }

    pub fn users(&self) -> &[String] {
        &self.0
    }
}

impl From<String> for Touser {
    fn from(stored: String) -> Self {
        Self::of(stored.split('|'))
    }
}

impl From<Touser> for String {
    fn from(t: Touser) -> Self {
        t.0.join("|")
    }
}

/// One `message/send` call.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub touser: Vec<String>,
    pub agent_id: i64,
    pub body: MessageBody,
    /// WeCom drops an identical message to the same users within the interval: a second net
    /// under our own exactly-once bookkeeping.
    pub duplicate_check_interval: Option<u32>,
}

impl OutgoingMessage {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "touser": self.touser.join("|"),
            "msgtype": self.body.msgtype(),
            "agentid": self.agent_id,
            "safe": 0,
        });
        v[self.body.msgtype()] = self.body.object();
        if let Some(i) = self.duplicate_check_interval {
            v["enable_duplicate_check"] = json!(1);
            v["duplicate_check_interval"] = json!(i.min(14_400));
        }
        v
    }
}

/// `message/send`'s answer for a call WeCom accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReceipt {
    pub msgid: Option<String>,
    /// Recipients WeCom did not deliver to although errcode was 0.
    pub invalid_users: Vec<String>,
    pub unlicensed_users: Vec<String>,
    /// For an interactive card: the single-use code that updates it (valid 72 hours).
    pub response_code: Option<String>,
}

impl SendReceipt {
    /// True when `userid` was among the recipients that did not get the message.
    pub fn missed(&self, userid: &str) -> bool {
        let eq = |u: &String| u.eq_ignore_ascii_case(userid);
        self.invalid_users.iter().any(eq) || self.unlicensed_users.iter().any(eq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touser_is_stored_as_wecom_takes_it() {
        let t = Touser::of(["lisi", "zhangsan", "lisi"]);
        assert_eq!(t.users(), ["lisi", "zhangsan"]);
        let stored = serde_json::to_value(&t).expect("json");
        assert_eq!(stored, json!("lisi|zhangsan"));
        assert_eq!(serde_json::from_value::<Touser>(stored).expect("read"), t);
    }

    #[test]
    fn truncation_respects_bytes_and_characters() {
        assert_eq!(truncate_bytes("short", 10), "short");
        let cjk = "审批".repeat(100); // 3 bytes each
        let cut = truncate_bytes(&cjk, 128);
        assert!(cut.len() <= 128, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(
            cut.trim_end_matches('…')
                .chars()
                .all(|c| c == '审' || c == '批')
        );
        let emoji = "🚀".repeat(600); // 4 bytes each
        let cut = truncate_bytes(&emoji, 2048);
        assert!(cut.len() <= 2048);
        assert_eq!(truncate_bytes("abcdef", 2), "");
    }

    proptest::proptest! {
        #[test]
        fn truncation_is_always_valid(s in ".{0,400}", max in 0usize..600) {
            let cut = truncate_bytes(&s, max);
            proptest::prop_assert!(cut.len() <= max.max(s.len().min(max)));
            proptest::prop_assert!(cut.len() <= max || cut == s);
        }
    }

    #[test]
    fn json_shape_matches_wecom() {
        let m = OutgoingMessage {
            touser: vec!["a".into(), "b".into()],
            agent_id: 1000002,
            body: MessageBody::text_card("t", "d", "https://x"),
            duplicate_check_interval: Some(1800),
        };
        let v = m.to_json();
        assert_eq!(v["touser"], "a|b");
        assert_eq!(v["agentid"], 1000002);
        assert_eq!(v["msgtype"], "textcard");
        assert_eq!(v["textcard"]["url"], "https://x");
        assert_eq!(v["enable_duplicate_check"], 1);
    }

    #[test]
    fn bodies_are_stored_in_their_wire_shape() {
        let card = MessageBody::text_card("t", "d", "https://x");
        let v = serde_json::to_value(&card).expect("json");
        assert_eq!(
            v,
            json!({"msgtype": "textcard", "title": "t", "description": "d", "url": "https://x"})
        );
        assert_eq!(
            serde_json::from_value::<MessageBody>(v).expect("back"),
            card
        );
        let text = serde_json::to_value(MessageBody::text("hi")).expect("json");
        assert_eq!(text, json!({"msgtype": "text", "content": "hi"}));
        let card = MessageBody::TemplateCard(Box::new(super::super::card::TemplateCard::buttons(
            "t",
            "",
            "",
            &[],
            None,
            "wn_1".into(),
            vec![],
        )));
        let v = serde_json::to_value(&card).expect("json");
        assert_eq!(v["msgtype"], "template_card");
        assert_eq!(v["task_id"], "wn_1");
        assert_eq!(
            serde_json::from_value::<MessageBody>(v).expect("back"),
            card
        );
        let m = OutgoingMessage {
            touser: vec!["a".into()],
            agent_id: 1,
            body: card,
            duplicate_check_interval: None,
        };
        assert_eq!(
            m.to_json()["template_card"]["card_type"],
            "button_interaction"
        );
    }
}
