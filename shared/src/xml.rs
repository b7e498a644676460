//! The XML WeCom speaks on the callback URL: the encrypted envelope and the decrypted message.
//! Elements are matched by name (their order varies) and may or may not be CDATA.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Encrypt")]
    encrypt: Option<String>,
}

/// The `Encrypt` text of a push envelope.
pub fn envelope_encrypt(body: &str) -> Result<String, String> {
    let env: Envelope = quick_xml::de::from_str(body).map_err(|e| e.to_string())?;
    match env.encrypt {
        Some(e) if !e.trim().is_empty() => Ok(e.trim().to_owned()),
        _ => Err("no <Encrypt> element".into()),
    }
}

/// The decrypted message or event, with the fields this product acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PushMessage {
    #[serde(rename = "ToUserName")]
    pub to_user_name: Option<String>,
    #[serde(rename = "FromUserName")]
    pub from_user_name: Option<String>,
    #[serde(rename = "CreateTime")]
    pub create_time: Option<String>,
    #[serde(rename = "MsgType")]
    pub msg_type: Option<String>,
    #[serde(rename = "MsgId")]
    pub msg_id: Option<String>,
    #[serde(rename = "AgentID")]
    pub agent_id: Option<String>,
    #[serde(rename = "Event")]
    pub event: Option<String>,
    #[serde(rename = "ChangeType")]
    pub change_type: Option<String>,
    #[serde(rename = "UserID")]
    pub user_id: Option<String>,
    #[serde(rename = "NewUserID")]
    pub new_user_id: Option<String>,
    #[serde(rename = "Mobile")]
    pub mobile: Option<String>,
    #[serde(rename = "Email")]
    pub email: Option<String>,
}

impl PushMessage {
    pub fn parse(xml: &str) -> Result<Self, String> {
        quick_xml::de::from_str(xml).map_err(|e| e.to_string())
    }

    /// WeCom retries a push up to three times; this key names one push across retries:
    /// messages by MsgId, events by sender + CreateTime (+ event kind, so two different events
    /// in the same second are not merged).
    pub fn dedup_key(&self) -> Option<String> {
        if let Some(id) = self.msg_id.as_deref().filter(|s| !s.is_empty()) {
            return Some(format!("msg:{id}"));
        }
        let from = self.from_user_name.as_deref()?;
        let at = self.create_time.as_deref()?;
        Some(format!(
            "evt:{from}:{at}:{}:{}:{}",
            self.event.as_deref().unwrap_or(""),
            self.change_type.as_deref().unwrap_or(""),
            self.user_id.as_deref().unwrap_or("")
        ))
    }

    /// The member a contact-change event is about, when it invalidates what we know of them.
    pub fn changed_contact(&self) -> Option<&str> {
        if self.msg_type.as_deref() != Some("event")
            || self.event.as_deref() != Some("change_contact")
        {
            return None;
        }
        match self.change_type.as_deref() {
            Some("update_user" | "delete_user") => self.user_id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_with_and_without_cdata_in_any_order() {
        let a = "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID>1</AgentID></xml>";
        let b =
            "<xml><AgentID>1</AgentID><Encrypt>abc+/=</Encrypt><ToUserName>ww1</ToUserName></xml>";
        assert_eq!(envelope_encrypt(a).as_deref(), Ok("abc+/="));
        assert_eq!(envelope_encrypt(b).as_deref(), Ok("abc+/="));
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        for bad in [
            "",
            "<xml>",
            "not xml",
            "<xml><ToUserName>x</ToUserName></xml>",
            "<xml><Encrypt></Encrypt></xml>",
        ] {
            assert!(envelope_encrypt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn contact_change_is_recognised() {
        let m = PushMessage::parse(
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event><ChangeType>update_user</ChangeType><UserID><![CDATA[zhangsan]]></UserID><NewUserID><![CDATA[zhangsan001]]></NewUserID><Mobile><![CDATA[13800000000]]></Mobile></xml>",
        )
        .expect("parse");
        assert_eq!(m.changed_contact(), Some("zhangsan"));
        assert_eq!(
            m.dedup_key().as_deref(),
            Some("evt:sys:1403610513:change_contact:update_user:zhangsan")
        );
    }

    #[test]
    fn text_message_dedups_by_msg_id() {
        let m = PushMessage::parse("<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>42</MsgId></xml>").expect("parse");
        assert_eq!(m.dedup_key().as_deref(), Some("msg:42"));
        assert_eq!(m.changed_contact(), None);
    }
}
