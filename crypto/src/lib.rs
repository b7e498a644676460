//! WeCom callback crypto ("WXBizMsgCrypt"), byte-compatible with Tencent's samples.
//!
//! Plaintext layout: 16 random bytes ‖ u32 big-endian message length ‖ message ‖ receive id,
//! padded PKCS#7-style to a multiple of **32** bytes, AES-256-CBC with IV = first 16 key bytes.
//! Signatures are the lowercase hex SHA-1 of the sorted, concatenated
//! (token, timestamp, nonce, encrypt) values.
//!
//! Its own crate so that it alone is built for speed: the deployed functions are built for
//! size (`opt-level = "s"`, Cargo.toml), and this crate, where the callback spends its CPU
//! time, at `opt-level = 3`. `shared` re-exports it as `shared::crypto` and `shared::xml`.
//!
//! AES-256-CBC is aws-lc-rs's, already linked for TLS (rustls): in the crypto benchmark's
//! floor (shared/benches/crypto.rs) it decrypted 3–7× and encrypted 2–3× as fast as RustCrypto's
//! aes + cbc on the same bytes. SHA-1 is the sha1 crate's (SHA-NI / ARMv8 SHA by runtime
//! detection), as fast as aws-lc's on long inputs and faster on short ones.

pub mod xml;

use std::sync::Arc;

use aws_lc_rs::cipher::{
    AES_256, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// WeCom pads to this block size, not AES's 16.
const WECOM_BLOCK: usize = 32;
const RANDOM_PREFIX: usize = 16;

/// Ciphertexts: standard alphabet, `=` padding, canonical (the `base64` crate's `STANDARD`,
/// SIMD-accelerated).
const BASE64: base64_simd::Base64 = base64_simd::STANDARD;

/// Real EncodingAESKeys end in a base64 symbol with non-zero trailing bits, which a strict
/// decoder rejects; WeCom's own samples decode leniently.
const LENIENT_KEY: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Every way a callback can fail to verify or decrypt. Each maps to one diagnosis the admin
/// can act on, so the variants stay distinct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("msg_signature does not match the Token")]
    Signature,
    #[error("EncodingAESKey must be 43 characters of [A-Za-z0-9] decoding to 32 bytes")]
    Key,
    #[error("ciphertext is not valid base64")]
    Base64,
    #[error("ciphertext does not decrypt: {0}")]
    Decrypt(&'static str),
    #[error("decrypted buffer is malformed: {0}")]
    BadBuffer(&'static str),
    #[error("message was encrypted for receive id {found:?}, expected {expected:?}")]
    ReceiveId { expected: String, found: String },
    #[error("push body is not a WeCom XML envelope: {0}")]
    Envelope(String),
}

/// A decoded EncodingAESKey: 32 AES bytes, IV = the first 16.
#[derive(Clone)]
pub struct AesKey {
    bytes: [u8; 32],
    /// Its expanded round keys, made once: expanding them for every message cost more than
    /// decrypting a short one (an echostr is a few blocks). Shared by clones.
    cbc: Arc<Cbc>,
}

struct Cbc {
    enc: EncryptingKey,
    dec: DecryptingKey,
}

impl AesKey {
    pub fn from_encoding_aes_key(key: &str) -> Result<Self, CryptoError> {
        if key.len() != 43 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CryptoError::Key);
        }
        let bytes = LENIENT_KEY
            .decode(format!("{key}="))
            .map_err(|_| CryptoError::Key)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Key)?;
        let key = || UnboundCipherKey::new(&AES_256, &bytes).map_err(|_| CryptoError::Key);
        let cbc = Cbc {
            enc: EncryptingKey::cbc(key()?).map_err(|_| CryptoError::Key)?,
            dec: DecryptingKey::cbc(key()?).map_err(|_| CryptoError::Key)?,
        };
        Ok(Self {
            bytes,
            cbc: Arc::new(cbc),
        })
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub fn iv(&self) -> &[u8] {
        &self.bytes[..16]
    }

    fn iv_block(&self) -> FixedLength<16> {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.bytes[..16]);
        FixedLength::from(iv)
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

/// `lowercase_hex(sha1(concat(sort([token, timestamp, nonce, encrypt]))))`.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let hex = signature_hex(token, timestamp, nonce, encrypt);
    std::str::from_utf8(&hex)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// [`signature`] as ASCII bytes, without allocating.
fn signature_hex(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut parts = [token, timestamp, nonce, encrypt];
    // A sorting network: five comparisons for four values.
    for (a, b) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        if parts[b] < parts[a] {
            parts.swap(a, b);
        }
    }
    let mut h = Sha1::new();
    // Short inputs (an echostr, a small push) are hashed in one call from the stack.
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total <= 256 {
        let mut joined = [0u8; 256];
        let mut n = 0;
        for p in parts {
            joined[n..n + p.len()].copy_from_slice(p.as_bytes());
            n += p.len();
        }
        h.update(&joined[..n]);
    } else {
        for p in parts {
            h.update(p.as_bytes());
        }
    }
    let mut out = [0u8; 40];
    for (pair, b) in out.chunks_exact_mut(2).zip(h.finalize()) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
    out
}

