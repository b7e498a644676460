//! The XML WeCom speaks on the callback URL: the encrypted envelope and the decrypted message.
//! Elements are matched by name (their order varies) and may or may not be CDATA.
//!
//! Both are read with quick-xml's borrowing event reader ([`quick_xml::Reader::from_str`]):
//! a value is a slice of the input unless it needs rewriting (an entity, a `\r`, text and
//! CDATA joined). The rules are those of quick-xml's serde deserializer reading a struct of
//! `Option<String>` fields, which the tests below check on generated documents:
//! - the root element's name is free; its children are matched by local name (`a:MsgType` is
//!   `MsgType`), other elements are skipped whatever they hold (only their tags are checked);
//! - a field's value is its text, CDATA sections and entity references joined, untrimmed, line
//!   ends normalised (XML 1.0, or 1.1 when the declaration says so); `<F/>` is `""`;
//! - text directly inside the root is ignored (WeCom puts only line breaks there);
//! - a field named twice, an element inside a field, an unknown entity, an unclosed or
//!   mismatched tag are errors.
//!
//! Where we part from the deserializer, deliberately (WeCom sends none of these):
//! - anything but whitespace, comments and processing instructions after the root element is
//!   an error (the deserializer stops reading at the root's end tag); so are CDATA or a
//!   reference before the root, an XML declaration anywhere but first, a DOCTYPE inside the
//!   root (the deserializer skips all three);
//! - the attributes of the root and of fields are checked for syntax and otherwise ignored
//!   (the deserializer checks only the root's, and reads an `xsi:nil="true"` field as absent).

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// The `Encrypt` text of a push envelope.
pub fn envelope_encrypt(body: &str) -> Result<String, String> {
    envelope_encrypt_ref(body).map(Cow::into_owned)
}

/// The `Encrypt` text of a push envelope, borrowed from `body` (trimmed, non-empty).
pub fn envelope_encrypt_ref(body: &str) -> Result<Cow<'_, str>, String> {
    let [encrypt] = fields(body, &["Encrypt"], |name| (name == "Encrypt").then_some(0))?;
    match encrypt {
        Some(Cow::Borrowed(e)) if !e.trim().is_empty() => Ok(Cow::Borrowed(e.trim())),
        Some(Cow::Owned(e)) if !e.trim().is_empty() => Ok(Cow::Owned(e.trim().to_owned())),
        _ => Err("no <Encrypt> element".into()),
    }
}

