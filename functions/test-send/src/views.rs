//! What test-send answers and takes, as types: the OpenAPI document is derived from them, and
//! the answers are serialized from them in the order their fields are declared.

use serde::Serialize;
use shared::domain::{CorpId, MemberId, SourceColumn};
use shared::http::views::{ErrorDetail, ProbeView};
use utoipa::ToSchema;

/// The body of a test: `{}` (optionally with `message`) tests the saved channel; all seven
/// channel fields (optionally with `message`) test those values without saving them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TestSendBody {
    Saved(TestSaved),
    Unsaved(TestUnsaved),
}

/// Test the saved channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({}), json!({"message": "Hello from wecom-notify"})))]
pub struct TestSaved {
    /// The text to send (cut to 2048 bytes); default: a short fixed text.
    #[schema(pattern = r"\S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Test these values without saving them (at most 10 a minute per org).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(shared::http::demo_channel))]
pub struct TestUnsaved {
    pub corp_id: CorpId,
    #[schema(min_length = 1, max_length = 256, pattern = r"^\s*[!-~]+\s*$")]
    pub app_secret: String,
    #[schema(minimum = 1, maximum = 4294967295_i64)]
    pub agent_id: i64,
    pub source_column: SourceColumn,
    #[schema(min_length = 1, max_length = 254)]
    pub receiver: String,
    #[schema(pattern = r"^\s*[A-Za-z0-9]{3,32}\s*$")]
    pub token: String,
    #[schema(pattern = r"^\s*[A-Za-z0-9]{43}\s*$")]
    pub encoding_aes_key: String,
    /// The text to send (cut to 2048 bytes); default: a short fixed text.
    #[schema(pattern = r"\S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The steps of a test, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Token,
    ResolveReceiver,
    Send,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
    NotRun,
}

/// One step of a test: `token` (gettoken), `resolve_receiver`, `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Step {
    #[schema(value_type = StepName)]
    pub name: &'static str,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Successful {
    Successful,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Failed {
    Failed,
}

/// 200 of a test: WeCom accepted the message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSendResult {
    pub result: Successful,
    /// The member's WeCom userid.
    pub userid: String,
    #[schema(required = true)]
    pub msgid: Option<String>,
    /// `token`, `resolve_receiver`, `send`, in that order.
    #[schema(min_items = 3, max_items = 3)]
    pub steps: Vec<Step>,
}

/// 422 and 502 of a test: the error, and the steps with the failed one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSendFailure {
    pub error: ErrorDetail,
    pub result: Failed,
    /// `token`, `resolve_receiver`, `send`: the failed step carries `wecom_errcode` and
    /// `hint`, later ones are `not_run`.
    #[schema(min_items = 3, max_items = 3)]
    pub steps: Vec<Step>,
}

/// One channel probed on demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProbedChannel {
    pub member: MemberId,
    pub last_probe: ProbeView,
}

/// The answer of a probe of the org's channels: a page of them, in member order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbePage {
    pub items: Vec<ProbedChannel>,
    /// How many of these found drift.
    pub drift: usize,
    /// Probe the next page with `?next=`; null when every channel was probed.
    #[schema(required = true)]
    pub next: Option<String>,
}

// --- probe ---------------------------------------------------------------------------------
