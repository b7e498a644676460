//! The library every wecom-notify function shares: WeCom callback crypto, the domain, storage
//! ports and their adapters, configuration and the HTTP edge. It knows no function.

pub mod auth;
pub mod channel;
pub mod config;
pub use wecom_crypto as crypto;
pub mod domain;
pub mod http;
pub mod i18n;
pub mod json;
pub mod lambda;
pub mod metrics;
pub mod sink;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod wecom;
pub mod workflow;
pub use wecom_crypto::xml;
