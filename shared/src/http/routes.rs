//! Every path the service answers, defined once: the routers of the functions and the local
//! runner mount these, and each handler's OpenAPI annotation names its path from here. Paths use
//! axum's (and OpenAPI's) `{name}` syntax.

/// A member's channel: GET the view, PUT a save, DELETE it (docs/API.md §6).
pub const CHANNEL: &str = "/v1/orgs/{org}/members/{member}/wecom-channel";
/// "Test Message Sending" of a member's channel (docs/API.md §6).
pub const CHANNEL_TEST: &str = "/v1/orgs/{org}/members/{member}/wecom-channel/test";
/// The org's configured channels, a page at a time.
pub const CHANNELS: &str = "/v1/orgs/{org}/wecom-channels";
/// The credential health probe of the org's channels, on demand (docs/API.md §6, Probe).
pub const PROBE: &str = "/v1/orgs/{org}/wecom-channels/probe";
/// The org's subscriptions: GET a page, PUT upserts.
pub const SUBSCRIPTIONS: &str = "/v1/orgs/{org}/subscriptions";
/// The org's delivery records, newest first.
pub const DELIVERIES: &str = "/v1/orgs/{org}/deliveries";
/// One delivery: DELETE recalls the message from WeCom (within 24 hours of sending).
pub const DELIVERY: &str = "/v1/orgs/{org}/deliveries/{event_id}/{member}";
/// Members' decisions on interactive cards (docs/API.md §11).
pub const ACTIONS: &str = "/v1/orgs/{org}/actions";
/// The org's delivery statistics per hour (docs/API.md, Statistics).
pub const STATS: &str = "/v1/orgs/{org}/stats";
/// The org's audit trail: admin changes, newest first (docs/API.md, Audit trail).
pub const AUDIT: &str = "/v1/orgs/{org}/audit";
/// The public URL WeCom calls: GET verifies it, POST pushes (docs/API.md §7).
pub const CALLBACK: &str = "/v1/wecom/callback/{id}";
/// The local runner's stand-in for EventBridge → dispatch (never deployed).
pub const LOCAL_EVENTS: &str = "/v1/local/events";
/// The local runner's readiness probe.
pub const HEALTHZ: &str = "/healthz";
/// The admin console's page, and its script and style sheet.
pub const CONSOLE: &str = "/console";
pub const CONSOLE_SCRIPT: &str = "/console/console.js";
pub const CONSOLE_STYLE: &str = "/console/console.css";
/// This API's OpenAPI document.
pub const OPENAPI: &str = "/v1/openapi.json";

/// Every path above: the OpenAPI document names exactly these (the local runner's tests check
/// it both ways), and each method a document lists on one of them is routed (tests/e2e/openapi.rs).
pub const PATHS: &[&str] = &[
    CHANNEL,
    CHANNEL_TEST,
    CHANNELS,
    PROBE,
    SUBSCRIPTIONS,
    DELIVERIES,
    DELIVERY,
    ACTIONS,
    STATS,
    AUDIT,
    CALLBACK,
    LOCAL_EVENTS,
    HEALTHZ,
    CONSOLE,
    CONSOLE_SCRIPT,
    CONSOLE_STYLE,
    OPENAPI,
];
