//! Decisions published to EventBridge as `Workflow Action Taken` events, on the bus the
//! template names. The callback publishes at once; the dispatcher's sweep publishes what the
//! callback could not (both roles may put only this source and detail-type on that bus).

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use tokio::sync::OnceCell;

use crate::i18n::Text;
use crate::workflow::{ActionRecord, ActionSink, action_json};

/// The detail-type of a decision, as the workflow system's rules match it.
pub const DETAIL_TYPE: &str = "Workflow Action Taken";

pub struct EventBridgeSink {
    bus: String,
    source: String,
    /// Built on the first decision: most callback invocations are verifications and other
    /// pushes, and the cold start should not pay for a client they never use.
    client: OnceCell<Client>,
}

impl EventBridgeSink {
    pub fn new(bus: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            bus: bus.into(),
            source: source.into(),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Client::new(&sdk)
            })
            .await
    }
}

#[async_trait]
impl ActionSink for EventBridgeSink {
    async fn publish(&self, a: &ActionRecord) -> Result<(), Text> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&self.source)
            .detail_type(DETAIL_TYPE)
            .detail(action_json(a).to_string())
            .build();
        let out = self
            .client()
            .await
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                Text::new("decision.error.eventbridge").arg("detail", e.into_service_error())
            })?;
        // PutEvents answers 200 with per-entry failures.
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Text::new("decision.error.eventbridge").arg("detail", why));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("EventBridge bus {} (source {})", self.bus, self.source)
    }

    fn kind(&self) -> &'static str {
        "eventbridge"
    }
}
