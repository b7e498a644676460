//! Where members' decisions go, side by side: the workflow bus on AWS, a webhook locally, or
//! nowhere ([`crate::workflow::RecordOnly`]). The port is [`crate::workflow::ActionSink`];
//! the [`Outbox`] takes each recorded decision to it.

mod eventbridge;
mod outbox;
mod webhook;

pub use eventbridge::{DETAIL_TYPE, EventBridgeSink};
pub use outbox::Outbox;
pub use webhook::Webhook;

use std::sync::Arc;

use crate::workflow::{ActionSink, RecordOnly};

/// The sink a configuration names: the bus if there is one, else the webhook, else none.
pub fn from_config(cfg: &crate::config::Config) -> Result<Arc<dyn ActionSink>, String> {
    Ok(match (&cfg.actions_bus, &cfg.actions_webhook) {
        (Some(bus), _) => Arc::new(EventBridgeSink::new(bus, &cfg.actions_source)),
        (None, Some(url)) => Arc::new(Webhook::new(url)?),
        (None, None) => Arc::new(RecordOnly),
    })
}
