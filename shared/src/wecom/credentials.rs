//! The credentials of one WeCom app as the token cache uses them: named by a fingerprint of
//! the secret (never the secret), and the tokens they bring sealed under a key derived from
//! it, so the store never sees a token in the clear.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::domain::{AgentId, AppSecret, CorpId, OrgId};

/// The credentials of one WeCom app, and the org on whose behalf WeCom is asked with them
/// (unproven credentials count against that org's budget; `None`: no budget applies).
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub corp_id: CorpId,
    pub agent_id: AgentId,
    pub secret: AppSecret,
    pub org: Option<OrgId>,
}

impl AppCredentials {
    /// `corp:agent:fingerprint` — names the token without naming the secret.
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"wecom-notify/token-key/v1\0");
        h.update(self.secret.expose().as_bytes());
        let fp = hex::encode(&h.finalize()[..8]);
        format!("{}:{}:{fp}", self.corp_id, self.agent_id)
    }

    fn cipher(&self) -> Aes256Gcm {
        let mut h = Sha256::new();
        h.update(b"wecom-notify/token-seal/v1\0");
        h.update(self.secret.expose().as_bytes());
        let key = h.finalize();
        Aes256Gcm::new_from_slice(&key).expect("SHA-256 output is a 32-byte key")
    }

    pub(super) fn seal(&self, token: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .cipher()
            .encrypt(&Nonce::from(nonce), token.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    pub(super) fn open(&self, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let pt = self.cipher().decrypt(&Nonce::from(nonce), ct).ok()?;
        String::from_utf8(pt).ok()
    }
}

/// An access token; `Debug` does not show it.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    pub(super) fn new(token: String) -> Self {
        Self(SecretString::from(token))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(secret: &str) -> AppCredentials {
        AppCredentials {
            corp_id: CorpId::parse("ww1").expect("corp"),
            agent_id: AgentId::parse(5).expect("agent"),
            secret: AppSecret::parse(secret).expect("secret"),
            org: None,
        }
    }

    #[test]
    fn keys_fingerprint_the_secret_without_showing_it() {
        let a = creds("secret-a");
        assert!(!a.cache_key().contains("secret-a"));
        assert_ne!(a.cache_key(), creds("secret-b").cache_key());
        assert!(a.cache_key().starts_with("ww1:5:"));
    }

    #[test]
    fn sealed_tokens_open_only_with_the_same_secret() {
        let a = creds("secret-a");
        let sealed = a.seal("ACCESS_TOKEN_VALUE");
        assert!(!sealed.contains("ACCESS_TOKEN_VALUE"));
        assert_eq!(a.open(&sealed).as_deref(), Some("ACCESS_TOKEN_VALUE"));
        assert_eq!(creds("secret-b").open(&sealed), None);
        assert_eq!(a.open("garbage"), None);
        assert_eq!(a.open(""), None);
    }
}
