//! WeCom's REST API: the client, its error codes, message bodies and the shared token cache.

pub mod client;
pub mod errcode;
pub mod message;
pub mod token;

pub use client::{RetryPolicy, SendReceipt, WeComClient, WeComError};
pub use errcode::{ErrCode, Kind};
pub use message::{MessageBody, OutgoingMessage};
pub use token::{AccessToken, AppCredentials, TokenCache, WeComApp};
