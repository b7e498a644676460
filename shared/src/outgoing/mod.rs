//! What we send WeCom and what it answers for it: message bodies and interactive cards, cut to
//! WeCom's limits, and `message/send`'s receipt. Below the workflow records that keep them;
//! the client that sends them is [`crate::wecom`].

pub mod card;
pub mod message;

pub use message::{MessageBody, OutgoingMessage, SendReceipt, Touser};
