//! The frame of the OpenAPI 3.1 document (`GET /v1/openapi.json`): its description, tags and
//! security scheme (the domain's string types describe themselves in [`crate::schema`]). Each
//! function crate declares its own operations on its handlers (`#[utoipa::path]`) and exposes
//! them as a part; the local runner, the only place that knows every function, merges the
//! parts with [`compose`], and a test keeps `docs/openapi.json` equal to the result (the
//! deployed channel-config serves that file).

/// What [`enum_names`] takes: every type the document describes.
pub use utoipa::PartialSchema;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi};

use super::views::{ErrorBody, GatewayMessage, Unauthorized};
use crate::domain::{CallbackId, MemberId, OrgId};

/// The whole document from the functions' parts: their paths and schemas in the frame, and
/// the request language on every path.
pub fn compose(parts: impl IntoIterator<Item = Document>) -> Document {
    let mut doc = ApiDoc::openapi();
    for part in parts {
        doc.merge(part);
    }
    Language.modify(&mut doc);
    doc
}

/// The document as the service serves it and `docs/openapi.json` holds it: keys sorted,
/// indented, one final newline (so the committed file diffs line by line).
pub fn to_text(doc: &Document) -> String {
    let value = serde_json::to_value(doc).unwrap_or_default();
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
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

/// `{org}` of an admin route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgPath {
    /// The org: 1–64 of `[A-Za-z0-9_.-]`; it must equal the token's `org` claim.
    pub org: OrgId,
}

/// `{org}` and `{member}` of a member's route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    /// The org: 1–64 of `[A-Za-z0-9_.-]`; it must equal the token's `org` claim.
    pub org: OrgId,
    /// The member: 1–64 of `[A-Za-z0-9_.@-]`.
    #[param(example = "alice")]
    pub member: MemberId,
}

/// What every admin route answers a caller it does not let in.
#[derive(IntoResponses)]
pub enum Refused {
    /// `unauthorized`.
    #[response(status = 401)]
    Unauthorized(Unauthorized),
    /// `forbidden`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// 503 of a route that reads or writes the store: nothing was lost.
#[derive(IntoResponses)]
pub enum StoreDown {
    /// `store_unavailable`: retry.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// 413 of a route that takes a body.
#[derive(IntoResponses)]
pub enum TooLarge {
    /// `body_too_large`: over 64 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
}

/// Path parameters, as they are named in [`super::routes`].
pub const ORG: &str = "The org: 1–64 of `[A-Za-z0-9_.-]`; it must equal the token's `org` claim.";
pub const MEMBER: &str = "The member: 1–64 of `[A-Za-z0-9_.@-]`.";
pub const NEXT: &str =
    "The `next` of the previous page of the same query (same filters), unchanged.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wecom-notify",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    // The schemas no body names: those of path and query parameters, and the error shapes.
    components(schemas(ErrorBody, GatewayMessage, Unauthorized, OrgId, MemberId, CallbackId)),
    modifiers(&Security),
    tags(
        (name = "channels", description = "A member's WeCom channel (docs/API.md §6)."),
        (name = "subscriptions", description = "Which workflow nodes reach members (docs/API.md §6)."),
        (name = "deliveries", description = "What was delivered (docs/API.md §6, §8)."),
        (name = "actions", description = "Members' decisions on interactive cards (docs/API.md §11)."),
        (name = "audit", description = "Who changed what, and when (docs/API.md §6, Audit trail)."),
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

/// The request's language on every path: every answer is in it (crate::i18n::scope wraps
/// every router). Applied once the parts are merged, so no part has to say it.
struct Language;

impl Modify for Language {
    fn modify(&self, doc: &mut Document) {
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
    }
}

/// The wire names of an enum the API answers with, from its schema (so from the type itself):
/// for the catalogue test, which checks each has its labels.
pub fn enum_names<T: PartialSchema>() -> Vec<String> {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    schema["enum"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
