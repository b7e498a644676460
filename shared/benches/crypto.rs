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
//! and, in the same run, the floor under them (group `floor`): the primitives no path can
//! avoid, each on the very bytes (or lengths) its path handles — SHA-1 over the sorted
//! concatenation the signature hashes, AES-256-CBC decryption and encryption of the
//! ciphertext's length with the key already expanded, base64 decoding and encoding of the
//! ciphertext — with every implementation in the dependency tree: the sha1 crate (the crypto
//! crate's SHA-1), RustCrypto's aes + cbc, aws-lc-rs (linked through rustls; the crypto crate's
//! AES) and base64-simd (its base64).
//! tests/bench/crypto.sh adds each path's primitives up and reports the path as a multiple.
//!
//! Before measuring, it writes its inputs to `$CRYPTO_BENCH_INPUTS` (default
//! `target/bench/crypto-inputs.json`) and checks every output against the expected one.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use aws_lc_rs::cipher::{
    AES_256, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::iv::FixedLength;
use criterion::{BenchmarkId, Criterion};
use sha1::{Digest, Sha1};
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

/// What the signature hashes: token, timestamp, nonce and ciphertext, sorted and joined.
fn signed_bytes(encrypt: &str) -> Vec<u8> {
    let mut parts = [TOKEN, TIMESTAMP, NONCE, encrypt];
    parts.sort_unstable();
    parts.concat().into_bytes()
}

/// One size's floor inputs: the bytes each path hashes and the ciphertext it decrypts.
struct Floor {
    label: &'static str,
    /// SHA-1 input of `signature` and `verify_url` (over the echostr).
    echo_signed: Vec<u8>,
    /// SHA-1 input of the push paths and of `reply_encrypt` (the same ciphertext).
    push_signed: Vec<u8>,
    /// The push's base64 ciphertext (the echostr's has the same length).
    b64: String,
    /// Its raw ciphertext: AES-256-CBC input (decryption) and output (encryption) length.
    raw: Vec<u8>,
}

fn floor_inputs(case: &Case) -> Floor {
    let raw = base64_simd::STANDARD
        .decode_to_vec(&case.push_encrypt)
        .expect("base64");
    // The paths of one size handle ciphertexts of one length, so one AES and base64 figure
    // per size stands for all of them.
    assert_eq!(case.echostr.len(), case.push_encrypt.len());
    assert_eq!(case.reply_encrypt, case.push_encrypt);
    Floor {
        label: case.label,
        echo_signed: signed_bytes(&case.echostr),
        push_signed: signed_bytes(&case.push_encrypt),
        b64: case.push_encrypt.clone(),
        raw,
    }
}

/// The primitives of every path at every size, each timed alone (group `floor`, one function
/// per primitive and implementation, one parameter per size).
fn bench_floor(crit: &mut Criterion, cases: &[Case]) {
    let key = inputs::aes_key();
    let iv: [u8; 16] = key[..16].try_into().expect("16 bytes");
    // Expanded once, as a path that keeps its cipher would.
    let aes = Aes256::new_from_slice(&key).expect("32 bytes");
    let lc_dec = DecryptingKey::cbc(UnboundCipherKey::new(&AES_256, &key).expect("key"))
        .expect("aws-lc CBC");
    let lc_enc = EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &key).expect("key"))
        .expect("aws-lc CBC");
    let floors: Vec<Floor> = cases.iter().map(floor_inputs).collect();

    // The implementations agree before they are timed.
    for f in &floors {
        assert_eq!(
            Sha1::digest(&f.push_signed).as_slice(),
            digest(&SHA1_FOR_LEGACY_USE_ONLY, &f.push_signed).as_ref()
        );
        let mut a = f.raw.clone();
        cbc::Decryptor::<&Aes256>::inner_iv_init(&aes, &iv.into())
            .decrypt_padded::<NoPadding>(&mut a)
            .expect("blocks");
        let mut b = f.raw.clone();
        lc_dec
            .decrypt(&mut b, DecryptionContext::Iv128(FixedLength::from(iv)))
            .expect("aws-lc decrypt");
        assert_eq!(a, b);
        let mut c = a.clone();
        lc_enc
            .less_safe_encrypt(&mut c, EncryptionContext::Iv128(FixedLength::from(iv)))
            .expect("aws-lc encrypt");
        assert_eq!(c, f.raw);
    }

    let mut g = crit.benchmark_group("floor");
    for f in &floors {
        let id = |name: &str| BenchmarkId::new(name, f.label);
        g.bench_function(id("sha1_echo"), |b| {
            b.iter(|| Sha1::digest(black_box(&f.echo_signed)))
        });
        g.bench_function(id("sha1_push"), |b| {
            b.iter(|| Sha1::digest(black_box(&f.push_signed)))
        });
        g.bench_function(id("sha1_push-aws_lc"), |b| {
            b.iter(|| digest(&SHA1_FOR_LEGACY_USE_ONLY, black_box(&f.push_signed)))
        });
        let mut out = vec![0u8; f.raw.len()];
        g.bench_function(id("aes_cbc_dec"), |b| {
            b.iter(|| {
                cbc::Decryptor::<&Aes256>::inner_iv_init(&aes, &iv.into())
                    .decrypt_padded_b2b::<NoPadding>(black_box(&f.raw), &mut out)
                    .map(|p| p.len())
                    .expect("blocks")
            })
        });
        g.bench_function(id("aes_cbc_dec-aws_lc"), |b| {
            b.iter(|| {
                // aws-lc decrypts in place; the copy back is timed with it (a memcpy of the
                // ciphertext, a few ns).
                out.copy_from_slice(black_box(&f.raw));
                lc_dec
                    .decrypt(&mut out, DecryptionContext::Iv128(FixedLength::from(iv)))
                    .map(|p| p.len())
                    .expect("decrypt")
            })
        });
        g.bench_function(id("aes_cbc_enc"), |b| {
            b.iter(|| {
                cbc::Encryptor::<&Aes256>::inner_iv_init(&aes, &iv.into())
                    .encrypt_padded_b2b::<NoPadding>(black_box(&f.raw), &mut out)
                    .map(|p| p.len())
                    .expect("blocks")
            })
        });
        g.bench_function(id("aes_cbc_enc-aws_lc"), |b| {
            b.iter(|| {
                out.copy_from_slice(black_box(&f.raw));
                lc_enc
                    .less_safe_encrypt(&mut out, EncryptionContext::Iv128(FixedLength::from(iv)))
                    .map(|_| out.len())
                    .expect("encrypt")
            })
        });
        g.bench_function(id("b64_dec"), |b| {
            b.iter(|| {
                base64_simd::STANDARD
                    .decode(
                        black_box(f.b64.as_bytes()),
                        base64_simd::Out::from_slice(&mut out),
                    )
                    .map(|p| p.len())
                    .expect("base64")
            })
        });
        let mut text = vec![0u8; f.b64.len()];
        g.bench_function(id("b64_enc"), |b| {
            b.iter(|| {
                base64_simd::STANDARD
                    .encode_as_str(black_box(&f.raw), base64_simd::Out::from_slice(&mut text))
                    .len()
            })
        });
    }
    g.finish();
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

    bench_floor(&mut crit, &cases);

    crit.final_summary();
}
