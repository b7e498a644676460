//! Sign-in through the organisation's OpenID provider on the all-in-one server
//! (`WECOM_NOTIFY_JWT_ISSUER` + `WECOM_NOTIFY_JWT_AUDIENCE`): bearer tokens are the issuer's
//! access tokens, RS256 or ES256, checked against the keys its discovery document's JWKS
//! publishes. On AWS the HTTP API's JWT authorizer does this job; here the runner does it,
//! with the same claims (`sub`, `org`, `role`) and the same leeway on `exp`.
//!
//! The keys are cached. A token naming a `kid` the cache lacks triggers one refetch (the
//! issuer rotated its keys), at most once a minute so unknown kids cannot make the runner
//! hammer the issuer; and the whole set is refetched when it is an hour old, so a key the
//! issuer withdraws stops working within the hour. Tokens the runner could sign itself
//! (HS256) are refused: with an issuer configured there is no second way in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use shared::auth::{Caller, Claims, LEEWAY_SECS, bearer};
use shared::http::{ApiError, ErrorCode};
use shared::i18n::Text;
use tokio::sync::RwLock;

/// At most one refetch for unknown kids in this long.
pub const REFETCH_EVERY: Duration = Duration::from_secs(60);
/// Keys older than this are refetched before use.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// After a failed fetch, tokens whose key is not cached are refused this long without asking
/// again, so an issuer that is down is not hammered by every request.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(30);
/// How long a request to the issuer may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or JWKS read.
const BODY_MAX: usize = 256 * 1024;

/// The prometheus counter of fetches of the issuer's keys, by `outcome`
/// (`ok`, `error`); docs/OPERATIONS.md lists it.
pub const KEY_FETCHES: &str = "wecom_notify_oidc_key_fetches_total";

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{url}: {detail}")]
    Fetch { url: String, detail: String },
    #[error("the discovery document names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { found: String, expected: String },
    #[error("jwks_uri {0:?} must be https:// (plain http:// only to a loopback address)")]
    InsecureJwksUri(String),
    #[error("the JWKS at {0} has no RS256 or ES256 signing key")]
    NoKeys(String),
}

/// A key of the issuer's JWKS and the one algorithm it verifies.
#[derive(Clone)]
struct Key {
    key: DecodingKey,
    alg: Algorithm,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    fetched: Option<Instant>,
    /// The last refetch an unknown kid asked for.
    refetched_for_unknown: Option<Instant>,
    /// The last fetch that failed.
    failed: Option<Instant>,
}

/// Checks bearer tokens against one issuer and audience.
pub struct OidcVerifier {
    issuer: String,
    audience: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
}

