//! The library every wecom-notify function shares: WeCom callback crypto, the domain, storage
//! ports and their adapters, the WeCom client, the workflow and channel services, and the HTTP
//! edge. It knows no function; functions never import each other, and only the local runner
//! (`functions/local`) composes them. The whole map, with three walkthroughs of the code in
//! order: `docs/ARCHITECTURE.md`.
//!
//! The layers, each using only those listed before it:
//!
//! - [`domain`]: values parsed at the edge (ids, channel config, secrets, binding and app
//!   records, the pacing rule); no AWS, no HTTP. [`crypto`] and [`xml`] (the `crypto/` crate)
//!   are WeCom's callback crypto and push XML. [`outgoing`]: what is sent to WeCom (message
//!   bodies, cards) and `message/send`'s receipt.
//! - [`workflow`]: events, subscriptions, delivery records, decisions: the records dispatch
//!   and the callback keep.
//! - [`store`]: one port per kind of record, and their adapters: [`store::dynamo`] (one
//!   DynamoDB table; its doc is the storage layout), the embedded redb store (feature
//!   `embedded`: the local runner and tests only), Secrets Manager or a local secret file.
//! - [`wecom`]: the REST client, errcodes and their hints, the token cache shared through the
//!   store, one app's calls ([`wecom::WeComApp`]).
//! - [`channel`] (saving and reading bindings with their secrets per app, userids, the
//!   credential probe); [`sink`]: where decisions are published, and the outbox that takes
//!   them there.
//! - [`http`]: the error format, JSON bodies, views, pages and cursors, routes, the OpenAPI
//!   document; [`auth`]: bearer claims and the admin extractors; [`i18n`]: every text in
//!   English and Simplified Chinese.
//! - [`schema`]: the OpenAPI schemas of the domain's string types, below everything that
//!   describes a wire type.
//! - Hosting: [`config`] (environment variables), [`lambda`] (the Lambda glue),
//!   [`telemetry`] (logs), [`metrics`] (CloudWatch metrics as log lines, and the Prometheus
//!   metrics the local runner exports), [`json`].

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
pub mod outgoing;
pub mod schema;
pub mod sink;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod wecom;
pub mod workflow;
pub use wecom_crypto::xml;
