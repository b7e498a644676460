//! Logging: JSON lines on Lambda (CloudWatch parses them), human lines locally.
//! Nothing logged anywhere carries a secret: secrets are types whose Debug is redacted.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// `RUST_LOG` as `level` or `target=level,…` (e.g. `info,shared::wecom=debug`). A `Targets`
/// filter, not `EnvFilter`: its span and field directives are not needed here, and its regex
/// engine was a good part of every Lambda binary.
pub fn filter(spec: Option<&str>) -> Targets {
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.parse().unwrap_or_else(|e| {
            // Logging is not up yet; stderr reaches CloudWatch and the terminal alike.
            eprintln!("RUST_LOG={s:?} is not a log filter ({e}); logging at info");
            Targets::new().with_default(LevelFilter::INFO)
        }),
        None => Targets::new().with_default(LevelFilter::INFO),
    }
}

pub fn init(json: bool) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if json {
        let fmt = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .without_time();
        tracing_subscriber::registry()
            .with(fmt.with_filter(filter))
            .try_init()
    } else {
        let fmt = tracing_subscriber::fmt::layer().with_target(false);
        tracing_subscriber::registry()
            .with(fmt.with_filter(filter))
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_default_and_per_target_levels() {
        let f = filter(Some("warn,shared::wecom=debug"));
        assert!(f.would_enable("shared::wecom::client", &Level::DEBUG));
        assert!(!f.would_enable("shared::store", &Level::INFO));
        assert!(f.would_enable("shared::store", &Level::WARN));
    }

    #[test]
    fn unset_empty_or_malformed_rust_log_logs_at_info() {
        for spec in [None, Some(""), Some("  "), Some("shared=loud")] {
            let f = filter(spec);
            assert!(f.would_enable("callback", &Level::INFO), "{spec:?}");
            assert!(!f.would_enable("callback", &Level::DEBUG), "{spec:?}");
        }
    }
}