/// Constant-time comparison so a caller cannot learn the signature byte by byte. The given
/// signature may be in either case.
pub fn verify_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    msg_signature: &str,
) -> Result<(), CryptoError> {
    let expected = signature_hex(token, timestamp, nonce, encrypt);
    // Only a 40-byte value can match; its length is no secret.
    let Ok(given) = <[u8; 40]>::try_from(msg_signature.as_bytes()) else {
        return Err(CryptoError::Signature);
    };
    let given = given.map(|b| b.to_ascii_lowercase());
    // Compared eight bytes at a time, every word whatever the others hold.
    let word = |hex: &[u8; 40], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hex[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    };
    let same = (0..5).fold(subtle::Choice::from(1), |acc, i| {
        acc & word(&expected, i).ct_eq(&word(&given, i))
    });
    if same.into() {
        Ok(())
    } else {
        Err(CryptoError::Signature)
    }
}

/// The four values WeCom signs, as received (already percent-decoded).
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub msg_signature: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
}

/// One app's callback credentials: Token, EncodingAESKey and the CorpID it must be addressed to.
#[derive(Clone)]
pub struct CallbackCrypto {
    token: String,
    key: AesKey,
    receive_id: String,
}

impl std::fmt::Debug for CallbackCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackCrypto")
            .field("receive_id", &self.receive_id)
            .finish_non_exhaustive()
    }
}

impl CallbackCrypto {
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            token: token.to_owned(),
            key: AesKey::from_encoding_aes_key(encoding_aes_key)?,
            receive_id: receive_id.to_owned(),
        })
    }

    /// URL verification (the GET WeCom sends when the admin presses Save): returns the
    /// plaintext that must be the whole response body.
    pub fn verify_url(&self, signed: Signed<'_>, echostr: &str) -> Result<String, CryptoError> {
        self.decrypt_signed(signed, echostr)
    }

    /// A message or event push: verify the signature over the envelope's `Encrypt` and return
    /// the decrypted inner XML.
    pub fn decrypt_push(&self, signed: Signed<'_>, body: &str) -> Result<String, CryptoError> {
        let encrypt = xml::envelope_encrypt_ref(body).map_err(CryptoError::Envelope)?;
        self.decrypt_signed(signed, &encrypt)
    }

    /// A signed ciphertext (an echostr, or the `Encrypt` already read from a push envelope
    /// with [`xml::envelope_encrypt_ref`]): verify the signature over it, decrypt it and check
    /// that it was addressed to our receive id.
    pub fn decrypt_signed(&self, signed: Signed<'_>, encrypt: &str) -> Result<String, CryptoError> {
        verify_signature(
            &self.token,
            signed.timestamp,
            signed.nonce,
            encrypt,
            signed.msg_signature,
        )?;
        self.decrypt_for_us(encrypt)
    }

    /// A passive reply envelope, signed like a push.
    pub fn encrypt_reply(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
        random: &[u8; 16],
    ) -> String {
        let encrypt = self.encrypt(plaintext, random);
        let sig = signature_hex(&self.token, timestamp, nonce, &encrypt);
        let sig = std::str::from_utf8(&sig).unwrap_or_default();
        let mut out = String::with_capacity(encrypt.len() + timestamp.len() + nonce.len() + 160);
        for part in [
            "<xml><Encrypt><![CDATA[",
            &encrypt,
            "]]></Encrypt><MsgSignature><![CDATA[",
            sig,
            "]]></MsgSignature><TimeStamp>",
            timestamp,
            "</TimeStamp><Nonce><![CDATA[",
            nonce,
            "]]></Nonce></xml>",
        ] {
            out.push_str(part);
        }
        out
    }

    /// Whether `encrypt` was sealed for this app: it decrypts under our key to our receive id.
    /// Nobody without the EncodingAESKey can produce that, so a request carrying it comes
    /// from WeCom (or another holder of the key) even when its signature does not match.
    pub fn sealed_for_us(&self, encrypt: &str) -> bool {
        self.decrypt_for_us(encrypt).is_ok()
    }

    /// Encrypt `msg` for this app's receive id with the given 16-byte random prefix.
    pub fn encrypt(&self, msg: &str, random: &[u8; 16]) -> String {
        encrypt(&self.key, msg, &self.receive_id, random)
    }

    /// Sign an arbitrary value with this app's Token (what WeCom does before calling us).
    pub fn sign(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypt)
    }

    fn decrypt_for_us(&self, encrypt: &str) -> Result<String, CryptoError> {
        let (msg, other) = decrypt_with(&self.key, encrypt, |receive_id| {
            (receive_id != self.receive_id).then(|| receive_id.to_owned())
        })?;
        match other {
            Some(found) => Err(CryptoError::ReceiveId {
                expected: self.receive_id.clone(),
                found,
            }),
            None => Ok(msg),
        }
    }
}

