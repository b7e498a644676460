//! What an invocation can fail with, and how Lambda (and so the dead-letter queue) hears it.

use shared::channel::ChannelError;
use shared::store::StoreError;
use shared::workflow::MalformedEvent;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// Retrying cannot help: the event goes to the dead-letter queue.
    #[error(transparent)]
    Malformed(#[from] MalformedEvent),
    /// The store could not be reached: the whole invocation should be retried.
    #[error("store unavailable: {0}")]
    Store(String),
    /// Only with a crash point set (tests): the invocation "died" here.
    #[error("crash injected at {0:?}")]
    Crashed(CrashPoint),
}

impl From<StoreError> for DispatchError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<ChannelError> for DispatchError {
    fn from(e: ChannelError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Where a test may make an invocation die, to prove nothing is lost or sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After every recipient was claimed, before anything was sent.
    AfterClaim,
    /// After WeCom accepted the message, before the outcome was recorded.
    AfterSend,
}

/// How a failed invocation is reported to Lambda (and so to the DLQ's error attributes).
impl From<DispatchError> for lambda_runtime::Diagnostic {
    fn from(e: DispatchError) -> Self {
        let error_type = match &e {
            DispatchError::Malformed(_) => "MalformedEvent",
            DispatchError::Store(_) => "StoreUnavailable",
            DispatchError::Crashed(_) => "Crashed",
        };
        Self {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
