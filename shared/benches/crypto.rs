//! WeCom callback crypto benchmarks (tests/bench/crypto.sh compares them with wechatpy).
//!
//! Each case runs at plaintext sizes of 20 B, 300 B and 2 KiB:
//! - `signature`: the SHA-1 of the sorted token, timestamp, nonce and ciphertext.
//! - `verify_url`: [`CallbackCrypto::verify_url`] on an echostr (signature, base64,
//!   AES-256-CBC, receive-id check).
//! - `push_decrypt`: a push's envelope to its decrypted inner XML, as functions/callback does.
//! - `push_decrypt_parse`: the same and the inner XML parsed into a [`PushMessage`]: the whole
//!   per-push crypto work of functions/callback (`receive_push`).
//! - `reply_encrypt`: [`CallbackCrypto::encrypt_reply`], a signed passive reply.
//!
//! Before measuring, it writes its inputs to `$CRYPTO_BENCH_INPUTS` (default
//! `target/bench/crypto-inputs.json`) and checks every output against the expected one.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use shared::crypto::{CallbackCrypto, Signed, signature};
use shared::xml::PushMessage;

#[path = "support/inputs.rs"]
mod inputs;

use inputs::{Case, NONCE, RANDOM, TIMESTAMP, TOKEN};

fn signed(msg_signature: &str) -> Signed<'_> {
    Signed {
        msg_signature,
        timestamp: TIMESTAMP,
        nonce: NONCE,
    }
}

/// functions/callback's `receive_push` up to the decrypted inner XML: the envelope's
/// `Encrypt` is read before the binding is looked up, then verified and decrypted.
fn push_decrypt(c: &CallbackCrypto, sig: &str, body: &str) -> String {
    let encrypt = shared::xml::envelope_encrypt_ref(body).expect("envelope");
    c.decrypt_signed(signed(sig), &encrypt).expect("push")
}

/// The rest of `receive_push`'s per-push work: the inner XML parsed (borrowing from the
/// decrypted text), handed to `f`.
fn push_decrypt_parse<R>(
    c: &CallbackCrypto,
    sig: &str,
    body: &str,
    f: impl FnOnce(&PushMessage<'_>) -> R,
) -> R {
    let plain = push_decrypt(c, sig, body);
    let msg = PushMessage::parse(&plain).expect("inner XML");
    f(&msg)
}

/// Every case's output is the expected one before anything is timed.
fn check(c: &CallbackCrypto, case: &Case) {
    assert_eq!(
        signature(TOKEN, TIMESTAMP, NONCE, &case.echostr),
        case.echo_signature
    );
    assert_eq!(
        c.verify_url(signed(&case.echo_signature), &case.echostr)
            .expect("verify_url"),
        case.echo_plain
    );
    assert_eq!(
        push_decrypt(c, &case.push_signature, &case.push_body),
        case.push_plain
    );
    let msg = push_decrypt_parse(c, &case.push_signature, &case.push_body, |m| {
        m.clone().into_owned()
    });
    if case.push_plain.contains("<MsgId>") {
        assert_eq!(msg.msg_id.as_deref(), Some("4561255354251345929"));
        assert_eq!(msg.from_user_name.as_deref(), Some("zhangsan"));
        assert_eq!(msg.msg_type.as_deref(), Some("text"));
    }
    let reply = c.encrypt_reply(&case.reply_plain, TIMESTAMP, NONCE, RANDOM);
    assert!(reply.contains(&case.reply_encrypt) && reply.contains(&case.reply_signature));
}

fn inputs_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CRYPTO_BENCH_INPUTS") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/crypto-<hash> → target/bench/
    let exe = std::env::current_exe().expect("bench executable path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("bench").join("crypto-inputs.json")
}

fn main() {
    let cases = inputs::cases();
    let c = inputs::crypto();
    for case in &cases {
        check(&c, case);
    }
    let path = inputs_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the inputs directory");
    }
    let json = serde_json::to_string_pretty(&inputs::to_json(&cases)).expect("JSON");
    std::fs::write(&path, json).expect("write the inputs");
    eprintln!("crypto bench inputs: {}", path.display());

    let mut crit = Criterion::default()
        .sample_size(inputs::SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(inputs::WARM_UP_MS))
        .measurement_time(Duration::from_millis(inputs::MEASUREMENT_MS))
        .nresamples(10_000)
        .without_plots()
        .configure_from_args();

    let mut g = crit.benchmark_group("signature");
    for case in &cases {
        g.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                signature(
                    black_box(TOKEN),
                    black_box(TIMESTAMP),
                    black_box(NONCE),
                    black_box(&case.echostr),
                )
            })
        });
    }
    g.finish();

    let mut g = crit.benchmark_group("verify_url");
    for case in &cases {
        g.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                c.verify_url(
                    signed(black_box(&case.echo_signature)),
                    black_box(&case.echostr),
                )
                .expect("verify_url")
            })
        });
    }
    g.finish();

    let mut g = crit.benchmark_group("push_decrypt");
    for case in &cases {
        g.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                push_decrypt(
                    &c,
                    black_box(&case.push_signature),
                    black_box(&case.push_body),
                )
            })
        });
    }
    g.finish();

    let mut g = crit.benchmark_group("push_decrypt_parse");
    for case in &cases {
        g.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                push_decrypt_parse(
                    &c,
                    black_box(&case.push_signature),
                    black_box(&case.push_body),
                    |m| {
                        black_box(m);
                    },
                )
            })
        });
    }
    g.finish();

    let mut g = crit.benchmark_group("reply_encrypt");
    for case in &cases {
        g.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                c.encrypt_reply(
                    black_box(&case.reply_plain),
                    black_box(TIMESTAMP),
                    black_box(NONCE),
                    black_box(RANDOM),
                )
            })
        });
    }
    g.finish();

    crit.final_summary();
}
