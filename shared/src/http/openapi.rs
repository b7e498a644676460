//! The OpenAPI 3.1 document of the service, served at `GET /v1/openapi.json`.
//!
//! It is generated from the code: the paths are the [`super::routes`] constants the routers
//! mount, the bodies are the types the handlers serialize ([`super::views`], the domain and
//! workflow types), and the tests below check that it names every route of
//! [`super::routes::OPERATIONS`] and nothing else. The operations are declared on functions
//! that exist only to carry the `#[utoipa::path]` attribute: the handlers live in the function
//! crates, which this crate does not know.

use std::borrow::Cow;
use std::sync::LazyLock;

use serde_json::Value;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::views::{ErrorBody, GatewayMessage};
use crate::domain::{CallbackId, CorpId, EventId, MemberId, Node, OrgId, SubscriptionType};

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as JSON, rendered once.
pub fn json() -> &'static Value {
    static JSON: LazyLock<Value> =
        LazyLock::new(|| serde_json::to_value(document()).unwrap_or(Value::Null));
    &JSON
}

/// The document as JSON text, rendered once.
pub fn json_text() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| json().to_string());
    &TEXT
}

const DESCRIPTION: &str = "\
Personal workflow notifications through a WeCom (WeChat Work) self-built app: an org admin \
binds a WeCom app to a member (the channel), subscribes the org's workflow nodes, and sees \
what was delivered. docs/API.md is the full reference; this document is generated from the \
code.

**Authorisation.** Admin routes (`/v1/orgs/{org}/…`, and the local runner's \
`/v1/local/events`) take `Authorization: Bearer <JWT>` with the claims `sub`, `org`, `role` and \
`exp`: no or an invalid token → 401; `role` other than `admin`, or an `org` claim other than \
the path's `{org}` → 403. On AWS, API Gateway's JWT authorizer answers the 401 itself with \
`{\"message\":\"Unauthorized\"}`. The callback routes are public: WeCom's signature is their \
authentication.

**Errors.** Every error the service produces is `{\"error\": {\"code\", \"message\", \
\"hint\"?, …}}`; validation errors add `field`. Bodies over 64 KiB (65,536 bytes) → 413. An \
empty body counts as `{}`; an unknown JSON field → 400 naming it. Another method on a known \
path → 405 `method_not_allowed` (local runner; on AWS API Gateway answers 404); an unknown \
path → 404 `not_found`. Messages and hints are in the request's `Accept-Language` (en or \
zh-CN, default en).";

/// Path parameters, as they are named in [`super::routes`].
const ORG: &str = "The org: 1–64 of `[A-Za-z0-9_.-]`; it must equal the token's `org` claim.";
const MEMBER: &str = "The member: 1–64 of `[A-Za-z0-9_.@-]`.";
const NEXT: &str = "The `next` of the previous page of the same query (same filters), unchanged.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wecom-notify",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        ops::get_channel,
        ops::put_channel,
        ops::delete_channel,
        ops::test_channel,
        ops::list_channels,
        ops::probe_channels,
        ops::get_subscriptions,
        ops::put_subscriptions,
        ops::list_deliveries,
        ops::recall_delivery,
        ops::list_actions,
        ops::verify_callback_url,
        ops::receive_callback_push,
        ops::post_local_event,
        ops::healthz,
        ops::console,
        ops::console_script,
        ops::console_style,
        ops::openapi_document,
    ),
    // The schemas no body names: those of path and query parameters, and the error shapes.
    components(schemas(ErrorBody, GatewayMessage, OrgId, MemberId, CallbackId)),
    modifiers(&Security),
    tags(
        (name = "channels", description = "A member's WeCom channel (docs/API.md §6)."),
        (name = "subscriptions", description = "Which workflow nodes reach members (docs/API.md §6)."),
        (name = "deliveries", description = "What was delivered (docs/API.md §6, §8)."),
        (name = "actions", description = "Members' decisions on interactive cards (docs/API.md §11)."),
        (name = "callback", description = "The public URL WeCom calls (docs/API.md §7)."),
        (name = "local", description = "Only on the local runner (`cargo run`); never deployed."),
        (name = "meta", description = "This document and the console page."),
    ),
)]
struct ApiDoc;

