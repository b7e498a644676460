//! Property tests over every entry point that takes bytes from outside — the callback's
//! signature and decryption, the push envelope and its inner XML, the admin JSON bodies, the
//! workflow event's `detail` — with arbitrary and mutated inputs: never a panic, and the error
//! each kind of damage must give. They run on stable in every `tests/run.sh`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shared::crypto::{CallbackCrypto, CryptoError, Signed};
use shared::testing::{ENCODING_AES_KEY, OTHER_ENCODING_AES_KEY};
use shared::workflow::{Subscription, WorkflowEvent};
use shared::xml::PushMessage;

const TOKEN: &str = "QDG6eK";
const CORP: &str = "wx5823bf96d3bd56c7";

fn crypto() -> CallbackCrypto {
    CallbackCrypto::new(TOKEN, ENCODING_AES_KEY, CORP).expect("crypto")
}

fn signed<'a>(sig: &'a str, ts: &'a str, nonce: &'a str) -> Signed<'a> {
    Signed {
        msg_signature: sig,
        timestamp: ts,
        nonce,
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object over the given field names (and others), with arbitrary values.
fn object_over(fields: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(fields).prop_map(str::to_owned),
                "[a-z_]{1,10}"
            ],
            prop_oneof![json_value(), ".{0,64}".prop_map(Value::String)],
        ),
        0..10,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever WeCom (or anyone) sends as echostr: an error of the right kind, or the text.
    #[test]
    fn url_verification_never_panics(echostr in ".{0,200}", sig in "[0-9a-f]{0,40}", ts in "[0-9]{0,12}") {
        let c = crypto();
        let _ = c.verify_url(signed(&sig, &ts, "n"), &echostr);
        // Signed correctly, the ciphertext itself is what is judged.
        let good_sig = c.sign(&ts, "n", &echostr);
        match c.verify_url(signed(&good_sig, &ts, "n"), &echostr) {
            Ok(_) | Err(CryptoError::Base64 | CryptoError::Decrypt(_) | CryptoError::BadBuffer(_) | CryptoError::ReceiveId { .. }) => {}
            Err(other) => prop_assert!(false, "{other}"),
        }
    }

    /// A valid echostr with bytes flipped, cut or re-encoded: refused, and a damaged ciphertext
    /// under a valid signature never passes as another CorpID's message by accident of a
    /// wrong key.
    #[test]
    fn damaged_ciphertexts_are_refused(msg in "[ -~]{0,300}", at in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>()) {
        let c = crypto();
        let echostr = c.encrypt(&msg, &[7u8; 16]);
        prop_assert_eq!(c.verify_url(signed(&c.sign("1", "n", &echostr), "1", "n"), &echostr).ok(), Some(msg.clone()));

        let mut raw = STANDARD.decode(&echostr).expect("base64");
        let i = at.index(raw.len());
        raw[i] ^= 1 << bit;
        let flipped = STANDARD.encode(&raw);
        let _ = c.verify_url(signed(&c.sign("1", "n", &flipped), "1", "n"), &flipped);
        prop_assert!(matches!(
            c.verify_url(signed(&c.sign("1", "n", &echostr), "1", "n"), &flipped),
            Err(CryptoError::Signature)
        ));

        let short = &echostr[..cut.index(echostr.len())];
        let _ = c.verify_url(signed(&c.sign("1", "n", short), "1", "n"), short);

        let other = CallbackCrypto::new(TOKEN, OTHER_ENCODING_AES_KEY, CORP).expect("crypto");
        let wrong_key = other.verify_url(signed(&other.sign("1", "n", &echostr), "1", "n"), &echostr);
        prop_assert!(!matches!(wrong_key, Err(CryptoError::ReceiveId { .. }) | Ok(_)), "{:?}", wrong_key.err());
    }

    /// The push envelope and the decrypted inner XML, arbitrary and signed.
    #[test]
    fn pushes_never_panic(body in ".{0,300}", inner in ".{0,300}") {
        let c = crypto();
        let _ = shared::xml::envelope_encrypt(&body);
        let _ = c.decrypt_push(signed("x", "1", "n"), &body);
        let _ = PushMessage::parse(&inner);
        let encrypt = c.encrypt(&inner, &[1u8; 16]);
        let envelope = format!("<xml><ToUserName>{CORP}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
        let plain = c.decrypt_push(signed(&c.sign("1", "n", &encrypt), "1", "n"), &envelope);
        prop_assert_eq!(plain.ok(), Some(inner.clone()));
        if let Ok(m) = PushMessage::parse(&inner) {
            let _ = (m.dedup_key(), m.changed_contact());
        }
    }

    /// The channel PUT body: any object is parsed or refused naming a field, never a panic.
    #[test]
    fn channel_bodies_never_panic(body in object_over(&shared::http::PUT_FIELDS)) {
        match shared::http::parse_channel_update(&body) {
            Ok(u) => prop_assert!(body.contains_key("corp_id") && u.agent_id.get() > 0),
            Err(e) => prop_assert!(e.status.as_u16() == 400),
        }
    }

    /// A subscription item: parsed, or refused with the path of the bad field.
    #[test]
    fn subscription_items_never_panic(item in object_over(&["subscription_type", "node", "personal_channel", "message_format"])) {
        if let Ok(s) = shared::json::from_value::<Subscription>(Value::Object(item)) {
            let back: Subscription = shared::json::from_value(serde_json::to_value(&s).expect("json")).expect("round trip");
            prop_assert_eq!(back, s);
        }
    }

    /// A workflow event's detail: parsed (and then it round-trips), or malformed with a reason.
    #[test]
    fn workflow_details_never_panic(detail in object_over(&["event_id", "org", "subscription_type", "node", "recipients", "title", "content", "url", "occurred_at"]), any_value in json_value()) {
        let _ = WorkflowEvent::from_detail(&any_value);
        match WorkflowEvent::from_detail(&Value::Object(detail)) {
            Ok(ev) => {
                let again = WorkflowEvent::from_detail(&serde_json::to_value(&ev).expect("json")).expect("round trip");
                prop_assert_eq!(again, ev);
            }
            Err(e) => prop_assert!(!e.0.to_string().is_empty()),
        }
    }

    /// Valid events with arbitrary ids and recipients: accepted, rendered within WeCom's limits.
    #[test]
    fn valid_events_render_within_limits(id in "[^\\x00-\\x1f]{1,128}", title in "[^\\x00-\\x1f]{1,300}", content in ".{0,3000}") {
        let ev = WorkflowEvent::from_detail(&json!({
            "event_id": id, "org": "acme", "subscription_type": "t", "node": "n",
            "recipients": ["alice"], "title": title, "content": content,
            "url": "https://example.com", "occurred_at": "2026-03-11T08:00:00Z"
        }));
        if let Ok(ev) = ev {
            for f in [shared::workflow::MessageFormat::Textcard, shared::workflow::MessageFormat::Text, shared::workflow::MessageFormat::Markdown] {
                let body = serde_json::to_value(ev.render(f)).expect("json");
                for (_, v) in body.as_object().expect("object") {
                    if let Some(s) = v.as_str() {
                        prop_assert!(s.len() <= 2048, "{}", s.len());
                    }
                }
            }
        }
    }
}