/// Declares [`PushMessage`] from one list of its fields, each with its element name, and
/// derives from that list what must name every field in the same order: the element names,
/// the lookup of a name's index, the parse and [`PushMessage::into_owned`]. A field added to
/// the list is parsed without touching anything else.
macro_rules! push_message {
    (
        $(#[$meta:meta])*
        pub struct PushMessage<'a> {
            $($(#[$field_meta:meta])* $field:ident: $element:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct PushMessage<'a> {
            $($(#[$field_meta])* pub $field: Option<Cow<'a, str>>,)*
        }

        /// The element name of each [`PushMessage`] field, in declaration order.
        const PUSH_FIELDS: [&str; <[&str]>::len(&[$($element),*])] = [$($element),*];

        /// The index in [`PUSH_FIELDS`] of an element name (a `match`: quicker than a search).
        fn push_field(name: &str) -> Option<usize> {
            // The fields' positions, numbered by the compiler in declaration order.
            #[allow(non_camel_case_types, clippy::enum_variant_names)]
            enum Index {
                $($field,)*
            }
            Some(match name {
                $($element => Index::$field as usize,)*
                _ => return None,
            })
        }

        impl<'a> PushMessage<'a> {
            pub fn parse(xml: &'a str) -> Result<Self, String> {
                let [$($field),*] = fields(xml, &PUSH_FIELDS, push_field)?;
                Ok(Self { $($field),* })
            }

            /// The same message, owning its values.
            pub fn into_owned(self) -> PushMessage<'static> {
                let own = |v: Option<Cow<'a, str>>| v.map(|v| Cow::Owned(v.into_owned()));
                PushMessage {
                    $($field: own(self.$field),)*
                }
            }
        }
    };
}

push_message! {
    /// The decrypted message or event, with the fields this product acts on. Values borrow from
    /// the parsed text where they can ([`PushMessage::into_owned`] detaches them).
    pub struct PushMessage<'a> {
        to_user_name: "ToUserName",
        from_user_name: "FromUserName",
        create_time: "CreateTime",
        msg_type: "MsgType",
        msg_id: "MsgId",
        agent_id: "AgentID",
        event: "Event",
        change_type: "ChangeType",
        user_id: "UserID",
        new_user_id: "NewUserID",
        mobile: "Mobile",
        email: "Email",
        /// A card click (`template_card_event`): the button's key, the card's task id and type,
        /// and the fresh single-use code that updates the card.
        event_key: "EventKey",
        task_id: "TaskId",
        card_type: "CardType",
        response_code: "ResponseCode",
    }
}

impl PushMessage<'_> {
    /// WeCom retries a push up to three times; this key names one push across retries:
    /// messages by MsgId, events by sender + CreateTime (+ event kind, so two different events
    /// in the same second are not merged).
    pub fn dedup_key(&self) -> Option<String> {
        if let Some(id) = self.msg_id.as_deref().filter(|s| !s.is_empty()) {
            return Some(format!("msg:{id}"));
        }
        let from = self.from_user_name.as_deref()?;
        let at = self.create_time.as_deref()?;
        let mut key = format!(
            "evt:{from}:{at}:{}:{}:{}",
            self.event.as_deref().unwrap_or(""),
            self.change_type.as_deref().unwrap_or(""),
            self.user_id.as_deref().unwrap_or("")
        );
        // A card click also by its card and button: two cards answered in the same second,
        // or two buttons of one card, are two pushes.
        if let Some(task) = self.task_id.as_deref() {
            key.push(':');
            key.push_str(task);
            key.push(':');
            key.push_str(self.event_key.as_deref().unwrap_or(""));
        }
        Some(key)
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

/// The values of the root's child elements named in `names`, borrowed from `xml` where they
/// need no rewriting; `slot` gives an element name's index in `names`. The whole document is
/// read, so a malformed one is an error.
fn fields<'a, const N: usize>(
    xml: &'a str,
    names: &[&'static str; N],
    slot: impl Fn(&str) -> Option<usize>,
) -> Result<[Option<Cow<'a, str>>; N], String> {
    let mut r = Reader::from_str(xml);
    let mut out = [const { None }; N];
    let (version, open) = prolog(&mut r)?;
    if open {
        children(&mut r, version, names, slot, &mut out)?;
    }
    epilog(&mut r)?;
    Ok(out)
}

/// Reads up to the root's start tag: an XML declaration first, then comments, processing
/// instructions, a DOCTYPE (its entities are not used) and whitespace. Gives the XML version
/// and whether the root has content (`<xml/>` has none).
fn prolog(r: &mut Reader<&[u8]>) -> Result<(XmlVersion, bool), String> {
    let mut version = XmlVersion::Implicit1_0;
    let mut first = true;
    loop {
        match next(r)? {
            Event::Decl(d) if first => {
                version = d
                    .xml_version()
                    .map_err(|e| format!("XML declaration: {e}"))?;
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Text(t) if is_blank(&t) => {}
            Event::Start(root) => return attributes(&root).map(|()| (version, true)),
            Event::Empty(root) => return attributes(&root).map(|()| (version, false)),
            Event::Eof => return Err("no root element".into()),
            _ => return Err(unexpected(r, "before the root element")),
        }
        first = false;
    }
}

/// Reads the root's children up to its end tag (the reader checks that it matches), filling
/// `out` from the fields named in `names`.
fn children<'a>(
    r: &mut Reader<&'a [u8]>,
    version: XmlVersion,
    names: &[&'static str],
    slot: impl Fn(&str) -> Option<usize>,
    out: &mut [Option<Cow<'a, str>>],
) -> Result<(), String> {
    loop {
        match next(r)? {
            Event::Start(e) => match slot(e.local_name().as_ref()) {
                Some(k) => {
                    attributes(&e)?;
                    let v = value(r, version, names[k])?;
                    put(out, names, k, v)?;
                }
                None => {
                    let name = e.name();
                    r.read_to_end(name)
                        .map_err(|err| format!("malformed XML in <{}>: {err}", name.as_ref()))?;
                }
            },
            Event::Empty(e) => {
                if let Some(k) = slot(e.local_name().as_ref()) {
                    attributes(&e)?;
                    put(out, names, k, Cow::Borrowed(""))?;
                }
            }
            Event::End(_) => return Ok(()),
            // Text beside the fields is ignored; its references must still be well-formed.
            Event::GeneralRef(g) => {
                reference(&g)?;
            }
            Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Decl(_) | Event::DocType(_) => return Err(unexpected(r, "in the root element")),
            Event::Eof => return Err("the root element is not closed".into()),
        }
    }
}

/// Reads the rest after the root element: comments, processing instructions, whitespace.
fn epilog(r: &mut Reader<&[u8]>) -> Result<(), String> {
    loop {
        match next(r)? {
            Event::Eof => return Ok(()),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if is_blank(&t) => {}
            _ => return Err(unexpected(r, "after the root element")),
        }
    }
}

fn unexpected(r: &Reader<&[u8]>, place: &str) -> String {
    format!(
        "unexpected content {place} (ending at byte {})",
        r.buffer_position()
    )
}

/// The next event, borrowing from the input.
fn next<'a>(r: &mut Reader<&'a [u8]>) -> Result<Event<'a>, String> {
    r.read_event()
        .map_err(|e| format!("malformed XML at byte {}: {e}", r.error_position()))
}

/// XML whitespace only.
fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn put<'a>(
    out: &mut [Option<Cow<'a, str>>],
    names: &[&str],
    k: usize,
    v: Cow<'a, str>,
) -> Result<(), String> {
    match &mut out[k] {
        Some(_) => Err(format!("<{}> appears twice", names[k])),
        slot => {
            *slot = Some(v);
            Ok(())
        }
    }
}

/// The element's attributes must be well-formed; their values are not used.
fn attributes(e: &BytesStart<'_>) -> Result<(), String> {
    for a in e.attributes() {
        a.map_err(|err| format!("malformed attribute in <{}>: {err}", e.name().as_ref()))?;
    }
    Ok(())
}

/// A field's value up to its end tag: text, CDATA sections and references joined (borrowed
/// when it is a single piece needing no rewriting); comments and processing instructions
/// inside are dropped.
fn value<'a>(
    r: &mut Reader<&'a [u8]>,
    version: XmlVersion,
    name: &str,
) -> Result<Cow<'a, str>, String> {
    let mut value = Cow::Borrowed("");
    loop {
        let more = match next(r)? {
            Event::End(_) => return Ok(value),
            Event::Text(t) => t.xml_content(version),
            Event::CData(t) => t.xml_content(version),
            Event::GeneralRef(g) => reference(&g)?,
            Event::Comment(_) | Event::PI(_) => continue,
            Event::Start(e) | Event::Empty(e) => {
                return Err(format!("<{name}> holds an element <{}>", e.name().as_ref()));
            }
            Event::Decl(_) | Event::DocType(_) => {
                return Err(format!("<{name}> holds a declaration"));
            }
            Event::Eof => return Err(format!("<{name}> is not closed")),
        };
        if value.is_empty() {
            value = more;
        } else {
            value.to_mut().push_str(&more);
        }
    }
}

/// The text a reference stands for: a character reference or one of XML's five entities
/// (a DOCTYPE's own entities are not expanded).
fn reference(g: &BytesRef<'_>) -> Result<Cow<'static, str>, String> {
    match g.resolve_char_ref() {
        Ok(Some(c)) => Ok(Cow::Owned(c.to_string())),
        Ok(None) => quick_xml::escape::resolve_predefined_entity(g)
            .map(Cow::Borrowed)
            .ok_or_else(|| format!("unknown entity &{};", &**g)),
        Err(e) => Err(format!("&{};: {e}", &**g)),
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
            "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
            "<xml><Encrypt>a</Encrypt></xml><xml/>",
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
    fn field_names_match() {
        for (k, name) in PUSH_FIELDS.iter().enumerate() {
            assert_eq!(push_field(name), Some(k));
        }
    }

    #[test]
    fn a_card_click_carries_its_key_task_and_code() {
        // docs/WECOM.md §7: the plaintext of a template_card_event push.
        let xml = "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>\
            <FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime>\
            <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>\
            <EventKey><![CDATA[approve]]></EventKey><TaskId><![CDATA[wn_1]]></TaskId>\
            <CardType><![CDATA[button_interaction]]></CardType>\
            <ResponseCode><![CDATA[rc-1]]></ResponseCode><AgentID>1000002</AgentID></xml>";
        let m = PushMessage::parse(xml).expect("parse");
        assert_eq!(m.event.as_deref(), Some("template_card_event"));
        assert_eq!(m.event_key.as_deref(), Some("approve"));
        assert_eq!(m.task_id.as_deref(), Some("wn_1"));
        assert_eq!(m.card_type.as_deref(), Some("button_interaction"));
        assert_eq!(m.response_code.as_deref(), Some("rc-1"));
        // Clicks on two cards in the same second are two pushes.
        let other = xml.replace("wn_1", "wn_2");
        let n = PushMessage::parse(&other).expect("parse");
        assert_ne!(m.dedup_key(), n.dedup_key());
        // So are two buttons of one card; the same push retried is one.
        let reject = xml.replace("approve", "reject");
        let r = PushMessage::parse(&reject).expect("parse");
        assert_ne!(m.dedup_key(), r.dedup_key());
        let again = PushMessage::parse(xml).expect("parse");
        assert_eq!(m.dedup_key(), again.dedup_key());
    }

    #[test]
    fn text_message_dedups_by_msg_id() {
        let m = PushMessage::parse("<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>42</MsgId></xml>").expect("parse");
        assert_eq!(m.dedup_key().as_deref(), Some("msg:42"));
        assert_eq!(m.changed_contact(), None);
    }

    /// quick-xml's serde deserializer reading the same fields: the reference.
    #[derive(serde::Deserialize)]
    struct Reference {
        #[serde(rename = "ToUserName")]
        to_user_name: Option<String>,
        #[serde(rename = "FromUserName")]
        from_user_name: Option<String>,
        #[serde(rename = "CreateTime")]
        create_time: Option<String>,
        #[serde(rename = "MsgType")]
        msg_type: Option<String>,
        #[serde(rename = "MsgId")]
        msg_id: Option<String>,
        #[serde(rename = "AgentID")]
        agent_id: Option<String>,
        #[serde(rename = "Event")]
        event: Option<String>,
        #[serde(rename = "ChangeType")]
        change_type: Option<String>,
        #[serde(rename = "UserID")]
        user_id: Option<String>,
        #[serde(rename = "NewUserID")]
        new_user_id: Option<String>,
        #[serde(rename = "Mobile")]
        mobile: Option<String>,
        #[serde(rename = "Email")]
        email: Option<String>,
        #[serde(rename = "EventKey")]
        event_key: Option<String>,
        #[serde(rename = "TaskId")]
        task_id: Option<String>,
        #[serde(rename = "CardType")]
        card_type: Option<String>,
        #[serde(rename = "ResponseCode")]
        response_code: Option<String>,
    }

    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "Encrypt")]
        encrypt: Option<String>,
    }

    /// What the deserializer makes of a document: the message (or none) and the envelope's
    /// `Encrypt` (trimmed, non-empty).
    fn by_serde(xml: &str) -> (Option<PushMessage<'static>>, Option<String>) {
        let msg = quick_xml::de::from_str::<Reference>(xml)
            .ok()
            .map(|r| PushMessage {
                to_user_name: r.to_user_name.map(Cow::Owned),
                from_user_name: r.from_user_name.map(Cow::Owned),
                create_time: r.create_time.map(Cow::Owned),
                msg_type: r.msg_type.map(Cow::Owned),
                msg_id: r.msg_id.map(Cow::Owned),
                agent_id: r.agent_id.map(Cow::Owned),
                event: r.event.map(Cow::Owned),
                change_type: r.change_type.map(Cow::Owned),
                user_id: r.user_id.map(Cow::Owned),
                new_user_id: r.new_user_id.map(Cow::Owned),
                mobile: r.mobile.map(Cow::Owned),
                email: r.email.map(Cow::Owned),
                event_key: r.event_key.map(Cow::Owned),
                task_id: r.task_id.map(Cow::Owned),
                card_type: r.card_type.map(Cow::Owned),
                response_code: r.response_code.map(Cow::Owned),
            });
        let env = quick_xml::de::from_str::<Envelope>(xml)
            .ok()
            .and_then(|e| e.encrypt)
            .filter(|e| !e.trim().is_empty())
            .map(|e| e.trim().to_owned());
        (msg, env)
    }

    /// Whether the document has, outside its root element, something other than an XML
    /// declaration first, comments, processing instructions, a DOCTYPE before the root and
    /// whitespace: what we refuse and the deserializer may not look at (it stops at the
    /// root's end tag, and skips blank CDATA or references before the root).
    fn junk_outside_root(xml: &str) -> bool {
        let mut r = Reader::from_str(xml);
        let (mut depth, mut seen_root, mut first) = (0usize, false, true);
        loop {
            let Ok(event) = r.read_event() else {
                // The deserializer fails too, unless it had finished reading.
                return seen_root && depth == 0;
            };
            let outside = depth == 0;
            match event {
                Event::Eof => return false,
                Event::Decl(_) if first => {}
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) if !seen_root => {}
                Event::Text(t) if outside && is_blank(&t) => {}
                Event::Start(_) if !(outside && seen_root) => {
                    depth += 1;
                    seen_root = true;
                }
                Event::Empty(_) if !(outside && seen_root) => seen_root = true,
                Event::End(_) if !outside => depth -= 1,
                _ if !outside => {}
                _ => return true,
            }
            first = false;
        }
    }

    /// Our parse gives the deserializer's values, or refuses what it documents refusing.
    fn agrees(xml: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let (mut msg, mut env) = by_serde(xml);
        if junk_outside_root(xml) {
            (msg, env) = (None, None);
        }
        proptest::prop_assert_eq!(
            PushMessage::parse(xml).map(PushMessage::into_owned).ok(),
            msg,
            "{:?}",
            xml
        );
        proptest::prop_assert_eq!(envelope_encrypt(xml).ok(), env, "{:?}", xml);
        Ok(())
    }

    fn borrowed(v: &Option<Cow<'_, str>>) -> bool {
        matches!(v, None | Some(Cow::Borrowed(_)))
    }

    #[test]
    fn what_wecom_sends_is_borrowed_and_agrees() {
        let wecom = [
            "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>",
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>",
            "<xml><MsgType>event</MsgType><Event>template_card_event</Event><SelectedItems><SelectedItem><QuestionKey><![CDATA[q]]></QuestionKey><OptionIds><OptionId>1</OptionId><OptionId/></OptionIds></SelectedItem></SelectedItems></xml>",
        ];
        for xml in wecom {
            let m = PushMessage::parse(xml).expect("parse");
            assert!(m.to_user_name.is_some() || m.msg_type.is_some(), "{xml}");
            for v in [
                &m.to_user_name,
                &m.msg_type,
                &m.event,
                &m.msg_id,
                &m.agent_id,
            ] {
                assert!(borrowed(v), "{xml}: {v:?}");
            }
            agrees(xml).expect("same as the deserializer");
        }
    }

    /// The constructs WeCom does not send: the value we give (`None`: an error), each checked
    /// against the deserializer too.
    #[test]
    fn other_constructs() {
        let cases: [(&str, Option<&str>); 22] = [
            (
                "<xml><A> x </A><MsgType>a&amp;b</MsgType></xml>",
                Some("a&b"),
            ),
            ("<xml><MsgType>&#49;&#x32;</MsgType></xml>", Some("12")),
            ("<xml><MsgType>1\r\n2\r3</MsgType></xml>", Some("1\n2\n3")),
            (
                "<xml><MsgType> x<![CDATA[y]]> </MsgType></xml>",
                Some(" xy "),
            ),
            ("<xml><MsgType>x<!-- c -->y</MsgType></xml>", Some("xy")),
            ("<xml><MsgType x=\"1\">1</MsgType></xml>", Some("1")),
            (
                "<?xml version=\"1.0\"?><xml><MsgType>1</MsgType></xml>",
                Some("1"),
            ),
            ("<xml><a:MsgType>1</a:MsgType></xml>", Some("1")),
            ("<xml><MsgType>1</MsgType><!-- c --></xml>", Some("1")),
            (" <xml><MsgType>1</MsgType></xml>\n<!-- c -->\n", Some("1")),
            ("<xml>text<MsgType>1</MsgType>&lt;</xml>", Some("1")),
            ("<xml><B>&foo;</B><MsgType>1</MsgType></xml>", Some("1")),
            ("<xml><MsgType/></xml>", Some("")),
            ("<xml><MsgType>1</MsgType><MsgType>2</MsgType></xml>", None),
            ("<xml><MsgType><B/></MsgType></xml>", None),
            ("<xml><MsgType>&foo;</MsgType></xml>", None),
            ("<xml>&foo;<MsgType>1</MsgType></xml>", None),
            ("<xml x=1><MsgType>1</MsgType></xml>", None),
            ("<xml><MsgType>1</MsgType>", None),
            ("<xml><MsgType>1</B></xml>", None),
            ("", None),
            // Refused here, accepted by the deserializer (which stops at `</xml>`).
            ("<xml><MsgType>1</MsgType></xml>trailing", None),
        ];
        for (xml, want) in cases {
            let got = PushMessage::parse(xml);
            assert_eq!(
                got.as_ref().ok().map(|m| m.msg_type.as_deref()),
                want.map(Some),
                "{xml:?}"
            );
            agrees(xml).expect("same as the deserializer");
        }
        // Also refused here only: misplaced declarations, CDATA or a reference before the root,
        // a malformed attribute on a field.
        for xml in [
            "<xml><MsgType x=1>1</MsgType></xml>",
            "<xml><?xml version=\"1.0\"?><MsgType>1</MsgType></xml>",
            "<xml><MsgType><?xml version=\"1.0\"?>1</MsgType></xml>",
            "<xml><!DOCTYPE x><MsgType>1</MsgType></xml>",
            "<![CDATA[ ]]><xml><MsgType>1</MsgType></xml>",
            "&#32;<xml><MsgType>1</MsgType></xml>",
            "<xml/><xml/>",
        ] {
            assert!(PushMessage::parse(xml).is_err(), "{xml:?}");
        }
        assert_eq!(PushMessage::parse("<xml/>"), Ok(PushMessage::default()));
    }

    #[test]
    fn deep_nesting_is_not_a_problem() {
        let deep = format!(
            "<xml>{}{}<MsgType>1</MsgType></xml>",
            "<B>".repeat(100_000),
            "</B>".repeat(100_000)
        );
        assert_eq!(
            PushMessage::parse(&deep)
                .expect("parse")
                .msg_type
                .as_deref(),
            Some("1")
        );
        let unclosed = format!("<xml>{}", "<B>".repeat(100_000));
        assert!(PushMessage::parse(&unclosed).is_err());
    }

    /// Documents of WeCom's shape, now and then with a construct it does not send (an entity,
    /// `\r`, mixed text and CDATA, a comment, a prolog, a namespace, trailing text, a repeated
    /// field), over the field names of both structs.
    fn document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = prop_oneof![
            12 => prop::sample::select(vec![
                "ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "AgentID",
                "Event", "ChangeType", "UserID", "NewUserID", "Mobile", "Email", "Encrypt",
                "Content", "B",
            ]),
            1 => prop::sample::select(vec!["xml", "a:MsgType", "MsgType.x"]),
        ];
        let text = prop_oneof![
            6 => prop::sample::select(vec![
                "", "1", "text", " x ", "\t", "a>b", "]]>", "\u{3000}é", "+/=", "\n1 ",
            ]),
            1 => prop::sample::select(vec!["a&amp;b", "&#49;", "&foo;", "1\r\n2", "<", "\r"]),
        ];
        let value = prop_oneof![
            6 => text.clone().prop_map(str::to_owned),
            3 => text.clone().prop_map(|t| format!("<![CDATA[{t}]]>")),
            1 => (text.clone(), text.clone()).prop_map(|(a, b)| format!("{a}<![CDATA[{b}]]>")),
        ];
        let leaf = (name.clone(), value, any::<bool>()).prop_map(|(n, v, empty)| {
            if empty && v.is_empty() {
                format!("<{n}/>")
            } else {
                format!("<{n}>{v}</{n}>")
            }
        });
        let element = leaf.prop_recursive(3, 16, 3, move |inner| {
            (name.clone(), prop::collection::vec(inner, 0..3))
                .prop_map(|(n, kids)| format!("<{n}>{}</{n}>", kids.concat()))
        });
        let sep = prop_oneof![
            8 => prop::sample::select(vec!["", "\n", " "]),
            1 => prop::sample::select(vec!["\r\n", "x", "<!-- c -->", "&amp;", "<![CDATA[c]]>"]),
        ];
        let noise = prop_oneof![
            8 => Just(""),
            1 => prop::sample::select(vec![
                " ", "<?xml version=\"1.0\"?>", "</xml>", "x", "<", "&", "<!-- c -->",
                "<![CDATA[ ]]>", "&#32;", "<xml/>",
            ]),
        ];
        (
            noise.clone(),
            prop::sample::select(vec!["xml", "root"]),
            prop::collection::vec((sep, element), 0..6),
            noise,
        )
            .prop_map(|(pre, root, kids, post)| {
                let body: String = kids.into_iter().map(|(s, e)| format!("{s}{e}")).collect();
                format!("{pre}<{root}>{body}</{root}>{post}")
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        #[test]
        fn parse_agrees_with_the_deserializer(xml in document()) {
            agrees(&xml)?;
        }

        #[test]
        fn parse_agrees_on_any_text(xml in "(<|>|/|!|\\?|\\[|\\]|CDATA|xml|MsgType|Encrypt|MsgId|&amp;|&#32;|\\r| |a|=|\"|--){0,40}") {
            agrees(&xml)?;
        }
    }

    #[test]
    fn borrowed_values_are_slices_of_the_input() {
        let xml = "<xml><MsgType><![CDATA[event]]></MsgType><Event>change_contact</Event></xml>";
        let m = PushMessage::parse(xml).expect("parse");
        assert!(matches!(m.msg_type, Some(Cow::Borrowed("event"))));
        assert!(matches!(m.event, Some(Cow::Borrowed("change_contact"))));
        let owned: PushMessage<'static> = m.clone().into_owned();
        assert_eq!(owned, m);
        assert!(matches!(
            envelope_encrypt_ref("<xml><Encrypt> abc </Encrypt></xml>"),
            Ok(Cow::Borrowed("abc"))
        ));
    }
}