/// What the issuer's access tokens carry that the API reads. `org` and `role` are optional
/// here so their absence gets its own message.
#[derive(Deserialize)]
struct TokenClaims {
    sub: String,
    exp: i64,
    org: Option<serde_json::Value>,
    role: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcVerifier {
    pub fn new(issuer: &str, audience: &str) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OidcError::Fetch {
                url: issuer.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            http,
            cache: RwLock::new(Cache::default()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Fetches the keys now, so the first request does not wait for them; the runner logs a
    /// failure and goes on (the next token tries again).
    pub async fn warm_up(&self) -> Result<usize, OidcError> {
        // The lock is held across the fetch: a token arriving meanwhile waits for these keys
        // instead of fetching them a second time.
        let mut c = self.cache.write().await;
        if c.fetched.is_some() {
            // A token was quicker and fetched them.
            return Ok(c.keys.len());
        }
        let keys = self.fetch_keys().await?;
        let n = keys.len();
        c.keys = keys;
        c.fetched = Some(Instant::now());
        Ok(n)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let fail = |detail: String| OidcError::Fetch {
            url: url.to_owned(),
            detail,
        };
        let res = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(fail(format!("HTTP {}", res.status())));
        }
        let body = res
            .bytes()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if body.len() > BODY_MAX {
            return Err(fail(format!("answer over {BODY_MAX} bytes")));
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("not the expected JSON: {e}")))
    }

    /// Discovery, then the JWKS: the usable keys by kid.
    async fn fetch_keys(&self) -> Result<HashMap<String, Key>, OidcError> {
        let result = self.fetch_keys_once().await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!(KEY_FETCHES, "outcome" => outcome).increment(1);
        result
    }

    async fn fetch_keys_once(&self) -> Result<HashMap<String, Key>, OidcError> {
        let discovery: Discovery = self
            .get_json(&format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            ))
            .await?;
        if discovery.issuer != self.issuer {
            return Err(OidcError::IssuerMismatch {
                found: discovery.issuer,
                expected: self.issuer.clone(),
            });
        }
        let uri = discovery.jwks_uri;
        if !uri.starts_with("https://") && !shared::config::is_loopback_http(&uri) {
            return Err(OidcError::InsecureJwksUri(uri));
        }
        let set: JwkSet = self.get_json(&uri).await?;
        let keys: HashMap<String, Key> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature)
                {
                    return None;
                }
                let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
                    (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => {
                        Algorithm::RS256
                    }
                    (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
                        if p.curve == EllipticCurve::P256 =>
                    {
                        Algorithm::ES256
                    }
                    _ => return None,
                };
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, Key { key, alg }))
            })
            .collect();
        if keys.is_empty() {
            return Err(OidcError::NoKeys(uri));
        }
        Ok(keys)
    }

    /// The key named `kid`, fetching the set when it is missing or old (see the module).
    async fn key(&self, kid: &str) -> Result<Key, ApiError> {
        let fresh = |c: &Cache| c.fetched.is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
        {
            let c = self.cache.read().await;
            if fresh(&c)
                && let Some(k) = c.keys.get(kid)
            {
                return Ok(k.clone());
            }
        }
        // One fetch at a time: the others wait for it and read its result.
        let mut c = self.cache.write().await;
        if fresh(&c) {
            if let Some(k) = c.keys.get(kid) {
                return Ok(k.clone());
            }
            if c.refetched_for_unknown
                .is_some_and(|t| t.elapsed() < REFETCH_EVERY)
            {
                return Err(self.refused("auth.oidc.unknown_key", "hint.auth.oidc.unknown_key"));
            }
            c.refetched_for_unknown = Some(Instant::now());
        }
        let unreachable = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::IssuerUnreachable,
                Text::new("auth.oidc.unreachable").arg("issuer", &self.issuer),
            )
            .hint(Text::new("hint.auth.oidc.unreachable").arg("issuer", &self.issuer))
        };
        if c.failed.is_some_and(|t| t.elapsed() < RETRY_FAILED_AFTER) {
            // An old key is still better than none while the issuer is away.
            return c.keys.get(kid).cloned().ok_or_else(unreachable);
        }
        match self.fetch_keys().await {
            Ok(keys) => {
                c.keys = keys;
                c.fetched = Some(Instant::now());
                c.failed = None;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "could not fetch the issuer's keys");
                c.failed = Some(Instant::now());
                return c.keys.get(kid).cloned().ok_or_else(unreachable);
            }
        }
        c.keys
            .get(kid)
            .cloned()
            .ok_or_else(|| self.refused("auth.oidc.unknown_key", "hint.auth.oidc.unknown_key"))
    }

    /// 401 with the texts `key` and `hint`, both given the issuer and audience.
    fn refused(&self, key: &str, hint: &str) -> ApiError {
        let text = |k: &str| {
            Text::new(k)
                .arg("issuer", &self.issuer)
                .arg("audience", &self.audience)
        };
        ApiError::unauthorized(text(key)).hint(text(hint))
    }

    /// The claims of a valid access token of the issuer, or the 401 (503) that says why not.
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| self.refused("auth.oidc.not_a_jwt", "hint.auth.oidc.not_a_jwt"))?;
        match header.alg {
            Algorithm::RS256 | Algorithm::ES256 => {}
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(self.refused("auth.oidc.self_signed", "hint.auth.oidc.self_signed"));
            }
            other => {
                return Err(ApiError::unauthorized(
                    Text::new("auth.oidc.algorithm").arg("alg", format!("{other:?}")),
                )
                .hint(Text::new("hint.auth.oidc.algorithm").arg("issuer", &self.issuer)));
            }
        }
        // The issuer is read before any key is looked up, so another issuer's tokens (whose
        // kids are unknown here) never make the runner refetch; the signature check below
        // still decides.
        let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Unverified>(token)
            .map_err(|_| self.refused("auth.oidc.not_a_jwt", "hint.auth.oidc.not_a_jwt"))?
            .iss;
        if iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(self.refused("auth.oidc.wrong_issuer", "hint.auth.oidc.wrong_issuer"));
        }
        let kid = header
            .kid
            .ok_or_else(|| self.refused("auth.oidc.unknown_key", "hint.auth.oidc.unknown_key"))?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(key.alg);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &key.key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    self.refused("auth.oidc.expired", "hint.auth.oidc.expired")
                }
                ErrorKind::InvalidAudience => {
                    self.refused("auth.oidc.wrong_audience", "hint.auth.oidc.wrong_audience")
                }
                ErrorKind::InvalidIssuer => {
                    self.refused("auth.oidc.wrong_issuer", "hint.auth.oidc.wrong_issuer")
                }
                ErrorKind::ImmatureSignature => {
                    self.refused("auth.oidc.not_yet_valid", "hint.auth.oidc.not_yet_valid")
                }
                // The key under that kid has another family than the header's algorithm.
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    self.refused("auth.oidc.bad_signature", "hint.auth.oidc.bad_signature")
                }
                ErrorKind::MissingRequiredClaim(c) => self.missing(c),
                _ => self.refused("auth.oidc.missing_claims", "hint.auth.oidc.missing_claims"),
            })?
            .claims;
        let org = self.string_claim("org", claims.org)?;
        let role = self.string_claim("role", claims.role)?;
        Ok(Claims {
            sub: claims.sub,
            org,
            role,
            exp: claims.exp,
        })
    }

    /// `org` and `role` are one string each: a list (what role mappers often make) is
    /// refused by name rather than guessed from.
    fn string_claim(&self, claim: &str, v: Option<serde_json::Value>) -> Result<String, ApiError> {
        match v {
            None | Some(serde_json::Value::Null) => Err(self.missing(claim)),
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::unauthorized(
                Text::new("auth.oidc.claim_not_string").arg("claim", claim),
            )
            .hint(
                Text::new("hint.auth.oidc.claim_not_string")
                    .arg("claim", claim)
                    .arg("issuer", &self.issuer),
            )),
        }
    }

    fn missing(&self, claim: &str) -> ApiError {
        ApiError::unauthorized(Text::new("auth.oidc.missing_claim").arg("claim", claim)).hint(
            Text::new("hint.auth.oidc.missing_claim")
                .arg("claim", claim)
                .arg("issuer", &self.issuer),
        )
    }

    /// Middleware: puts a [`Caller`] into the request for `require_admin`.
    pub async fn layer(self: Arc<Self>, mut req: Request, next: Next) -> Response {
        let caller = match bearer(req.headers()) {
            None => None,
            Some(Err(why)) => Some(Caller::Rejected(why)),
            Some(Ok(t)) => Some(match self.verify(&t).await {
                Ok(c) => Caller::Claims(c),
                Err(e) => Caller::Refused(e),
            }),
        };
        if let Some(c) = caller {
            req.extensions_mut().insert(c);
        }
        next.run(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token that passes every check made before the keys are needed.
    fn unsigned_token(iss: &str, kid: &str) -> String {
        use base64::Engine;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.c2ln",
            b64(serde_json::json!({"alg": "RS256", "kid": kid})),
            b64(serde_json::json!({"iss": iss, "sub": "u", "exp": 4_000_000_000_i64}))
        )
    }

    #[tokio::test]
    async fn an_unreachable_issuer_is_a_503_that_names_it() {
        // Port 9 (discard) on loopback: nothing listens there in the tests.
        let issuer = "http://127.0.0.1:9";
        let v = OidcVerifier::new(issuer, "api").expect("client");
        let e = v
            .verify(&unsigned_token(issuer, "k1"))
            .await
            .expect_err("no keys");
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, ErrorCode::IssuerUnreachable);
        assert_eq!(e.message.key(), "auth.oidc.unreachable");
        assert!(e.message.render().contains(issuer));
        let failed = v
            .cache
            .read()
            .await
            .failed
            .expect("the failure is remembered");
        // Within the pause the next token is refused without another fetch.
        let e = v
            .verify(&unsigned_token(issuer, "k2"))
            .await
            .expect_err("still no keys");
        assert_eq!(e.code, ErrorCode::IssuerUnreachable);
        assert_eq!(
            v.cache.read().await.failed,
            Some(failed),
            "not fetched again"
        );
    }

    #[tokio::test]
    async fn other_issuers_and_shared_secret_tokens_are_refused_before_any_fetch() {
        let v = OidcVerifier::new("http://127.0.0.1:9", "api").expect("client");
        let e = v
            .verify(&unsigned_token("https://elsewhere.example", "k1"))
            .await
            .expect_err("other issuer");
        assert_eq!(e.message.key(), "auth.oidc.wrong_issuer");
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"iss": "http://127.0.0.1:9", "sub": "u", "exp": 4_000_000_000_i64}),
            &jsonwebtoken::EncodingKey::from_secret(&[1; 32]),
        )
        .expect("sign");
        let e = v.verify(&hs).await.expect_err("HS256");
        assert_eq!(e.message.key(), "auth.oidc.self_signed");
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        // Neither asked the (unreachable) issuer: that would have been a 503.
        let e = v.verify("not-a-jwt").await.expect_err("garbage");
        assert_eq!(e.message.key(), "auth.oidc.not_a_jwt");
    }
}
