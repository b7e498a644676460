//! The callback's GET: a raw query string, parsed as the callback does, then the signature and
//! the echostr decryption — once as sent, once signed correctly so decryption is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::crypto::{CallbackCrypto, Signed};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let q = callback::parse_query(Some(raw));
    let crypto = CallbackCrypto::new("QDG6eK", shared::testing::ENCODING_AES_KEY, "wx5823bf96d3bd56c7")
        .expect("crypto");
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let echostr = get("echostr");
    let _ = crypto.verify_url(
        Signed { msg_signature: get("msg_signature"), timestamp: get("timestamp"), nonce: get("nonce") },
        echostr,
    );
    let sig = crypto.sign(get("timestamp"), get("nonce"), echostr);
    let _ = crypto.verify_url(
        Signed { msg_signature: &sig, timestamp: get("timestamp"), nonce: get("nonce") },
        echostr,
    );
    let _ = crypto.sealed_for_us(echostr);
});
