//! What an invocation did, per recipient: the answer of the local events route and the log
//! line of every invocation.

use serde::Serialize;
// The type lives in shared: the OpenAPI document describes the local events route's answer.
pub use shared::workflow::Outcome;
use shared::workflow::PublicStatus;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub event_id: Option<String>,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn count(&self, status: PublicStatus) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
}