/// The bearer scheme of the admin routes; the version is the crate's.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        // Every answer is in the request's language (crate::i18n::scope wraps every router).
        let language = ParameterBuilder::new()
            .name("Accept-Language")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The language of messages and hints: zh-CN (also for zh-TW, zh-HK) or en, the \
                 default; the answer's Content-Language says which.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .example(Some("zh-CN,zh;q=0.9,en;q=0.8".into()))
            .build();
        for item in doc.paths.paths.values_mut() {
            item.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(language.clone()));
        }
        let components = doc.components.get_or_insert_with(Default::default);
        // Answers of no operation: of a path with another method, and of a path that is none.
        for (name, description) in [
            (
                "MethodNotAllowed",
                "405 `method_not_allowed`: a known path with a method it does not take (local \
                 runner; on AWS API Gateway answers 404).",
            ),
            (
                "NoSuchRoute",
                "404 `not_found`: a path that is not a route.",
            ),
        ] {
            components.responses.insert(
                name.to_owned(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        )
                        .build(),
                ),
            );
        }
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with the claims sub, org, role (`admin`) and exp. On AWS the \
                         HTTP API's JWT authorizer validates it; the local runner validates \
                         HS256 with WECOM_NOTIFY_JWT_SECRET and prints a token for org `demo`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// 401: the service's error object, or (on AWS) API Gateway's own answer.
#[derive(ToSchema)]
#[serde(untagged)]
// A schema only: never built, so its size does not matter.
#[allow(dead_code, clippy::large_enum_variant)]
enum Unauthorized {
    Api(ErrorBody),
    Gateway(GatewayMessage),
}

/// A string newtype of the domain, with the rule its parser enforces.
macro_rules! string_schema {
    ($t:ty, $description:literal, $pattern:literal, $min:literal, $max:literal) => {
        impl PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($description))
                    .pattern(Some($pattern))
                    .min_length(Some($min))
                    .max_length(Some($max))
                    .into()
            }
        }

        impl ToSchema for $t {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($t))
            }
        }
    };
}

string_schema!(
    OrgId,
    "An org: 1–64 of `[A-Za-z0-9_.-]`.",
    "^[A-Za-z0-9_.-]+$",
    1,
    64
);
string_schema!(
    MemberId,
    "A member: 1–64 of `[A-Za-z0-9_.@-]`.",
    "^[A-Za-z0-9_.@-]+$",
    1,
    64
);
string_schema!(
    SubscriptionType,
    "A subscription type: 1–64 of `[A-Za-z0-9_.-]`.",
    "^[A-Za-z0-9_.-]+$",
    1,
    64
);
string_schema!(
    Node,
    "A workflow node: 1–64 of `[A-Za-z0-9_.-]`.",
    "^[A-Za-z0-9_.-]+$",
    1,
    64
);
string_schema!(
    CorpId,
    "A WeCom CorpID: 1–64 ASCII letters and digits (surrounding whitespace is ignored on input).",
    r"^\s*[A-Za-z0-9]+\s*$",
    1,
    64
);
string_schema!(
    CallbackId,
    "The callback URL's opaque id: 32 lowercase hex characters.",
    "^[0-9a-f]{32}$",
    32,
    32
);
/// A recipient of a workflow event, as the event names it (schema only).
pub struct Recipient;

string_schema!(
    Recipient,
    "A member name as the event names it: at most 128 bytes of UTF-8, no control characters. \
     One that is not a member name (1–64 of `[A-Za-z0-9_.@-]`) is skipped as `unknown_member`.",
    r"^[^\u0000-\u001F\u007F-\u009F]+$",
    1,
    128
);
string_schema!(
    EventId,
    "A workflow event's id: 1–128 bytes of UTF-8 without control characters.",
    r"^[^\u0000-\u001F\u007F-\u009F]+$",
    1,
    128
);

/// The operations. Each function only carries its route's description; the handler is in the
/// function crate that mounts the route (named in each description).
#[allow(dead_code)]
mod ops {
    use super::super::routes;
    use super::super::views::*;
    use super::{MEMBER, NEXT, ORG, Unauthorized};
    use crate::domain::{CallbackId, MemberId, OrgId};