/// Encrypt `msg` addressed to `receive_id`: random ‖ len ‖ msg ‖ receive_id, padded to 32.
pub fn encrypt(key: &AesKey, msg: &str, receive_id: &str, random: &[u8; 16]) -> String {
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    let mut buf = Vec::with_capacity(RANDOM_PREFIX + 4 + msg.len() + receive_id.len() + 32);
    buf.extend_from_slice(random);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(msg.as_bytes());
    buf.extend_from_slice(receive_id.as_bytes());
    let pad = WECOM_BLOCK - buf.len() % WECOM_BLOCK;
    buf.resize(buf.len() + pad, pad as u8);
    key.cbc
        .enc
        .less_safe_encrypt(&mut buf, EncryptionContext::Iv128(key.iv_block()))
        .expect("the buffer is padded to whole blocks above and the IV is 16 bytes");
    BASE64.encode_to_string(&buf)
}

/// Decrypt a base64 ciphertext and split it into (message, receive id).
pub fn decrypt(key: &AesKey, encrypt: &str) -> Result<(String, String), CryptoError> {
    decrypt_with(key, encrypt, str::to_owned)
}

/// Decrypts in one buffer (base64 decoded into it, AES in place, the message moved to its
/// front) and hands the receive id to `receive_id` before that buffer becomes the message.
fn decrypt_with<R>(
    key: &AesKey,
    encrypt: &str,
    receive_id: impl FnOnce(&str) -> R,
) -> Result<(String, R), CryptoError> {
    let mut buf = BASE64
        .decode_to_vec(encrypt.trim())
        .map_err(|_| CryptoError::Base64)?;
    // WeCom pads to 32 bytes, so anything else was truncated or is not WeCom's.
    if buf.is_empty() || buf.len() % WECOM_BLOCK != 0 {
        return Err(CryptoError::Decrypt(
            "ciphertext length is not a multiple of 32 bytes",
        ));
    }
    let plain = key
        .cbc
        .dec
        .decrypt(&mut buf, DecryptionContext::Iv128(key.iv_block()))
        .map_err(|_| CryptoError::Decrypt("ciphertext length is not a whole number of blocks"))?;
    let pad = usize::from(
        *plain
            .last()
            .ok_or(CryptoError::Decrypt("empty plaintext"))?,
    );
    if !(1..=WECOM_BLOCK).contains(&pad) || pad > plain.len() {
        return Err(CryptoError::Decrypt("padding is not 1..32"));
    }
    // Every pad byte carries the pad value; a wrong key rarely produces that.
    if plain[plain.len() - pad..]
        .iter()
        .any(|&b| usize::from(b) != pad)
    {
        return Err(CryptoError::Decrypt("padding bytes are inconsistent"));
    }
    let body = &plain[..plain.len() - pad];
    if body.len() < RANDOM_PREFIX + 4 {
        return Err(CryptoError::BadBuffer(
            "shorter than random prefix and length",
        ));
    }
    let len_bytes: [u8; 4] = body[RANDOM_PREFIX..RANDOM_PREFIX + 4]
        .try_into()
        .map_err(|_| CryptoError::BadBuffer("length prefix"))?;
    let msg_len = u32::from_be_bytes(len_bytes) as usize;
    let rest = &body[RANDOM_PREFIX + 4..];
    if msg_len > rest.len() {
        return Err(CryptoError::BadBuffer("length prefix points past the end"));
    }
    // A wrong key yields random bytes; a receive id that cannot be a CorpID means the key,
    // not the CorpID, is what differs.
    let rid = match std::str::from_utf8(&rest[msg_len..]) {
        Err(_) => Err(CryptoError::BadBuffer("receive id is not UTF-8")),
        Ok(rid)
            if rid.is_empty()
                || rid.len() > 64
                || !rid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Err(CryptoError::BadBuffer("receive id is not a CorpID"))
        }
        Ok(rid) => Ok(receive_id(rid)),
    };
    // The message becomes the buffer, checked as UTF-8 once; its error comes before the
    // receive id's.
    let start = RANDOM_PREFIX + 4;
    buf.copy_within(start..start + msg_len, 0);
    buf.truncate(msg_len);
    let msg = String::from_utf8(buf).map_err(|_| CryptoError::BadBuffer("message is not UTF-8"))?;
    Ok((msg, rid?))
}

