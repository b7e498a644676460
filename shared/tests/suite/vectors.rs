//! Every published vector in `tests/fixtures/wecom-vectors.json` (Tencent's samples, wechatpy).

use serde_json::Value;
use shared::crypto::{AesKey, CallbackCrypto, CryptoError, Signed, decrypt, signature};

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/wecom-vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("vectors fixture is part of the repository");
    serde_json::from_str(&text).expect("vectors are JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("vector field {k}"))
}

fn percent_decode(q: &str) -> String {
    percent_encoding::percent_decode_str(q)
        .decode_utf8()
        .expect("utf8")
        .into_owned()
}

#[test]
fn url_verification_and_push_vectors() {
    let v = vectors();
    let list = v["verify_and_decrypt"].as_array().expect("list");
    assert!(list.len() >= 2);
    for case in list {
        let c = CallbackCrypto::new(
            s(case, "token"),
            s(case, "encoding_aes_key"),
            s(case, "corp_id"),
        )
        .expect("key decodes leniently");
        let u = &case["url_verification"];
        let reply = c
            .verify_url(
                Signed {
                    msg_signature: s(u, "msg_signature"),
                    timestamp: s(u, "timestamp"),
                    nonce: s(u, "nonce"),
                },
                s(u, "echostr"),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", s(case, "source")));
        assert_eq!(reply, s(u, "expected_reply_body"));

        let p = &case["message_push"];
        let plain = c
            .decrypt_push(
                Signed {
                    msg_signature: s(p, "msg_signature"),
                    timestamp: s(p, "timestamp"),
                    nonce: s(p, "nonce"),
                },
                s(p, "body"),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", s(case, "source")));
        assert_eq!(plain, s(p, "expected_plaintext"));

        // The same push with a flipped signature digit is refused.
        let mut bad = s(p, "msg_signature").to_owned();
        let last = if bad.ends_with('0') { "1" } else { "0" };
        bad.replace_range(39..40, last);
        assert_eq!(
            c.decrypt_push(
                Signed {
                    msg_signature: &bad,
                    timestamp: s(p, "timestamp"),
                    nonce: s(p, "nonce"),
                },
                s(p, "body"),
            ),
            Err(CryptoError::Signature)
        );
    }
}

#[test]
fn deterministic_encrypt_vectors() {
    let v = vectors();
    for case in v["deterministic_encrypt"].as_array().expect("list") {
        let c = CallbackCrypto::new(
            s(case, "token"),
            s(case, "encoding_aes_key"),
            s(case, "corp_id"),
        )
        .expect("key");
        let random: [u8; 16] = s(case, "random_prefix")
            .as_bytes()
            .try_into()
            .expect("16 bytes");
        let enc = c.encrypt(s(case, "plaintext"), &random);
        assert_eq!(enc, s(case, "expected_encrypt"));
        assert_eq!(
            c.sign(s(case, "timestamp"), s(case, "nonce"), &enc),
            s(case, "expected_msg_signature")
        );
        let reply = c.encrypt_reply(
            s(case, "plaintext"),
            s(case, "timestamp"),
            s(case, "nonce"),
            &random,
        );
        assert!(reply.contains(s(case, "expected_encrypt")));
        assert!(reply.contains(s(case, "expected_msg_signature")));
        // And back.
        let key = AesKey::from_encoding_aes_key(s(case, "encoding_aes_key")).expect("key");
        let (msg, rid) = decrypt(&key, &enc).expect("decrypts");
        assert_eq!(msg, s(case, "plaintext"));
        assert_eq!(rid, s(case, "corp_id"));
    }
}

#[test]
fn signature_only_vectors() {
    let v = vectors();
    for case in v["signature_only"].as_array().expect("list") {
        let i: Vec<&str> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|x| x.as_str().expect("str"))
            .collect();
        assert_eq!(signature(i[0], i[1], i[2], i[3]), s(case, "expected"));
    }
}

#[test]
fn url_verification_as_sent_on_the_wire() {
    let v = vectors();
    let case = &v["url_verification_as_sent"];
    let c = CallbackCrypto::new(
        s(case, "token"),
        s(case, "encoding_aes_key"),
        s(case, "corp_id"),
    )
    .expect("key");
    let mut q = std::collections::HashMap::new();
    for pair in s(case, "query").split('&') {
        let (k, val) = pair.split_once('=').expect("pair");
        q.insert(k, percent_decode(val));
    }
    let reply = c
        .verify_url(
            Signed {
                msg_signature: &q["msg_signature"],
                timestamp: &q["timestamp"],
                nonce: &q["nonce"],
            },
            &q["echostr"],
        )
        .expect("verifies");
    assert_eq!(reply, s(case, "expected_reply_body"));
}

#[test]
fn decoded_key_vector() {
    let v = vectors();
    let case = &v["decoded_key"];
    let key = AesKey::from_encoding_aes_key(s(case, "encoding_aes_key")).expect("lenient decode");
    assert_eq!(hex::encode(key.bytes()), s(case, "aes_key_hex"));
    assert_eq!(hex::encode(key.iv()), s(case, "iv_hex"));
}
