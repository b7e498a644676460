//! What EventBridge hands dispatch, parsed once.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use shared::i18n::Text;
use shared::workflow::{MalformedEvent, WorkflowEvent};

use crate::DecisionRef;

/// The one-minute schedule, a workflow event, or a member's decision to finish (its card to
/// answer).
#[derive(Debug, Clone)]
pub enum Incoming {
    Sweep,
    Workflow(Box<WorkflowEvent>),
    Decision(DecisionRef),
}

impl Incoming {
    pub fn parse(ev: &EventBridgeEvent<Value>) -> Result<Self, MalformedEvent> {
        if ev.source == "aws.events" && ev.detail_type == "Scheduled Event" {
            return Ok(Self::Sweep);
        }
        if ev.detail_type == shared::sink::DETAIL_TYPE {
            return DecisionRef::from_detail(&ev.detail)
                .map(Self::Decision)
                .ok_or_else(|| {
                    MalformedEvent(
                        Text::new("event.not_eventbridge")
                            .arg("detail", "a decision names its org, event_id and member"),
                    )
                });
        }
        Ok(Self::Workflow(Box::new(WorkflowEvent::from_detail(
            &ev.detail,
        )?)))
    }

    /// From an envelope as JSON (the local runner's route).
    pub fn from_json(envelope: &Value) -> Result<Self, MalformedEvent> {
        let ev: EventBridgeEvent<Value> = serde_json::from_value(envelope.clone())
            .map_err(|e| MalformedEvent(Text::new("event.not_eventbridge").arg("detail", e)))?;
        Self::parse(&ev)
    }
}