#[cfg(test)]
mod tests {
    use super::*;
    // RustCrypto's AES, independent of the aws-lc code under test.
    use aes::Aes256;
    use aes::cipher::block_padding::NoPadding;
    use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
    use base64::engine::general_purpose::STANDARD;

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    const CORP: &str = "wx5823bf96d3bd56c7";

    fn crypto() -> CallbackCrypto {
        CallbackCrypto::new("QDG6eK", KEY, CORP).expect("key")
    }

    /// What `verifier` makes of `echostr` signed by `signer` (at timestamp 1, nonce 2).
    fn verify_signed_by(
        verifier: &CallbackCrypto,
        signer: &CallbackCrypto,
        echostr: &str,
    ) -> Result<String, CryptoError> {
        let sig = signer.sign("1", "2", echostr);
        verifier.verify_url(
            Signed {
                msg_signature: &sig,
                timestamp: "1",
                nonce: "2",
            },
            echostr,
        )
    }

    #[test]
    fn round_trip_every_pad_length() {
        let c = crypto();
        let key = AesKey::from_encoding_aes_key(KEY).expect("key");
        // Header 20 bytes + receive id 18 = 38; message lengths 0..32 hit every pad 1..32.
        let mut pads = std::collections::BTreeSet::new();
        for n in 0..64usize {
            let msg: String = "é".repeat(n / 2) + &"a".repeat(n % 2);
            let enc = c.encrypt(&msg, &[7u8; 16]);
            let raw = STANDARD.decode(&enc).expect("b64");
            assert_eq!(raw.len() % 32, 0);
            let plain = cbc::Decryptor::<Aes256>::new_from_slices(key.bytes(), key.iv())
                .expect("init")
                .decrypt_padded_vec::<NoPadding>(&raw)
                .expect("dec");
            pads.insert(*plain.last().expect("last"));
            let (m, r) = decrypt(&key, &enc).expect("round trip");
            assert_eq!(m, msg);
            assert_eq!(r, CORP);
        }
        let all: std::collections::BTreeSet<u8> = (1..=32).collect();
        assert_eq!(pads, all, "every pad value 1..32 was exercised");
    }

    fn forge(key: &AesKey, plain: &[u8]) -> String {
        let enc = cbc::Encryptor::<Aes256>::new_from_slices(key.bytes(), key.iv()).expect("init");
        STANDARD.encode(enc.encrypt_padded_vec::<NoPadding>(plain))
    }

    #[test]
    fn pad_zero_and_33_are_rejected() {
        let key = AesKey::from_encoding_aes_key(KEY).expect("key");
        let mut p = vec![0u8; 64];
        p[63] = 0;
        assert!(matches!(
            decrypt(&key, &forge(&key, &p)),
            Err(CryptoError::Decrypt(_))
        ));
        p[63] = 33;
        assert!(matches!(
            decrypt(&key, &forge(&key, &p)),
            Err(CryptoError::Decrypt(_))
        ));
    }

    #[test]
    fn length_prefix_past_end_is_rejected() {
        let key = AesKey::from_encoding_aes_key(KEY).expect("key");
        let mut p = vec![b'x'; 64];
        p[16..20].copy_from_slice(&1000u32.to_be_bytes());
        p[60..64].copy_from_slice(&[4; 4]);
        assert_eq!(
            decrypt(&key, &forge(&key, &p)),
            Err(CryptoError::BadBuffer("length prefix points past the end"))
        );
    }

    #[test]
    fn truncated_and_garbage_ciphertexts_are_errors() {
        let c = crypto();
        let key = AesKey::from_encoding_aes_key(KEY).expect("key");
        let enc = c.encrypt("hello", &[1u8; 16]);
        let raw = STANDARD.decode(&enc).expect("b64");
        let truncated = STANDARD.encode(&raw[..raw.len() - 5]);
        assert!(matches!(
            decrypt(&key, &truncated),
            Err(CryptoError::Decrypt(_))
        ));
        let one_block_short = STANDARD.encode(&raw[..raw.len() - 16]);
        assert!(decrypt(&key, &one_block_short).is_err());
        assert_eq!(decrypt(&key, "not base64 !!"), Err(CryptoError::Base64));
        assert!(decrypt(&key, "").is_err());
    }

