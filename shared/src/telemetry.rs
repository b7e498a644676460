//! Logging: JSON lines on Lambda (CloudWatch parses them), human lines locally.
//! Nothing logged anywhere carries a secret: secrets are types whose Debug is redacted.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if json {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
