//! What EventBridge hands dispatch: the envelope, and the workflow event's `detail`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = dispatch::Incoming::from_json(&value);
    if let Ok(ev) = shared::workflow::WorkflowEvent::from_detail(&value) {
        let again = shared::workflow::WorkflowEvent::from_detail(&serde_json::to_value(&ev).expect("json"));
        assert_eq!(again.ok(), Some(ev), "a parsed event round-trips");
    }
});
