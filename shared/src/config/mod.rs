//! Configuration from the environment: the same names in Lambda and locally. Every bad
//! variable is reported at once, so a deployer fixes them in one round.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use secrecy::SecretString;

mod stores;
mod urls;

use urls::is_loopback_host;
pub use urls::is_loopback_http;
pub(crate) use urls::url_named;

pub const DEFAULT_API_BASE: &str = "https://qyapi.weixin.qq.com";

/// HS256 keys shorter than the hash are guessable offline from one token.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    DynamoDb,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

#[derive(Debug, Clone)]
pub struct Config {
    pub wecom_api_base: String,
    pub store: StoreKind,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub jwt_secret: Option<SecretString>,
    pub egress_ips: Vec<IpAddr>,
    pub table: String,
    pub secret_prefix: String,
    pub kms_key_id: Option<String>,
    /// How long delivery records are kept (DynamoDB TTL).
    pub delivery_retention_days: i64,
    /// How long audit entries are kept (DynamoDB TTL; the embedded store's sweep).
    pub audit_retention_days: i64,
    /// Shards of the per-org delivery index and the due index.
    pub shards: u16,
    /// The OpenID Connect issuer whose tokens the deployment accepts; the console signs in
    /// against it (authorization code + PKCE).
    pub jwt_issuer: Option<String>,
    /// The OpenID Connect client id of the console at that issuer (a public client).
    pub console_client_id: Option<String>,
    /// The audience (`aud`) the all-in-one server requires of the issuer's access tokens; on
    /// AWS the JWT authorizer checks the template's `JwtAudience` instead.
    pub jwt_audience: Option<String>,
    /// Where members' decisions on cards are published on AWS: an EventBridge bus.
    pub actions_bus: Option<String>,
    /// The `source` of the `Workflow Action Taken` events.
    pub actions_source: String,
    /// Locally: a URL every decision is POSTed to as JSON.
    pub actions_webhook: Option<String>,
    /// Locally: where Prometheus metrics are served (`GET /metrics`); none if unset.
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Reads the process environment. `lambda` selects the Lambda defaults (DynamoDB store).
    pub fn from_env(lambda: bool) -> Result<Self, ConfigError> {
        Self::from_lookup(lambda, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        lambda: bool,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let wecom_api_base = var("WECOM_API_BASE")
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !wecom_api_base.starts_with("https://") && !is_loopback_http(&wecom_api_base) {
            errors.push(format!(
                "WECOM_API_BASE={wecom_api_base:?}: must be https:// (plain http:// only to a loopback address, for a fake WeCom in tests)"
            ));
        }

        let store = match var("WECOM_NOTIFY_STORE").as_deref() {
            None if lambda => StoreKind::DynamoDb,
            None | Some("embedded") => StoreKind::Embedded,
            Some("dynamodb") => StoreKind::DynamoDb,
            Some(other) => {
                errors.push(format!(
                    "WECOM_NOTIFY_STORE={other:?}: must be `embedded` or `dynamodb`"
                ));
                StoreKind::Embedded
            }
        };
        if lambda && store == StoreKind::Embedded {
            errors.push("WECOM_NOTIFY_STORE=embedded: Lambda always uses dynamodb".into());
        }

        let listen_raw = var("WECOM_NOTIFY_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen = listen_raw.parse().unwrap_or_else(|_| {
            errors.push(format!(
                "WECOM_NOTIFY_LISTEN={listen_raw:?}: must be an address like 127.0.0.1:3000"
            ));
            SocketAddr::from(([127, 0, 0, 1], 3000))
        });

        let metrics_listen = var("WECOM_NOTIFY_METRICS_LISTEN").and_then(|raw| {
            raw.parse().map_or_else(
                |_| {
                    errors.push(format!(
                        "WECOM_NOTIFY_METRICS_LISTEN={raw:?}: must be an address like 127.0.0.1:9464"
                    ));
                    None
                },
                Some,
            )
        });

        let public_url = var("WECOM_NOTIFY_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            errors.push(format!(
                "WECOM_NOTIFY_PUBLIC_URL={u:?}: must start with http:// or https://"
            ));
        }

        let mut egress_ips = Vec::new();
        for part in var("WECOM_NOTIFY_EGRESS_IPS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.parse() {
                Ok(ip) => egress_ips.push(ip),
                Err(_) => errors.push(format!(
                    "WECOM_NOTIFY_EGRESS_IPS: {part:?} is not an IP address"
                )),
            }
        }

        let retention_raw =
            var("WECOM_NOTIFY_DELIVERY_RETENTION_DAYS").unwrap_or_else(|| "30".into());
        let retention = match retention_raw.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => d,
            _ => {
                errors.push(format!(
                    "WECOM_NOTIFY_DELIVERY_RETENTION_DAYS={retention_raw:?}: must be a number of days, 1-3650"
                ));
                30
            }
        };

        let audit_raw = var("WECOM_NOTIFY_AUDIT_RETENTION_DAYS").unwrap_or_else(|| "400".into());
        let audit_retention_days = match audit_raw.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => d,
            _ => {
                errors.push(format!(
                    "WECOM_NOTIFY_AUDIT_RETENTION_DAYS={audit_raw:?}: must be a number of days, 1-3650"
                ));
                400
            }
        };

        let shards_raw =
            var("WECOM_NOTIFY_SHARDS").unwrap_or_else(|| crate::store::DEFAULT_SHARDS.to_string());
        let shards = match shards_raw.parse::<u16>() {
            Ok(n) if (1..=256).contains(&n) => n,
            _ => {
                errors.push(format!(
                    "WECOM_NOTIFY_SHARDS={shards_raw:?}: must be a number of shards, 1-256"
                ));
                crate::store::DEFAULT_SHARDS
            }
        };

        let jwt_secret = var("WECOM_NOTIFY_JWT_SECRET");
        if jwt_secret
            .as_ref()
            .is_some_and(|s| s.len() < MIN_JWT_SECRET_BYTES)
        {
            // The value itself is never echoed: it is a secret.
            errors.push(format!(
                "WECOM_NOTIFY_JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            ));
        }

        let jwt_issuer = var("WECOM_NOTIFY_JWT_ISSUER");
        if let Some(iss) = &jwt_issuer
            && !iss.starts_with("https://")
            && !is_loopback_http(iss)
        {
            errors.push(format!(
                "WECOM_NOTIFY_JWT_ISSUER={iss:?}: must be an https:// URL (plain http:// only to a loopback address)"
            ));
        }

        // Locally the issuer replaces the runner's own tokens: its access tokens are checked
        // against an audience, and a shared secret beside it would let either kind in.
        let jwt_audience = var("WECOM_NOTIFY_JWT_AUDIENCE");
        if !lambda {
            match (&jwt_issuer, &jwt_audience, &jwt_secret) {
                (Some(_), None, _) => errors.push(
                    "WECOM_NOTIFY_JWT_AUDIENCE: required with WECOM_NOTIFY_JWT_ISSUER: the audience \
                     (`aud`) the issuer puts in access tokens for this API"
                        .into(),
                ),
                (None, Some(_), _) => errors.push(
                    "WECOM_NOTIFY_JWT_AUDIENCE: only with WECOM_NOTIFY_JWT_ISSUER (the runner's own \
                     tokens have no audience)"
                        .into(),
                ),
                _ => {}
            }
            if jwt_issuer.is_some() && jwt_secret.is_some() {
                errors.push(
                    "WECOM_NOTIFY_JWT_SECRET: unset it when WECOM_NOTIFY_JWT_ISSUER is set: the \
                     server then accepts only the issuer's tokens"
                        .into(),
                );
            }
        }

        let allow_http_raw = var("WECOM_NOTIFY_ACTIONS_WEBHOOK_ALLOW_HTTP");
        let allow_http = match allow_http_raw.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                errors.push(format!(
                    "WECOM_NOTIFY_ACTIONS_WEBHOOK_ALLOW_HTTP={v:?}: must be `true` or `false`"
                ));
                false
            }
        };
        let actions_webhook = var("WECOM_NOTIFY_ACTIONS_WEBHOOK");
        // Never the whole URL in an error: its path or query may carry a token.
        if let Some(url) = &actions_webhook {
            match reqwest::Url::parse(url) {
                Err(e) => errors.push(format!(
                    "WECOM_NOTIFY_ACTIONS_WEBHOOK: not a URL ({e}); must be an http:// or https:// URL"
                )),
                Ok(u) if !matches!(u.scheme(), "http" | "https") => errors.push(format!(
                    "WECOM_NOTIFY_ACTIONS_WEBHOOK ({}/…): must be an http:// or https:// URL",
                    url_named(&u)
                )),
                Ok(u) if u.scheme() == "http" && !is_loopback_host(&u) && !allow_http => {
                    errors.push(format!(
                        "WECOM_NOTIFY_ACTIONS_WEBHOOK ({}/…): plain http:// only to a loopback address; \
                         use https://, or set WECOM_NOTIFY_ACTIONS_WEBHOOK_ALLOW_HTTP=true to send \
                         decisions in the clear",
                        url_named(&u)
                    ))
                }
                Ok(_) => {}
            }
        }
        let actions_source =
            var("WECOM_NOTIFY_ACTIONS_SOURCE").unwrap_or_else(|| "wecom-notify".into());
        if actions_source.starts_with("aws.") || actions_source.len() > 256 {
            errors.push(format!(
                "WECOM_NOTIFY_ACTIONS_SOURCE={actions_source:?}: must not start with `aws.` and be at most 256 characters (EventBridge's rule)"
            ));
        }

        // A function's table is its stack's (the template sets it): a default would send its
        // records to whatever table bears that name. Only the local runner has one.
        let table = var("WECOM_NOTIFY_TABLE");
        if lambda && table.is_none() {
            errors.push(
                "WECOM_NOTIFY_TABLE: not set; on Lambda it names the stack's table (infra/template.yaml sets it)".into(),
            );
        }

        let cfg = Self {
            wecom_api_base,
            store,
            data_dir: var("WECOM_NOTIFY_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("./.wecom-notify")),
            listen,
            public_url,
            jwt_secret: jwt_secret.map(SecretString::from),
            egress_ips,
            table: table.unwrap_or_else(|| "wecom-notify".into()),
            secret_prefix: var("WECOM_NOTIFY_SECRET_PREFIX")
                .unwrap_or_else(|| "wecom-notify".into())
                .trim_end_matches('/')
                .to_owned(),
            kms_key_id: var("WECOM_NOTIFY_KMS_KEY_ID"),
            delivery_retention_days: retention,
            audit_retention_days,
            shards,
            jwt_issuer,
            console_client_id: var("WECOM_NOTIFY_CONSOLE_CLIENT_ID"),
            jwt_audience,
            actions_bus: var("WECOM_NOTIFY_ACTIONS_BUS"),
            actions_source,
            actions_webhook,
            metrics_listen,
        };
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError(errors))
        }
    }

    /// The egress IPs as the API and hints show them.
    pub fn egress_ip_strings(&self) -> Vec<String> {
        self.egress_ips.iter().map(ToString::to_string).collect()
    }

    pub fn store_label(&self) -> String {
        match self.store {
            StoreKind::Embedded => format!("embedded ({})", self.data_dir.display()),
            StoreKind::DynamoDb => format!(
                "dynamodb (table {}, secrets {}/…)",
                self.table, self.secret_prefix
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As on Lambda, where the template always names the stack's table.
    fn on_lambda(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::from_lookup(true, |k| {
            get(k).or_else(|| (k == "WECOM_NOTIFY_TABLE").then(|| "stack-Table-1".into()))
        })
    }

    #[test]
    fn defaults() {
        let c = Config::from_lookup(false, |_| None).expect("defaults");
        assert_eq!(c.wecom_api_base, DEFAULT_API_BASE);
        assert_eq!(c.store, StoreKind::Embedded);
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.table, "wecom-notify");
        let l = on_lambda(|_| None).expect("lambda defaults");
        assert_eq!(l.store, StoreKind::DynamoDb);
    }

    /// On Lambda the table is the stack's: without its name the function would write to a
    /// table called `wecom-notify`, whichever stack owns one (the rehearsal's renamed variable).
    #[test]
    fn a_function_without_its_table_refuses_to_start() {
        let err = Config::from_lookup(true, |_| None).expect_err("no table on Lambda");
        assert!(err.to_string().contains("WECOM_NOTIFY_TABLE"), "{err}");
        let local = Config::from_lookup(false, |k| {
            (k == "WECOM_NOTIFY_STORE").then(|| "dynamodb".into())
        })
        .expect("the local runner keeps its default table");
        assert_eq!(local.table, "wecom-notify");
    }

    #[test]
    fn the_metrics_listener_is_off_unless_set_and_a_bad_address_is_named() {
        assert_eq!(
            Config::from_lookup(false, |_| None).unwrap().metrics_listen,
            None
        );
        let set = |v: &'static str| {
            Config::from_lookup(false, move |k| {
                (k == "WECOM_NOTIFY_METRICS_LISTEN").then(|| v.into())
            })
        };
        let c = set("127.0.0.1:9464").expect("an address");
        assert_eq!(
            c.metrics_listen.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:9464")
        );
        let err = set("9464").expect_err("a port alone is no address");
        assert!(
            err.to_string()
                .contains("WECOM_NOTIFY_METRICS_LISTEN=\"9464\""),
            "{err}"
        );
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        for ok in [
            "https://qyapi.weixin.qq.com",
            "http://127.0.0.1:3100",
            "http://localhost:3100",
            "http://[::1]:3100",
        ] {
            assert!(
                Config::from_lookup(false, |k| (k == "WECOM_API_BASE").then(|| ok.into())).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://qyapi.weixin.qq.com",
            "http://10.0.0.8:80",
            "http://127.0.0.1:80@qyapi.weixin.qq.com",
            "ftp://x",
        ] {
            let err = on_lambda(|k| (k == "WECOM_API_BASE").then(|| bad.into())).expect_err(bad);
            assert!(err.to_string().contains("WECOM_API_BASE"), "{err}");
        }
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err = Config::from_lookup(false, |k| {
            (k == "WECOM_NOTIFY_JWT_SECRET").then(|| "short".into())
        })
        .expect_err("short");
        assert!(err.to_string().contains("32"), "{err}");
        assert!(
            !err.to_string().contains("short\""),
            "the value is not echoed: {err}"
        );
        let long = "x".repeat(32);
        assert!(
            Config::from_lookup(false, |k| (k == "WECOM_NOTIFY_JWT_SECRET")
                .then(|| long.clone()))
            .is_ok()
        );
    }

    #[test]
    fn the_console_sign_in_settings_are_optional_and_the_issuer_is_https() {
        let c = on_lambda(|_| None).expect("defaults");
        assert_eq!((c.jwt_issuer, c.console_client_id), (None, None));
        let c = on_lambda(|k| match k {
            "WECOM_NOTIFY_JWT_ISSUER" => Some("https://id.example.com/realms/acme".into()),
            "WECOM_NOTIFY_CONSOLE_CLIENT_ID" => Some(" wecom-console ".into()),
            _ => None,
        })
        .expect("set");
        assert_eq!(
            c.jwt_issuer.as_deref(),
            Some("https://id.example.com/realms/acme")
        );
        assert_eq!(c.console_client_id.as_deref(), Some("wecom-console"));
        let err =
            on_lambda(|k| (k == "WECOM_NOTIFY_JWT_ISSUER").then(|| "http://id.example.com".into()))
                .expect_err("plain http");
        assert!(err.to_string().contains("WECOM_NOTIFY_JWT_ISSUER"), "{err}");
    }

    #[test]
    fn locally_the_issuer_needs_an_audience_and_replaces_the_shared_secret() {
        let issuer = "https://id.example.com/realms/acme";
        let secret = "x".repeat(32);
        let local = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Config::from_lookup(false, move |k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            })
        };
        let c = local(&[
            ("WECOM_NOTIFY_JWT_ISSUER", issuer),
            ("WECOM_NOTIFY_JWT_AUDIENCE", "https://wecom-notify.acme.cn"),
        ])
        .expect("issuer and audience");
        assert_eq!(
            c.jwt_audience.as_deref(),
            Some("https://wecom-notify.acme.cn")
        );
        let err = local(&[("WECOM_NOTIFY_JWT_ISSUER", issuer)]).expect_err("no audience");
        assert!(
            err.to_string()
                .contains("WECOM_NOTIFY_JWT_AUDIENCE: required"),
            "{err}"
        );
        let err = local(&[("WECOM_NOTIFY_JWT_AUDIENCE", "api")]).expect_err("no issuer");
        assert!(
            err.to_string()
                .contains("only with WECOM_NOTIFY_JWT_ISSUER"),
            "{err}"
        );
        let err = local(&[
            ("WECOM_NOTIFY_JWT_ISSUER", issuer),
            ("WECOM_NOTIFY_JWT_AUDIENCE", "api"),
            ("WECOM_NOTIFY_JWT_SECRET", &secret),
        ])
        .expect_err("both kinds of token");
        assert!(err.to_string().contains("unset it"), "{err}");
        assert!(
            !err.to_string().contains(&secret),
            "the secret is not echoed: {err}"
        );
        // On AWS the authorizer checks the audience: the functions do not need it.
        assert!(on_lambda(|k| (k == "WECOM_NOTIFY_JWT_ISSUER").then(|| issuer.into())).is_ok());
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let err = Config::from_lookup(false, |k| match k {
            "WECOM_NOTIFY_STORE" => Some("postgres".into()),
            "WECOM_NOTIFY_LISTEN" => Some("nowhere".into()),
            "WECOM_NOTIFY_EGRESS_IPS" => Some("203.0.113.10, 999.1.1.1".into()),
            _ => None,
        })
        .expect_err("bad");
        assert_eq!(err.0.len(), 3, "{err}");
        assert!(err.to_string().contains("999.1.1.1"));
    }

    #[test]
    fn decisions_go_to_a_bus_or_a_webhook() {
        let c = on_lambda(|_| None).expect("defaults");
        assert_eq!(
            (c.actions_bus, c.actions_source.as_str(), c.actions_webhook),
            (None, "wecom-notify", None)
        );
        let err = Config::from_lookup(false, |k| match k {
            "WECOM_NOTIFY_ACTIONS_WEBHOOK" => Some("ftp://hook".into()),
            "WECOM_NOTIFY_ACTIONS_SOURCE" => Some("aws.events".into()),
            _ => None,
        })
        .expect_err("bad");
        assert_eq!(err.0.len(), 2, "{err}");
    }

    #[test]
    fn a_bad_webhook_is_named_by_scheme_and_host_only() {
        let err = Config::from_lookup(false, |k| {
            (k == "WECOM_NOTIFY_ACTIONS_WEBHOOK")
                .then(|| "ftp://hooks.example.com/T0/secret-token?key=k".into())
        })
        .expect_err("ftp");
        let e = err.to_string();
        assert!(e.contains("WECOM_NOTIFY_ACTIONS_WEBHOOK"), "{e}");
        assert!(e.contains("ftp://hooks.example.com"), "{e}");
        assert!(!e.contains("secret-token") && !e.contains("key=k"), "{e}");
        let err = Config::from_lookup(false, |k| {
            (k == "WECOM_NOTIFY_ACTIONS_WEBHOOK").then(|| "not a url/secret-token".into())
        })
        .expect_err("not a URL");
        assert!(!err.to_string().contains("secret-token"), "{err}");
    }

    #[test]
    fn a_plain_http_webhook_goes_to_loopback_unless_allowed() {
        let hook = |url: &'static str, allow: Option<&'static str>| {
            Config::from_lookup(false, move |k| match k {
                "WECOM_NOTIFY_ACTIONS_WEBHOOK" => Some(url.into()),
                "WECOM_NOTIFY_ACTIONS_WEBHOOK_ALLOW_HTTP" => allow.map(Into::into),
                _ => None,
            })
        };
        for ok in [
            "https://hooks.example.com/T0/secret-token",
            "http://127.0.0.1:8080/decisions",
            "http://localhost:8080/decisions",
            "http://[::1]:8080/decisions",
        ] {
            assert!(hook(ok, None).is_ok(), "{ok}");
        }
        let err = hook("http://hooks.example.com/T0/secret-token", None).expect_err("plain http");
        let e = err.to_string();
        assert!(e.contains("WECOM_NOTIFY_ACTIONS_WEBHOOK_ALLOW_HTTP"), "{e}");
        assert!(e.contains("http://hooks.example.com"), "{e}");
        assert!(!e.contains("secret-token"), "{e}");
        assert!(hook("http://10.0.0.8/hook", Some("false")).is_err());
        let c = hook("http://10.0.0.8/hook", Some("true")).expect("allowed explicitly");
        assert_eq!(c.actions_webhook.as_deref(), Some("http://10.0.0.8/hook"));
        let err = hook("https://hooks.example.com", Some("yes")).expect_err("not a boolean");
        assert!(
            err.to_string()
                .contains("WECOM_NOTIFY_ACTIONS_WEBHOOK_ALLOW_HTTP"),
            "{err}"
        );
    }
}
