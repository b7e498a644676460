//! The HTTP client for WeCom's REST API (docs/WECOM.md §4): one call per method, errcode ≠ 0 is
//! an error even on HTTP 200, transient failures retried with jittered backoff.
//!
//! URLs carry the access token or the app secret in their query string, so no error from
//! here ever includes a URL.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::errcode::{ErrCode, Kind};
use crate::i18n::Text;
use crate::outgoing::{OutgoingMessage, SendReceipt};

#[derive(Debug, Clone, thiserror::Error)]
pub enum WeComError {
    #[error("WeCom errcode {}: {errmsg}", code.code())]
    Api { code: ErrCode, errmsg: String },
    /// Timeouts, refused or dropped connections, HTTP 5xx: WeCom never answered.
    #[error("WeCom could not be reached: {0}")]
    Network(String),
    /// An answer we cannot read.
    #[error("unexpected answer from WeCom: {0}")]
    Protocol(String),
    /// WeCom refused these very credentials earlier, and is not asked again with them until
    /// `until` (unix seconds): a repeated wrong secret gets the shared egress IP blocked.
    /// WeCom's errmsg is kept but is not this call's answer.
    #[error("WeCom refused these credentials at {since} (errcode {}); not asked again with them until {until}", code.code())]
    Remembered {
        code: ErrCode,
        errmsg: String,
        since: i64,
        until: i64,
    },
    /// Not asked at all: the org spent its budget of checks of credentials WeCom has not
    /// accepted before, until `until_ms` (unix milliseconds).
    #[error("too many checks of unproven credentials for this org; try again after {until_ms}")]
    Throttled { until_ms: i64 },
}

impl WeComError {
    pub fn errcode(&self) -> Option<&ErrCode> {
        match self {
            Self::Api { code, .. } | Self::Remembered { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Worth another try after a pause.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { code, .. } => code.kind() == Kind::Transient,
            Self::Network(_) | Self::Throttled { .. } => true,
            Self::Protocol(_) | Self::Remembered { .. } => false,
        }
    }

    pub fn is_token_invalid(&self) -> bool {
        matches!(self, Self::Api { code, .. } if code.kind() == Kind::Token)
    }

    pub fn hint(&self, egress_ips: &[String]) -> Text {
        match self {
            Self::Api { code, .. } => code.hint(egress_ips),
            Self::Network(_) => Text::new("hint.wecom.unreachable"),
            Self::Protocol(_) => Text::new("hint.wecom.protocol"),
            Self::Remembered { since, until, .. } => Text::new("hint.wecom.remembered_refusal")
                .arg("since", rfc3339(*since))
                .arg("until", rfc3339(*until)),
            Self::Throttled { until_ms } => Text::new("hint.wecom.credential_budget")
                .arg("limit", crate::domain::CREDENTIAL_CHECK_LIMITS[0].1)
                .arg("until", rfc3339((until_ms + 999).div_euclid(1000))),
        }
    }
}

/// Unix seconds as RFC 3339 UTC (empty if out of range).
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Backoff for transient failures: bounded and jittered so that many instances hitting a
/// busy WeCom do not retry in lockstep.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub max_retries: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_retries: 3,
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }
}

/// `gettoken`'s answer.
#[derive(Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

fn split_users(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| {
            s.split('|')
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Clone)]
pub struct WeComClient {
    http: reqwest::Client,
    base: String,
    retry: RetryPolicy,
}

impl WeComClient {
    pub fn new(base: &str) -> Result<Self, WeComError> {
        Self::with_policy(base, RetryPolicy::default(), Duration::from_secs(5))
    }

