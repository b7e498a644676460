//! WeCom's REST API: the client, its error codes, message bodies and the shared token cache.

pub mod app;
pub mod card;
pub mod client;
pub mod credentials;
pub mod errcode;
pub mod message;
pub mod resolve;
pub mod token;

pub use app::WeComApp;
pub use client::{RetryPolicy, SendReceipt, WeComClient, WeComError};
pub use credentials::{AccessToken, AppCredentials};
pub use errcode::{ErrCode, Kind};
pub use message::{MessageBody, OutgoingMessage, Touser};
pub use resolve::{needs_lookup, resolve_userid};
pub use token::TokenCache;
