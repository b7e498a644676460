//! WeCom's REST API: the client, its error codes, the shared token cache, and one app's calls
//! with it. What is sent is [`crate::outgoing`]'s (re-exported here as part of the client's
//! API).

pub mod app;
pub mod client;
pub mod credentials;
pub mod errcode;
pub mod resolve;
pub mod token;

pub use crate::outgoing::{MessageBody, OutgoingMessage, SendReceipt, Touser, card, message};
pub use app::WeComApp;
pub use client::{RetryPolicy, WeComClient, WeComError};
pub use credentials::{AccessToken, AppCredentials};
pub use errcode::{ErrCode, Kind};
pub use resolve::{needs_lookup, resolve_userid};
pub use token::TokenCache;
