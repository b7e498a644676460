//! The OpenAPI schemas of the domain's string types: the rule each parser enforces, for the
//! document (`crate::http::openapi`) and for the wire types that carry them (a workflow
//! event's recipients). Kept out of the domain, which knows nothing of the document.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{CallbackId, CorpId, EventId, MemberId, Node, OrgId, SubscriptionType};

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
