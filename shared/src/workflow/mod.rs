//! Workflow events, subscriptions and delivery records: what dispatch works with.
//! Nothing here knows AWS or HTTP.

use serde::{Deserialize, Serialize};

use crate::domain::{Node, SubscriptionType};

mod actions;
mod decision;
mod delivery;
mod event;

pub use actions::{
    ACTION_KEY_MAX, Action, ActionKey, Actions, BUTTON_TEXT_MAX, ButtonStyle, ButtonText,
    MAX_ACTIONS,
};
pub use decision::{
    ANSWER_MAX, ActionRecord, ActionSink, CardAnswer, Click, LATER_MAX, LaterClick,
    RESPONSE_CODE_TTL_MS, RETRY_MAX_MS, RecordOnly, Refused, SINK_NONE, UNFINISHED_ALARM_MS,
    action_json, retry_pause_ms,
};
pub use delivery::{Delivery, DeliveryStatus, PublicStatus, Reason};
pub use event::{MAX_RECIPIENTS, MalformedEvent, WorkflowEvent};

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
}
