//! A push: the XML envelope, its signature and decryption, and the decrypted inner XML. The
//! bytes are tried as an envelope, and as an inner message sealed and signed correctly (which
//! must come back unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::crypto::{CallbackCrypto, Signed};
use shared::xml::PushMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let corp = "wx5823bf96d3bd56c7";
    let crypto = CallbackCrypto::new("QDG6eK", shared::testing::ENCODING_AES_KEY, corp).expect("crypto");
    let _ = shared::xml::envelope_encrypt(text);
    let unsigned = Signed { msg_signature: "0", timestamp: "1", nonce: "n" };
    let _ = crypto.decrypt_push(unsigned, text);
    if let Ok(m) = PushMessage::parse(text) {
        let _ = (m.dedup_key(), m.changed_contact());
    }
    let encrypt = crypto.encrypt(text, &[9u8; 16]);
    let sig = crypto.sign("1", "n", &encrypt);
    let envelope = format!("<xml><ToUserName>{corp}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
    let plain = crypto.decrypt_push(Signed { msg_signature: &sig, timestamp: "1", nonce: "n" }, &envelope);
    assert_eq!(plain.ok().as_deref(), Some(text), "a sealed message decrypts to itself");
});
