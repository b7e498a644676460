//! Admin authorisation: who the bearer is and whether they may act on an org.
//!
//! On AWS the HTTP API's JWT authorizer validates the token and the claims arrive in the
//! request context ([`crate::lambda`]); locally [`LocalJwt`] validates HS256 tokens. Both
//! put [`Claims`] into the request's extensions; handlers only call [`require_admin`].

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{MemberId, MemberKey, OrgId};
use crate::http::ApiError;
use crate::i18n::Text;

/// Clock skew tolerated on `exp` (docs/API.md §4).
pub const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub org: String,
    pub role: String,
    pub exp: i64,
}

impl Claims {
    /// From an API Gateway JWT authorizer's claim map (all values are strings there).
    pub fn from_authorizer(claims: &HashMap<String, String>) -> Option<Self> {
        Some(Self {
            sub: claims.get("sub")?.clone(),
            org: claims.get("org")?.clone(),
            role: claims.get("role")?.clone(),
            exp: claims.get("exp")?.parse().ok()?,
        })
    }
}

/// What a handler learns from the request: valid claims, or why there are none.
#[derive(Debug, Clone)]
pub enum Caller {
    Claims(Claims),
    Rejected(Text),
    /// Refused with a whole answer of the verifier's own: its hint, or a 503 when the
    /// issuer's keys could not be fetched.
    Refused(ApiError),
}

/// 401 without valid claims; 403 unless they are an admin of `org`. Each says what to do: a
/// token signed with another key or expired names where a good one comes from, a token of
/// another org names the org it is for and the one it needs.
pub fn require_admin(caller: Option<&Caller>, org: &str) -> Result<Claims, ApiError> {
    match caller {
        None => Err(ApiError::unauthorized(Text::new("auth.missing_token"))),
        Some(Caller::Rejected(why)) => {
            let e = ApiError::unauthorized(why.clone());
            Err(match why.key() {
                "auth.bad_signature" => e.hint(Text::new("hint.auth.bad_signature")),
                "auth.expired" => e.hint(Text::new("hint.auth.expired")),
                _ => e,
            })
        }
        Some(Caller::Refused(e)) => Err(e.clone()),
        Some(Caller::Claims(c)) if c.role != "admin" => Err(ApiError::forbidden(
            Text::new("auth.not_admin").arg("role", &c.role),
        )
        .hint(Text::new("hint.auth.not_admin"))),
        Some(Caller::Claims(c)) if c.org != org => Err(ApiError::forbidden(
            Text::new("auth.other_org")
                .arg("token_org", &c.org)
                .arg("org", org),
        )
        .hint(Text::new("hint.auth.other_org").arg("org", org))),
        Some(Caller::Claims(c)) => Ok(c.clone()),
    }
}

/// HS256 bearer tokens for the local runner.
#[derive(Clone)]
pub struct LocalJwt {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl LocalJwt {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.enc)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Text> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = LEEWAY_SECS;
        v.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.dec, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Text::new("auth.expired"),
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    Text::new("auth.bad_signature")
                }
                jsonwebtoken::errors::ErrorKind::InvalidToken
                | jsonwebtoken::errors::ErrorKind::Base64(_)
                | jsonwebtoken::errors::ErrorKind::Json(_)
                | jsonwebtoken::errors::ErrorKind::Utf8(_) => Text::new("auth.not_a_jwt"),
                _ => Text::new("auth.invalid").arg("detail", e),
            })
    }

    /// Middleware: puts a [`Caller`] into the request for [`require_admin`].
    pub async fn layer(self, mut req: Request, next: Next) -> Response {
        let caller = bearer(req.headers()).map(|t| match t {
            Ok(t) => match self.verify(&t) {
                Ok(c) => Caller::Claims(c),
                Err(why) => Caller::Rejected(why),
            },
            Err(why) => Caller::Rejected(why),
        });
        if let Some(c) = caller {
            req.extensions_mut().insert(c);
        }
        next.run(req).await
    }
}

/// The bearer token of a request: none without an `Authorization` header, an error for a
/// header of another scheme.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<Result<String, Text>> {
    let h = headers.get(axum::http::header::AUTHORIZATION)?;
    Some(
        h.to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| Text::new("auth.not_bearer")),
    )
}

