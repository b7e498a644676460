//! The fixed inputs of the crypto benchmarks, shared with wechatpy's run
//! (tests/bench/wechatpy_bench.py) through a JSON file: the same key, token and CorpID as the
//! published vectors (tests/fixtures/wecom-vectors.json), messages of exact byte sizes built
//! from a deterministic pattern, and ciphertexts sealed with a fixed 16-byte random prefix.

use shared::crypto::{CallbackCrypto, signature};

pub const TOKEN: &str = "QDG6eK";
pub const ENCODING_AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
pub const CORP_ID: &str = "wx5823bf96d3bd56c7";
pub const TIMESTAMP: &str = "1409659813";
pub const NONCE: &str = "1372623149";
/// ASCII, so wechatpy (whose random prefix is 16 letters and digits) can be given the same.
pub const RANDOM: &[u8; 16] = b"aJ3kZq9XbW2mPq7L";
pub const SIZES: [(usize, &str); 3] = [(20, "20B"), (300, "300B"), (2048, "2KiB")];

/// Samples and time budgets: criterion's configuration, repeated by the wechatpy run.
pub const SAMPLE_SIZE: usize = 20;
pub const WARM_UP_MS: u64 = 300;
pub const MEASUREMENT_MS: u64 = 1200;

pub fn crypto() -> CallbackCrypto {
    CallbackCrypto::new(TOKEN, ENCODING_AES_KEY, CORP_ID).expect("published key")
}

/// The EncodingAESKey's 32 bytes (the floor benchmarks expand them themselves).
pub fn aes_key() -> [u8; 32] {
    *shared::crypto::AesKey::from_encoding_aes_key(ENCODING_AES_KEY)
        .expect("published key")
        .bytes()
}

/// Printable filler of exactly `n` bytes (a repeating pattern, so runs are identical).
fn filler(n: usize) -> String {
    const PATTERN: &[u8] = b"Approval for release 42 is waiting: SQL review, 3 steps. ";
    (0..n)
        .map(|i| char::from(PATTERN[i % PATTERN.len()]))
        .collect()
}

/// The echostr plaintext WeCom sends: digits, `n` bytes.
pub fn echo_plain(n: usize) -> String {
    (0..n)
        .map(|i| char::from(b'0' + ((i * 7 + 3) % 10) as u8))
        .collect()
}

/// A decrypted push of exactly `n` bytes: a WeCom text message whose `Content` is sized to
/// fit; below the size of its fixed fields, a bare `<xml><A>…</A></xml>`.
pub fn push_plain(n: usize) -> String {
    let head = format!(
        "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1409659813</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA["
    );
    let tail = "]]></Content><MsgId>4561255354251345929</MsgId><AgentID>1000002</AgentID></xml>";
    let out = if n > head.len() + tail.len() {
        format!("{head}{}{tail}", filler(n - head.len() - tail.len()))
    } else {
        let fixed = "<xml><A></A></xml>".len();
        format!("<xml><A>{}</A></xml>", filler(n.saturating_sub(fixed)))
    };
    assert_eq!(out.len(), n, "push plaintext size");
    out
}

/// The POST body WeCom sends: the envelope around `encrypt`.
pub fn push_body(encrypt: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    )
}

/// One message size's inputs and the outputs both implementations must produce.
pub struct Case {
    pub size: usize,
    pub label: &'static str,
    pub echo_plain: String,
    pub echostr: String,
    pub echo_signature: String,
    pub push_plain: String,
    pub push_encrypt: String,
    pub push_body: String,
    pub push_signature: String,
    pub reply_plain: String,
    pub reply_encrypt: String,
    pub reply_signature: String,
}

pub fn cases() -> Vec<Case> {
    let c = crypto();
    SIZES
        .iter()
        .map(|&(size, label)| {
            let echo_plain = echo_plain(size);
            let echostr = c.encrypt(&echo_plain, RANDOM);
            let echo_signature = signature(TOKEN, TIMESTAMP, NONCE, &echostr);
            let push_plain = push_plain(size);
            let push_encrypt = c.encrypt(&push_plain, RANDOM);
            let push_signature = signature(TOKEN, TIMESTAMP, NONCE, &push_encrypt);
            let push_body = push_body(&push_encrypt);
            let reply_plain = push_plain.clone();
            let reply_encrypt = push_encrypt.clone();
            let reply_signature = push_signature.clone();
            Case {
                size,
                label,
                echo_plain,
                echostr,
                echo_signature,
                push_plain,
                push_encrypt,
                push_body,
                push_signature,
                reply_plain,
                reply_encrypt,
                reply_signature,
            }
        })
        .collect()
}

/// The inputs as JSON for the wechatpy run.
pub fn to_json(cases: &[Case]) -> serde_json::Value {
    serde_json::json!({
        "about": "Inputs of the crypto benchmarks (shared/benches/crypto.rs), written by the bench itself; tests/bench/wechatpy_bench.py runs wechatpy over the same values.",
        "token": TOKEN,
        "encoding_aes_key": ENCODING_AES_KEY,
        "corp_id": CORP_ID,
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "random_prefix": std::str::from_utf8(RANDOM).expect("ASCII"),
        "sample_size": SAMPLE_SIZE,
        "warm_up_ms": WARM_UP_MS,
        "measurement_ms": MEASUREMENT_MS,
        "cases": cases.iter().map(|c| serde_json::json!({
            "size": c.size,
            "label": c.label,
            "echo_plain": c.echo_plain,
            "echostr": c.echostr,
            "echo_signature": c.echo_signature,
            "push_plain": c.push_plain,
            "push_encrypt": c.push_encrypt,
            "push_body": c.push_body,
            "push_signature": c.push_signature,
            "reply_plain": c.reply_plain,
            "reply_encrypt": c.reply_encrypt,
            "reply_signature": c.reply_signature,
        })).collect::<Vec<_>>(),
    })
}