    /// `timeout` bounds one HTTP call; retries come on top.
    pub fn with_policy(
        base: &str,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, WeComError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| WeComError::Protocol(e.without_url().to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            retry,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One call, decoded and counted (metrics `wecom_notify_wecom_call*` by `path`).
    async fn call_once<T: DeserializeOwned>(
        &self,
        path: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<(T, Value), WeComError> {
        let started = std::time::Instant::now();
        let result = Self::answer(req).await;
        crate::metrics::prom::wecom_call(path, &result, started.elapsed());
        result
    }

    /// One call, decoded; errcode ≠ 0 becomes [`WeComError::Api`].
    async fn answer<T: DeserializeOwned>(
        req: reqwest::RequestBuilder,
    ) -> Result<(T, Value), WeComError> {
        let resp = req
            .send()
            .await
            .map_err(|e| WeComError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(WeComError::Network(format!("HTTP {status}")));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| WeComError::Network(e.without_url().to_string()))?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| WeComError::Protocol(format!("HTTP {status}, body is not JSON")))?;
        let env: Envelope = serde_json::from_value(value.clone())
            .map_err(|e| WeComError::Protocol(format!("no errcode: {e}")))?;
        if env.errcode != 0 {
            return Err(WeComError::Api {
                code: ErrCode::from_response(env.errcode, &env.errmsg),
                errmsg: env.errmsg,
            });
        }
        let typed = serde_json::from_value(value.clone())
            .map_err(|e| WeComError::Protocol(e.to_string()))?;
        Ok((typed, value))
    }

    /// [`Self::call_once`] retried on transient failures.
    async fn call<T: DeserializeOwned>(
        &self,
        path: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(T, Value), WeComError> {
        (|| self.call_once::<T>(path, build()))
            .retry(self.retry.backoff())
            .when(WeComError::is_transient)
            .notify(|e, after| tracing::warn!(error = %e, retry_in = ?after, "WeCom call failed, retrying"))
            .await
    }

    /// `GET /cgi-bin/gettoken`. Not retried on credential errors: repeated wrong-secret
    /// calls get the caller's IP blocked for an hour.
    pub async fn get_token(&self, corp_id: &str, secret: &str) -> Result<IssuedToken, WeComError> {
        #[derive(Deserialize)]
        struct T {
            access_token: String,
            #[serde(default = "default_expiry")]
            expires_in: u64,
        }
        fn default_expiry() -> u64 {
            7200
        }
        const PATH: &str = "/cgi-bin/gettoken";
        let url = format!("{}{PATH}", self.base);
        let (t, _) = self
            .call::<T>(PATH, || {
                self.http
                    .get(&url)
                    .query(&[("corpid", corp_id), ("corpsecret", secret)])
            })
            .await?;
        if t.access_token.is_empty() || t.access_token.len() > 512 {
            return Err(WeComError::Protocol(
                "access_token missing or too long".into(),
            ));
        }
        Ok(IssuedToken {
            access_token: t.access_token,
            expires_in: t.expires_in,
        })
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &'static str,
        token: &str,
        body: &Value,
    ) -> Result<(T, Value), WeComError> {
        let url = format!("{}{path}", self.base);
        self.call::<T>(path, || {
            self.http
                .post(&url)
                .query(&[("access_token", token)])
                .json(body)
        })
        .await
    }

    /// `POST /cgi-bin/message/send`.
    pub async fn send_message(
        &self,
        token: &str,
        msg: &OutgoingMessage,
    ) -> Result<SendReceipt, WeComError> {
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            msgid: Option<String>,
            #[serde(default)]
            response_code: Option<String>,
        }
        let (r, raw) = self
            .post::<R>("/cgi-bin/message/send", token, &msg.to_json())
            .await?;
        Ok(SendReceipt {
            msgid: r.msgid.filter(|m| !m.is_empty()),
            response_code: r.response_code.filter(|c| !c.is_empty()),
            invalid_users: split_users(&raw, "invaliduser"),
            unlicensed_users: split_users(&raw, "unlicenseduser"),
        })
    }

    /// `POST /cgi-bin/user/getuserid`: phone → userid.
    pub async fn userid_by_mobile(&self, token: &str, mobile: &str) -> Result<String, WeComError> {
        self.userid(
            "/cgi-bin/user/getuserid",
            token,
            &json!({ "mobile": mobile }),
        )
        .await
    }

    /// `POST /cgi-bin/user/get_userid_by_email`; `email_type` 1 corporate, 2 personal.
    pub async fn userid_by_email(
        &self,
        token: &str,
        email: &str,
        email_type: u8,
    ) -> Result<String, WeComError> {
        self.userid(
            "/cgi-bin/user/get_userid_by_email",
            token,
            &json!({ "email": email, "email_type": email_type }),
        )
        .await
    }

    async fn userid(
        &self,
        path: &'static str,
        token: &str,
        body: &Value,
    ) -> Result<String, WeComError> {
        #[derive(Deserialize)]
        struct R {
            userid: String,
        }
        let (r, _) = self.post::<R>(path, token, body).await?;
        Ok(r.userid.to_ascii_lowercase())
    }

    /// `POST /cgi-bin/message/update_template_card`: greys out the buttons of the card the
    /// single-use `response_code` belongs to, for `userids`, with `replace_name` on them.
    pub async fn update_card_buttons(
        &self,
        token: &str,
        agent_id: i64,
        userids: &[&str],
        response_code: &str,
        replace_name: &str,
    ) -> Result<(), WeComError> {
        let body = json!({
            "userids": userids,
            "agentid": agent_id,
            "response_code": response_code,
            "button": { "replace_name": replace_name },
        });
        self.post::<Value>("/cgi-bin/message/update_template_card", token, &body)
            .await
            .map(|_| ())
    }

    /// `POST /cgi-bin/message/recall` (within 24 h of sending).
    pub async fn recall(&self, token: &str, msgid: &str) -> Result<(), WeComError> {
        self.post::<Value>("/cgi-bin/message/recall", token, &json!({ "msgid": msgid }))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_do_not_show_in_debug() {
        let t = IssuedToken {
            access_token: "ACCESS-TOKEN-VALUE".into(),
            expires_in: 7200,
        };
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("ACCESS-TOKEN-VALUE"), "{dbg}");
        assert!(dbg.contains("7200"));
    }
}