    #[test]
    fn wrong_key_is_a_decrypt_error_not_a_corp_mismatch() {
        let c = crypto();
        let enc = c.encrypt("1616140317555161061", &[3u8; 16]);
        let other = CallbackCrypto::new(
            "QDG6eK",
            "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
            CORP,
        )
        .expect("key");
        let err = verify_signed_by(&other, &other, &enc).expect_err("wrong key");
        assert!(
            matches!(err, CryptoError::Decrypt(_) | CryptoError::BadBuffer(_)),
            "{err:?}"
        );
    }

    #[test]
    fn other_corp_is_a_receive_id_error() {
        let theirs = CallbackCrypto::new("QDG6eK", KEY, "wwothercorp").expect("key");
        let enc = theirs.encrypt("42", &[0u8; 16]);
        let err = verify_signed_by(&crypto(), &theirs, &enc).expect_err("other corp");
        assert_eq!(
            err,
            CryptoError::ReceiveId {
                expected: CORP.into(),
                found: "wwothercorp".into()
            }
        );
    }

    #[test]
    fn bad_keys_are_rejected() {
        for k in ["", "short", &"a".repeat(44), &format!("{}!", &KEY[..42])] {
            assert!(AesKey::from_encoding_aes_key(k).is_err(), "{k}");
        }
    }

    #[test]
    fn signature_is_case_insensitive_but_exact() {
        let s = signature("t", "1", "n", "e");
        assert!(verify_signature("t", "1", "n", "e", &s.to_uppercase()).is_ok());
        assert_eq!(
            verify_signature("t", "1", "n", "e", &s[..39]),
            Err(CryptoError::Signature)
        );
        assert_eq!(
            verify_signature("u", "1", "n", "e", &s),
            Err(CryptoError::Signature)
        );
    }

    /// SIMD base64 accepts and produces exactly what the `base64` crate's `STANDARD` does.
    fn same_base64(s: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let ours = BASE64.decode_to_vec(s).ok();
        proptest::prop_assert_eq!(&ours, &STANDARD.decode(s).ok(), "{:?}", s);
        if let Some(bytes) = ours {
            proptest::prop_assert_eq!(BASE64.encode_to_string(&bytes), STANDARD.encode(&bytes));
        }
        Ok(())
    }

    #[test]
    fn base64_edge_cases_match_the_base64_crate() {
        for s in [
            "",
            "=",
            "==",
            "===",
            "====",
            "A",
            "AA",
            "AA=",
            "AA==",
            "AAA",
            "AAA=",
            "AB==",
            "AAB=",
            "AA==AA==",
            "AAAA====",
            "AA=A",
            " AAAA",
            "AAAA ",
            "AA\nAA",
            "AAAA\n",
            "QQ",
            "QQ=",
            "QQ==",
            "QR==",
            "QUI=",
            "QUJ=",
            "-_==",
            "+/==",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            same_base64(s).expect("same as base64");
        }
    }

    proptest::proptest! {
        #[test]
        fn base64_matches_the_base64_crate(s in "[A-Za-z0-9+/=_\\-\\n ]{0,80}") {
            same_base64(&s)?;
        }

        #[test]
        fn base64_of_damaged_encodings_matches(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80), at in proptest::prelude::any::<proptest::sample::Index>(), to in "[A-Za-z0-9+/=]") {
            let mut s = STANDARD.encode(&bytes);
            same_base64(&s)?;
            if !s.is_empty() {
                let i = at.index(s.len());
                s.replace_range(i..=i, &to);
                same_base64(&s)?;
            }
        }

        #[test]
        fn decrypt_never_panics(input in ".{0,200}") {
            let key = AesKey::from_encoding_aes_key(KEY).expect("key");
            let _ = decrypt(&key, &input);
        }

        #[test]
        fn decrypt_of_random_blocks_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let key = AesKey::from_encoding_aes_key(KEY).expect("key");
            let _ = decrypt(&key, &STANDARD.encode(&bytes));
        }

        #[test]
        fn round_trip_any_message(msg in ".{0,300}", random in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let c = crypto();
            let key = AesKey::from_encoding_aes_key(KEY).expect("key");
            let enc = c.encrypt(&msg, &random);
            let (m, r) = decrypt(&key, &enc).expect("round trip");
            proptest::prop_assert_eq!(m, msg);
            proptest::prop_assert_eq!(r, CORP);
        }
    }
}
