//! What an invocation did, per recipient: the answer of the local events route and the log
//! line of every invocation.

use serde::Serialize;
use shared::workflow::{Delivery, PublicStatus, Reason};

/// What happened to one recipient in this invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
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
    pub(crate) fn of(d: &Delivery) -> Self {
        Self {
            member: d.member.clone(),
            status: d.status.public(),
            reason: d.reason,
            userid: d.userid.clone(),
            msgid: d.msgid.clone(),
            wecom_errcode: d.wecom_errcode,
            hint: d.hint.clone(),
        }
    }

    pub(crate) fn duplicate(member: &str) -> Self {
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
