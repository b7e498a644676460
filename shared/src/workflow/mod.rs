//! Workflow events, subscriptions and delivery records: what dispatch works with.
//! Nothing here knows AWS or HTTP.

use serde::{Deserialize, Serialize};

use crate::domain::{Node, SubscriptionType};

mod actions;
mod approval;
mod decision;
mod delivery;
mod event;
mod follow_up;
pub mod stats;

pub use actions::{
    ACTION_KEY_MAX, Action, ActionKey, Actions, BUTTON_TEXT_MAX, ButtonStyle, ButtonText,
    MAX_ACTIONS,
};
pub use approval::{
    Approval, Decide, ESCALATE_MAX, EscalateTo, FollowUpKind, REMIND_AFTER_MAX, REMINDERS_MAX,
    RemindAfter, Reminders,
};
pub use decision::{
    ANSWER_MAX, ANY_MEMBER, ActionRecord, ActionSink, CardAnswer, Click, LATER_MAX, LaterClick,
    PEERS_MAX, PeerCard, RESPONSE_CODE_TTL_MS, RETRY_MAX_MS, RecordOnly, Refused, SINK_NONE,
    UNFINISHED_ALARM_MS, action_json, retry_pause_ms,
};
pub use delivery::{Delivery, DeliveryKind, DeliveryStatus, FollowUp, PublicStatus, Reason};
pub use event::{MAX_RECIPIENTS, MalformedEvent, WorkflowEvent};
pub use follow_up::MEMBER_LANG;

/// How a subscription's messages look in WeCom. `textcard` is the default: it is readable in
/// the WeChat plugin too, where markdown is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    #[default]
    Textcard,
    Text,
    Markdown,
}

/// The org's switch for one (subscription type, workflow node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub subscription_type: SubscriptionType,
    pub node: Node,
    pub personal_channel: bool,
    #[serde(default)]
    pub message_format: MessageFormat,
    /// Buttons: the member answers from inside WeCom with an interactive card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Actions>,
    /// Who decides a card: `each` recipient (会签), or `any` one for everyone (或签).
    #[serde(default)]
    pub decide: Decide,
    /// Minutes without a decision before the recipient is reminded (and, after the last
    /// reminder, before the card escalates). Needed by `reminders` and `escalate_to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_after_minutes: Option<RemindAfter>,
    /// Reminders an undecided recipient gets, `remind_after_minutes` apart.
    #[serde(default)]
    pub reminders: Reminders,
    /// Who gets the card when its recipient has still not decided after the last reminder.
    #[serde(default)]
    pub escalate_to: EscalateTo,
}

impl Subscription {
    /// The (type, node) switched on or off, as a text message, with no buttons.
    pub fn new(subscription_type: SubscriptionType, node: Node, personal_channel: bool) -> Self {
        Self {
            subscription_type,
            node,
            personal_channel,
            message_format: MessageFormat::default(),
            actions: None,
            decide: Decide::default(),
            remind_after_minutes: None,
            reminders: Reminders::default(),
            escalate_to: EscalateTo::default(),
        }
    }

    /// Its approval rules.
    pub fn approval(&self) -> Approval {
        Approval {
            decide: self.decide,
            remind_after_minutes: self.remind_after_minutes,
            reminders: self.reminders,
            escalate_to: self.escalate_to.clone(),
        }
    }
}
