//! The admin JSON bodies: a channel PUT (or a test of unsaved values) and a subscription item.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Value::Object(body) = &value {
        let _ = shared::http::parse_channel_update(body);
    }
    if let Ok(s) = shared::json::from_value::<shared::workflow::Subscription>(value) {
        let again = shared::json::from_value::<shared::workflow::Subscription>(
            serde_json::to_value(&s).expect("json"),
        );
        assert_eq!(again.ok(), Some(s), "a parsed subscription round-trips");
    }
});
