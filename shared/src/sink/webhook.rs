//! The local runner's sink: each decision POSTed as JSON to `WECOM_NOTIFY_ACTIONS_WEBHOOK`.

use async_trait::async_trait;

// A URL as logs may show it: scheme, host and port.
use crate::config::url_named as named;
use crate::i18n::Text;
use crate::workflow::{ActionRecord, ActionSink, action_json};

/// POSTs each decision as JSON to a URL (the local runner's `WECOM_NOTIFY_ACTIONS_WEBHOOK`).
pub struct Webhook {
    http: reqwest::Client,
    url: String,
}

impl Webhook {
    pub fn new(url: &str) -> Result<Self, String> {
        // Never the whole URL in an error: its path or query may carry a token.
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{}: not an http(s) URL", named(&parsed)));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(3))
            // A redirect would send the decision somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            url: url.to_owned(),
        })
    }
}

#[async_trait]
impl ActionSink for Webhook {
    async fn publish(&self, a: &ActionRecord) -> Result<(), Text> {
        let resp = self
            .http
            .post(&self.url)
            .json(&action_json(a))
            .send()
            .await
            .map_err(|e| {
                Text::new("decision.error.webhook_unreachable").arg("detail", e.without_url())
            })?;
        // A redirect is not followed: it is an answer the decision did not reach.
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Text::new("decision.error.webhook_status").arg("status", resp.status().as_u16()))
        }
    }
    /// Scheme and host only: a webhook URL may carry a token in its path or query.
    fn describe(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(u) => format!("webhook {}", named(&u)),
            Err(_) => "webhook".into(),
        }
    }
    fn kind(&self) -> &'static str {
        "webhook"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_must_be_http_and_is_named_without_its_path() {
        let hook =
            Webhook::new("https://hooks.example.com:8443/T0/secret-token?key=k").expect("ok");
        assert_eq!(hook.describe(), "webhook https://hooks.example.com:8443");
        assert!(Webhook::new("ftp://x").is_err());
        let e = Webhook::new("ftp://h.example.com/secret-token")
            .err()
            .unwrap_or_default();
        assert!(!e.contains("secret-token"), "{e}");
        assert!(Webhook::new("not a url").is_err());
        assert!(Webhook::new("http://127.0.0.1:9/hook").is_ok());
    }
}
