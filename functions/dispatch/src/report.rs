//! What an invocation did, per recipient: the answer of the local events route and the log
//! line of every invocation.

use serde::Serialize;
use shared::workflow::{Delivery, PublicStatus, Reason};
use utoipa::ToSchema;

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

/// What happened to one recipient in this invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Outcome {
    /// As the event named it.
    pub member: String,
    pub status: PublicStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Outcome {
    pub fn of(d: &Delivery) -> Self {
        Self {
            member: d.member.clone(),
            status: d.status.public(),
            reason: d.reason,
            userid: d.userid.clone(),
            msgid: d.msgid.clone(),
            wecom_errcode: d.wecom_errcode,
            hint: d.hint.as_deref().map(shared::i18n::render_stored),
        }
    }

    /// Already handled, or in another invocation's hands.
    pub fn duplicate(member: &str) -> Self {
        Self {
            member: member.to_owned(),
            status: PublicStatus::Duplicate,
            reason: None,
            userid: None,
            msgid: None,
            wecom_errcode: None,
            hint: None,
        }
    }
}