    /// A member's channel
    ///
    /// The channel view; 200 even before anything was saved (`configured: false`, the
    /// configuration fields null, `callback_url` already set — the admin needs it before
    /// saving). (channel-config)
    #[utoipa::path(
        get,
        path = routes::CHANNEL,
        tag = "channels",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("member" = MemberId, Path, description = MEMBER, example = "alice"),
        ),
        responses(
            (status = 200, description = "The channel view.", body = ChannelView),
            (status = 400, description = "`invalid_field`: `org` or `member`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn get_channel() {}

    /// Save a member's channel
    ///
    /// Creates or updates the channel. The first save of an app (org, corp_id, agent_id)
    /// needs all three secrets; later saves may omit them (or send null) to keep the stored
    /// ones. Secrets belong to the app: saving them updates every member of the org on it.
    /// (channel-config)
    #[utoipa::path(
        put,
        path = routes::CHANNEL,
        tag = "channels",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("member" = MemberId, Path, description = MEMBER, example = "alice"),
        ),
        request_body = ChannelBody,
        responses(
            (status = 200, description = "Saved: the channel view.", body = ChannelView),
            (status = 400, description = "`invalid_field` (`field` names it: a bad or unknown field, or a secret missing on the first save of an app), `invalid_json`, `bad_body`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 409, description = "`concurrent_update`: the save lost 8 races in a row with concurrent saves; reload and retry.", body = ErrorBody),
            (status = 413, description = "`body_too_large`: over 64 KiB.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: nothing was lost; retry.", body = ErrorBody),
        ),
    )]
    fn put_channel() {}

    /// Remove a member's channel
    ///
    /// Clears the configuration (also when there was none); the callback URL,
    /// `last_callback_check` and `last_test` are kept. (channel-config)
    #[utoipa::path(
        delete,
        path = routes::CHANNEL,
        tag = "channels",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("member" = MemberId, Path, description = MEMBER, example = "alice"),
        ),
        responses(
            (status = 204, description = "Removed."),
            (status = 400, description = "`invalid_field`: `org` or `member`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 409, description = "`concurrent_update`: reload and retry.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn delete_channel() {}

    /// Test Message Sending
    ///
    /// `{}` (optionally with `message`) tests the saved channel and records `last_test`; all
    /// seven channel fields (optionally with `message`) test those values without saving
    /// them, at most 10 a minute per org. Three steps — `token`, `resolve_receiver`, `send` —
    /// stop at the first failure. (test-send)
    #[utoipa::path(
        post,
        path = routes::CHANNEL_TEST,
        tag = "channels",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("member" = MemberId, Path, description = MEMBER, example = "alice"),
        ),
        request_body = TestSendBody,
        responses(
            (status = 200, description = "WeCom accepted the message.", body = TestSendResult),
            (status = 400, description = "`invalid_field` (some channel fields but not all, an unknown or bad field, a blank `message`), `invalid_json`, `bad_body`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 404, description = "`not_configured`: `{}` with nothing saved.", body = ErrorBody),
            (status = 413, description = "`body_too_large`: over 64 KiB.", body = ErrorBody),
            (status = 422, description = "`wecom_<errcode>`: WeCom refused (the error adds `wecom_errcode`, `wecom_errmsg` and, for 60020, `trusted_ip`); `not_delivered`: WeCom listed the user as invalid or unlicensed; `member_not_found`: WeCom did not know the receiver when it was looked up through this app within the last day, so it was not looked up again (the error adds `wecom_errcode` and `receiver_not_found` `{since, until}`).", body = TestSendFailure),
            (status = 429, description = "`too_many_tests`: over 10 tests of unsaved values a minute for this org; the hint says how long to wait. `member_rate_limited`: the member's WeCom window (30 messages a minute, 1000 an hour per app) is full, nothing was sent; the error adds `retry_after` (seconds) and `retry_at` (RFC 3339).", body = ErrorBody),
            (status = 502, description = "`wecom_unreachable`: no usable answer from WeCom after the retries.", body = TestSendFailure),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn test_channel() {}

    /// The org's channels
    ///
    /// Configured channels only, ordered by member, a page at a time: `next` is null on the
    /// last page. (channel-config)
    #[utoipa::path(
        get,
        path = routes::CHANNELS,
        tag = "channels",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("limit" = Option<u16>, Query, minimum = 1, maximum = 500, description = "Page size, 1–500 (default 100)."),
            ("next" = Option<String>, Query, max_length = 1024, pattern = "^[A-Za-z0-9_-]*$", description = NEXT),
        ),
        responses(
            (status = 200, description = "A page of channel views.", body = ChannelPage),
            (status = 400, description = "`invalid_field` (`org`, `limit`, `next`), `invalid_query` (another query parameter).", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn list_channels() {}

    /// The org's subscriptions
    ///
    /// Ordered by type, then node, a page at a time. (channel-config)
    #[utoipa::path(
        get,
        path = routes::SUBSCRIPTIONS,
        tag = "subscriptions",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("limit" = Option<u16>, Query, minimum = 1, maximum = 500, description = "Page size, 1–500 (default 100)."),
            ("next" = Option<String>, Query, max_length = 1024, pattern = "^[A-Za-z0-9_-]*$", description = NEXT),
        ),
        responses(
            (status = 200, description = "A page of subscriptions.", body = SubscriptionPage),
            (status = 400, description = "`invalid_field` (`org`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn get_subscriptions() {}

    /// Save subscriptions
    ///
    /// Upserts each item; items not named are kept (there is no delete). Answers the org's
    /// list as `GET` answers it with `limit=500`. (channel-config)
    #[utoipa::path(
        put,
        path = routes::SUBSCRIPTIONS,
        tag = "subscriptions",
        security(("bearer" = [])),
        params(("org" = OrgId, Path, description = ORG)),
        request_body = SubscriptionsBody,
        responses(
            (status = 200, description = "The org's subscriptions.", body = SubscriptionPage),
            (status = 400, description = "`invalid_field` naming `items`, the top-level field, `items[i]` or `items[i].<field>` (also for the same (type, node) twice); `invalid_json`, `bad_body`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 413, description = "`body_too_large`: over 64 KiB.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn put_subscriptions() {}

    /// The org's deliveries
    ///
    /// Newest first (by when the (event, member) was first claimed), a page at a time.
    /// (channel-config)
    #[utoipa::path(
        get,
        path = routes::DELIVERIES,
        tag = "deliveries",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("member" = Option<MemberId>, Query, description = "Only this member's deliveries."),
            ("limit" = Option<u16>, Query, minimum = 1, maximum = 500, description = "Page size, 1–500 (default 50)."),
            ("next" = Option<String>, Query, max_length = 1024, pattern = "^[A-Za-z0-9_-]*$", description = NEXT),
        ),
        responses(
            (status = 200, description = "A page of deliveries.", body = DeliveryPage),
            (status = 400, description = "`invalid_field` (`org`, `member`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn list_deliveries() {}

    /// Probe the org's channels now
    ///
    /// The credential health probe (it also runs hourly for every channel): per app a fresh
    /// `gettoken`, per channel with a phone or email receiver a fresh lookup of the member.
    /// Nothing is sent. Each channel's outcome is recorded as its `last_probe`. At most 100
    /// channels per call, in member order (`next` continues); at most 5 calls a minute per
    /// org. (test-send)
    #[utoipa::path(
        post,
        path = routes::PROBE,
        tag = "channels",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("limit" = Option<u16>, Query, minimum = 1, maximum = 100, description = "Channels to probe, 1–100 (default 100)."),
            ("next" = Option<String>, Query, max_length = 1024, pattern = "^[A-Za-z0-9_-]*$", description = NEXT),
        ),
        responses(
            (status = 200, description = "Probed: each channel's new `last_probe`.", body = ProbePage),
            (status = 400, description = "`invalid_field` (`org`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 429, description = "`too_many_probes`: over 5 a minute for this org; the hint says how long to wait.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn probe_channels() {}

    /// Recall a delivered message
    ///
    /// Takes the message back from WeCom (`message/recall`) within 24 hours of sending; the
    /// record then shows `recalled`. Recalling again answers the same. Copies already shown
    /// in the WeChat plugin stay there (WeCom cannot remove them). (test-send)
    #[utoipa::path(
        delete,
        path = routes::DELIVERY,
        tag = "deliveries",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("event_id" = String, Path, min_length = 1, max_length = 128, description = "The event's id, as in /deliveries."),
            ("member" = MemberId, Path, description = MEMBER, example = "alice"),
        ),
        responses(
            (status = 200, description = "Recalled: the delivery record.", body = DeliveryView),
            (status = 400, description = "`invalid_field` (`org`, `event_id`, `member`).", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 404, description = "`delivery_not_found`.", body = ErrorBody),
            (status = 409, description = "`not_recallable`: not delivered (delayed, failed, skipped), or delivered with `msgid_unknown` (WeCom reported the card as already sent, without its message id); `recall_window_passed`: sent more than 24 hours ago; `not_configured`: the member's channel was removed. The hint says what to do.", body = ErrorBody),
            (status = 422, description = "`wecom_<errcode>`: WeCom refused the recall (the error adds `wecom_errcode` and `wecom_errmsg`).", body = ErrorBody),
            (status = 502, description = "`wecom_unreachable`.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn recall_delivery() {}

    /// Members' decisions on cards
    ///
    /// Each accepted click on an interactive card's button: the first per (event, member).
    /// One event's in member order; otherwise newest first, optionally one member's. The same
    /// records go to EventBridge as `Workflow Action Taken` (or to the local webhook).
    /// (channel-config)
    #[utoipa::path(
        get,
        path = routes::ACTIONS,
        tag = "actions",
        security(("bearer" = [])),
        params(
            ("org" = OrgId, Path, description = ORG),
            ("event_id" = Option<String>, Query, min_length = 1, max_length = 128, description = "Only this event's decisions."),
            ("member" = Option<MemberId>, Query, description = "Only this member's decisions."),
            ("limit" = Option<u16>, Query, minimum = 1, maximum = 500, description = "Page size, 1–500 (default 50)."),
            ("next" = Option<String>, Query, max_length = 1024, pattern = "^[A-Za-z0-9_-]*$", description = NEXT),
        ),
        responses(
            (status = 200, description = "A page of decisions.", body = ActionPage),
            (status = 400, description = "`invalid_field` (`org`, `event_id`, `member`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: retry.", body = ErrorBody),
        ),
    )]
    fn list_actions() {}

    /// WeCom's URL verification
    ///
    /// Public: WeCom calls it when the admin presses Save on the app's "API Receive Message"
    /// page. The signature is checked with the saved Token, `echostr` decrypted with the saved
    /// EncodingAESKey, the receive id compared with the saved CorpID; the outcome is recorded
    /// as the channel's `last_callback_check`. Query values are percent-decoded without turning
    /// `+` into a space. (callback)
    #[utoipa::path(
        get,
        path = routes::CALLBACK,
        tag = "callback",
        params(
            ("id" = CallbackId, Path, description = "From the channel view's `callback_url`."),
            ("msg_signature" = String, Query, min_length = 1, description = "WeCom's signature."),
            ("timestamp" = String, Query, min_length = 1, pattern = "^-?[0-9]+$", description = "Unix seconds; within 300 s of the server's clock."),
            ("nonce" = String, Query, min_length = 1),
            ("echostr" = String, Query, min_length = 1, pattern = "^[A-Za-z0-9+/]*={0,2}$", description = "The encrypted challenge, standard base64."),
        ),
        responses(
            (status = 200, description = "The decrypted challenge, nothing else.", body = String, content_type = "text/plain"),
            (status = 400, description = "`bad_request` (parameters missing or empty, a stale timestamp, `echostr` not base64), `decrypt_failed` (the EncodingAESKey differs).", body = ErrorBody),
            (status = 403, description = "`signature_mismatch` (the Token differs), `corp_id_mismatch` (another CorpID, named in the hint).", body = ErrorBody),
            (status = 404, description = "`not_found` (not a callback URL of this service), `no_binding` (save the channel first, then press Save in WeCom again).", body = ErrorBody),
            (status = 503, description = "`store_unavailable`.", body = ErrorBody),
        ),
    )]
    fn verify_callback_url() {}

    /// WeCom's message and event pushes
    ///
    /// Public: verified and decrypted like the URL verification, deduplicated for 24 h, acted
    /// on (a `change_contact` update or delete drops cached userids), answered with an empty
    /// 200. A push that cannot be understood is acknowledged too. (callback)
    #[utoipa::path(
        post,
        path = routes::CALLBACK,
        tag = "callback",
        params(
            ("id" = CallbackId, Path, description = "From the channel view's `callback_url`."),
            ("msg_signature" = String, Query, min_length = 1, description = "WeCom's signature."),
            ("timestamp" = String, Query, min_length = 1, pattern = "^-?[0-9]+$", description = "Unix seconds; within 300 s of the server's clock."),
            ("nonce" = String, Query, min_length = 1),
        ),
        request_body(content = CallbackEnvelope, content_type = "application/xml", description = "WeCom's XML envelope (UTF-8, at most 64 KiB)."),
        responses(
            (status = 200, description = "Received (empty body)."),
            (status = 400, description = "`bad_request` (parameters missing, a stale timestamp, a body that is not UTF-8 XML with a non-empty `<Encrypt>`), `decrypt_failed`.", body = ErrorBody),
            (status = 403, description = "`signature_mismatch`, `corp_id_mismatch`.", body = ErrorBody),
            (status = 404, description = "`not_found`, `no_binding`.", body = ErrorBody),
            (status = 413, description = "`body_too_large`: over 64 KiB.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: not acted on (a card click: not recorded). WeCom retries it.", body = ErrorBody),
        ),
    )]
    fn receive_callback_push() {}

    /// Post a workflow event (local runner only)
    ///
    /// **Local runner only, never deployed**: the stand-in for EventBridge → dispatch. Takes
    /// a whole EventBridge envelope; it is parsed first, then the caller must hold an admin
    /// token of the event's `org` (so a malformed event without a token is a 400, not a 401).
    /// Each (event_id, member) is delivered at most once: posting the same event again
    /// answers `duplicate` for recipients already handled. (local runner)
    #[utoipa::path(
        post,
        path = routes::LOCAL_EVENTS,
        tag = "local",
        security(("bearer" = [])),
        request_body = EventEnvelope,
        responses(
            (status = 200, description = "What happened to each recipient, in the event's order.", body = EventAnswer),
            (status = 400, description = "`malformed_event` (a malformed envelope or event, or the schedule's envelope), `invalid_json`, `bad_body`.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = Unauthorized),
            (status = 403, description = "`forbidden`: not an admin of the event's org.", body = ErrorBody),
            (status = 413, description = "`body_too_large`: over 64 KiB.", body = ErrorBody),
            (status = 503, description = "`store_unavailable`: post the same event again.", body = ErrorBody),
        ),
    )]
    fn post_local_event() {}

    /// Readiness (local runner only)
    ///
    /// **Local runner only**: 200 `ok` once the runner serves requests.
    #[utoipa::path(
        get,
        path = routes::HEALTHZ,
        tag = "local",
        responses((status = 200, description = "`ok`.", body = String, content_type = "text/plain")),
    )]
    fn healthz() {}

    /// The admin console
    ///
    /// Public: the console's page (it holds no data; it calls this API with the admin's
    /// token). (channel-config)
    #[utoipa::path(
        get,
        path = routes::CONSOLE,
        tag = "meta",
        responses((status = 200, description = "The page.", body = String, content_type = "text/html")),
    )]
    fn console() {}

    /// The console's script
    ///
    /// Public, like the page. (channel-config)
    #[utoipa::path(
        get,
        path = routes::CONSOLE_SCRIPT,
        tag = "meta",
        responses((status = 200, description = "The script.", body = String, content_type = "text/javascript")),
    )]
    fn console_script() {}

    /// The console's style sheet
    ///
    /// Public, like the page. (channel-config)
    #[utoipa::path(
        get,
        path = routes::CONSOLE_STYLE,
        tag = "meta",
        responses((status = 200, description = "The style sheet.", body = String, content_type = "text/css")),
    )]
    fn console_style() {}

    /// This document
    ///
    /// Public: the OpenAPI 3.1 document of this API, generated from the code. (channel-config)
    #[utoipa::path(
        get,
        path = routes::OPENAPI,
        tag = "meta",
        responses((status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json")),
    )]
    fn openapi_document() {}
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::super::routes::{self, OPERATIONS};
    use super::*;

    fn operations_in(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ]
                .contains(&method.as_str())
                {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_document_is_openapi_3_1_and_names_exactly_the_routes() {
        let doc: Value = serde_json::from_str(json_text()).expect("the document parses");
        let version = doc["openapi"].as_str().expect("openapi");
        assert!(version.starts_with("3.1."), "openapi {version}");
        let documented = operations_in(&doc);
        let routed: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|(m, p)| (m.as_str().to_owned(), (*p).to_owned()))
            .collect();
        for op in &routed {
            assert!(
                documented.contains(op),
                "{op:?} is routed but not documented"
            );
        }
        for op in &documented {
            assert!(routed.contains(op), "{op:?} is documented but not routed");
        }
        assert_eq!(documented.len(), OPERATIONS.len());
        assert_eq!(
            routes::paths().len(),
            doc["paths"].as_object().expect("paths").len()
        );
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = json();
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external $ref {r}"));
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn admin_routes_need_the_bearer_token_and_the_others_are_public() {
        let doc = json();
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"],
            json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
        );
        for (method, path) in OPERATIONS {
            let op = &doc["paths"][*path][method.as_str().to_lowercase()];
            let admin = path.starts_with("/v1/orgs/") || *path == routes::LOCAL_EVENTS;
            let security = op.get("security").cloned().unwrap_or(Value::Null);
            if admin {
                assert_eq!(security, json!([{"bearer": []}]), "{method} {path}");
                assert!(op["responses"]["401"].is_object(), "{method} {path}: 401");
                assert!(op["responses"]["403"].is_object(), "{method} {path}: 403");
            } else {
                assert_eq!(security, Value::Null, "{method} {path} is public");
            }
        }
    }

    #[test]
    fn every_error_answer_has_the_error_object() {
        let doc = json();
        for (method, path) in OPERATIONS {
            let op = &doc["paths"][*path][method.as_str().to_lowercase()];
            for (status, response) in op["responses"].as_object().expect("responses") {
                if status.starts_with('2') {
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"];
                let name = schema["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    .unwrap_or_else(|| panic!("{method} {path} {status}: {schema}"));
                let errors = match name {
                    // 401: ours, or API Gateway's on AWS.
                    "Unauthorized" => {
                        doc["components"]["schemas"][name]["oneOf"][0]["$ref"].clone()
                    }
                    _ => json!(format!("#/components/schemas/{name}")),
                };
                let errors = errors.as_str().unwrap_or_default().rsplit('/').next();
                assert!(
                    matches!(errors, Some("ErrorBody" | "TestSendFailure")),
                    "{method} {path} {status}: {schema}"
                );
                let required =
                    &doc["components"]["schemas"][errors.unwrap_or_default()]["required"];
                assert!(
                    required
                        .as_array()
                        .is_some_and(|r| r.contains(&json!("error"))),
                    "{method} {path} {status}"
                );
            }
        }
    }

    #[test]
    fn the_channel_body_names_exactly_the_put_fields() {
        let doc = json();
        let props: BTreeSet<&str> = doc["components"]["schemas"]["ChannelBody"]["properties"]
            .as_object()
            .expect("ChannelBody")
            .keys()
            .map(String::as_str)
            .collect();
        let mut fields: BTreeSet<&str> = super::super::PUT_FIELDS.into_iter().collect();
        fields.extend(super::super::OPTION_FIELDS);
        assert_eq!(props, fields);
        fields.retain(|f| !super::super::OPTION_FIELDS.contains(f));
        let unsaved: BTreeSet<&str> = doc["components"]["schemas"]["TestUnsaved"]["properties"]
            .as_object()
            .expect("TestUnsaved")
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "message")
            .collect();
        assert_eq!(unsaved, fields);
    }
}