/// Convenience for handlers: the caller as the host left it.
pub fn caller(req_ext: &axum::http::Extensions) -> Option<&Caller> {
    req_ext.get::<Caller>()
}

/// The path's `{name}` parameters, or a JSON 404 when the route has none (a routing bug).
async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map(|Path(p)| p)
        .map_err(|e| ApiError::not_found(Text::new("error.bad_path").arg("detail", e.body_text())))
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiError::not_found(Text::new("error.no_path_param").arg("name", name)))
}

/// Extractor for `/v1/orgs/{org}/…` routes: the org, after [`require_admin`] passed for it.
#[derive(Debug, Clone)]
pub struct AdminOrg(pub OrgId);

impl<S: Send + Sync> FromRequestParts<S> for AdminOrg {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        let org = param(&params, "org")?;
        require_admin(caller(&parts.extensions), org)?;
        Ok(Self(OrgId::parse(org)?))
    }
}

/// Extractor for `/v1/orgs/{org}/members/{member}/…` routes: the member, after
/// [`require_admin`] passed for the org.
#[derive(Debug, Clone)]
pub struct AdminMember(pub MemberKey);

impl<S: Send + Sync> FromRequestParts<S> for AdminMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        let org = param(&params, "org")?;
        require_admin(caller(&parts.extensions), org)?;
        Ok(Self(MemberKey {
            org: OrgId::parse(org)?,
            member: MemberId::parse(param(&params, "member")?)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: &str, org: &str, exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            org: org.into(),
            role: role.into(),
            exp,
        }
    }

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let jwt = LocalJwt::new(b"secret-secret-secret-secret-1234");
        let far = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let t = jwt.issue(&claims("admin", "acme", far)).expect("issue");
        assert_eq!(jwt.verify(&t).expect("valid").org, "acme");

        let other = LocalJwt::new(b"another-secret-another-secret-12");
        assert!(other.verify(&t).is_err());

        let past = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
        let expired = jwt.issue(&claims("admin", "acme", past)).expect("issue");
        assert_eq!(jwt.verify(&expired), Err(Text::new("auth.expired")));

        let within_leeway = time::OffsetDateTime::now_utc().unix_timestamp() - 30;
        let t = jwt
            .issue(&claims("admin", "acme", within_leeway))
            .expect("issue");
        assert!(jwt.verify(&t).is_ok());
    }

    #[test]
    fn a_refused_token_says_where_a_good_one_comes_from() {
        let hint = |why: &str| {
            require_admin(Some(&Caller::Rejected(Text::new(why))), "acme")
                .expect_err("refused")
                .hint
                .as_ref()
                .map(|h| h.key().to_owned())
        };
        assert_eq!(
            hint("auth.bad_signature").as_deref(),
            Some("hint.auth.bad_signature")
        );
        assert_eq!(hint("auth.expired").as_deref(), Some("hint.auth.expired"));
        assert_eq!(hint("auth.not_a_jwt").as_deref(), Some("hint.unauthorized"));
        let other = Caller::Claims(claims("admin", "globex", 0));
        let e = require_admin(Some(&other), "acme").expect_err("another org");
        assert!(
            e.message
                .render_in(crate::i18n::Lang::En)
                .contains("globex")
        );
        assert!(
            e.hint
                .as_ref()
                .expect("hint")
                .render_in(crate::i18n::Lang::En)
                .contains("--org acme")
        );
    }

    #[test]
    fn roles_and_orgs_are_enforced() {
        let c = |role, org| Caller::Claims(claims(role, org, 0));
        assert!(require_admin(Some(&c("admin", "acme")), "acme").is_ok());
        assert_eq!(
            require_admin(Some(&c("member", "acme")), "acme").map_err(|e| e.status.as_u16()),
            Err(403)
        );
        assert_eq!(
            require_admin(Some(&c("admin", "other")), "acme").map_err(|e| e.status.as_u16()),
            Err(403)
        );
        assert_eq!(
            require_admin(None, "acme").map_err(|e| e.status.as_u16()),
            Err(401)
        );
    }
}
