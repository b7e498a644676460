//! Test Message Sending: tests the saved binding (`{}`) or a full set of unsaved values, step
//! by step — `token`, `resolve_receiver`, `send` — so the admin sees where it broke and what
//! to change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use shared::auth::AdminMember;
use shared::channel::{ChannelUpdate, LookupError, ResolvedBinding, miss_hint};
use shared::domain::{
    AppSecret, ChannelConfig, Pace, Receiver, ReceiverMiss, STAMP_SLACK_MS, TestOutcome,
    WECOM_MEMBER_LIMITS, member_pace_key, now, unix_ms,
};
use shared::http::audit;
use shared::http::openapi::{MemberPath, Refused, StoreDown, TooLarge};
use shared::http::views::{ErrorBody, ReceiverNotFoundView};
use shared::http::{ApiError, ErrorCode, JsonObject, PUT_FIELDS, parse_channel_update, routes};
use shared::i18n::Text;
use shared::wecom::message::TEXT_MAX;
use shared::wecom::{AppCredentials, ErrCode, MessageBody, OutgoingMessage, WeComApp, WeComError};

use crate::views::{Step, StepStatus, Successful, TestSendBody, TestSendFailure, TestSendResult};
use crate::{AppState, OrgBudget, UNSAVED_TEST_LIMITS};

const UNSAVED_TESTS: OrgBudget = OrgBudget {
    limits: UNSAVED_TEST_LIMITS,
    code: ErrorCode::TooManyTests,
    message: "test.too_many",
    hint: "hint.test.too_many",
};

const DEFAULT_MESSAGE: &str = "wecom-notify test message: your personal channel works. Workflow notifications will arrive here.";

struct Steps(Vec<Step>);

impl Steps {
    fn new() -> Self {
        Self(
            ["token", "resolve_receiver", "send"]
                .into_iter()
                .map(|name| Step {
                    name,
                    status: StepStatus::NotRun,
                    wecom_errcode: None,
                    hint: None,
                })
                .collect(),
        )
    }

    fn set(&mut self, name: &str, status: StepStatus, errcode: Option<i64>, hint: Option<String>) {
        if let Some(s) = self.0.iter_mut().find(|s| s.name == name) {
            s.status = status;
            s.wecom_errcode = errcode;
            s.hint = hint;
        }
    }

    fn json(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
}

fn required() -> Text {
    Text::new("field.required")
}

/// What was asked: the saved binding, or values not saved.
enum Subject {
    Saved(Box<ResolvedBinding>),
    Unsaved {
        config: ChannelConfig,
        secret: AppSecret,
    },
}

/// Splits the body into the subject's values and the optional message.
fn parse_body(mut body: Map<String, Value>) -> Result<(Option<Subject>, String), ApiError> {
    let message = match body.remove("message") {
        None | Some(Value::Null) => DEFAULT_MESSAGE.to_owned(),
        Some(Value::String(m)) if !m.trim().is_empty() => m,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "message",
                Text::new("field.message"),
            ));
        }
    };
    if body.is_empty() {
        return Ok((None, message));
    }
    let missing: Vec<&str> = PUT_FIELDS
        .iter()
        .copied()
        .filter(|f| !body.contains_key(*f))
        .collect();
    if let Some(first) = missing.first() {
        if let Some(unknown) = body.keys().find(|k| !PUT_FIELDS.contains(&k.as_str())) {
            return Err(ApiError::invalid_field(
                unknown,
                Text::new("field.unknown")
                    .arg("field", unknown)
                    .arg("expected", format!("message, {}", PUT_FIELDS.join(", "))),
            ));
        }
        return Err(ApiError::invalid_field(
            first,
            Text::new("field.test_partial").arg("missing", missing.join(", ")),
        ));
    }
    let u: ChannelUpdate = parse_channel_update(&body)?;
    let secret = match (&u.app_secret, &u.token, &u.encoding_aes_key) {
        (Some(s), Some(_), Some(_)) => s.clone(),
        (None, ..) => return Err(ApiError::invalid_field("app_secret", required())),
        (_, None, _) => return Err(ApiError::invalid_field("token", required())),
        (.., None) => return Err(ApiError::invalid_field("encoding_aes_key", required())),
    };
    let config = ChannelConfig {
        wechat_plugin: false,
        quiet_hours: None,
        corp_id: u.corp_id,
        agent_id: u.agent_id,
        receiver: u.receiver,
    };
    Ok((Some(Subject::Unsaved { config, secret }), message))
}

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
    params(MemberPath),
    request_body = TestSendBody,
    responses(
        (status = 200, description = "WeCom accepted the message.", body = TestSendResult),
        (status = 400, description = "`invalid_field` (some channel fields but not all, an unknown or bad field, a blank `message`), `invalid_json`, `bad_body`.", body = ErrorBody),
        Refused,
        (status = 404, description = "`not_configured`: `{}` with nothing saved.", body = ErrorBody),
        TooLarge,
        (status = 422, description = "`wecom_<errcode>`: WeCom refused (the error adds `wecom_errcode`, `wecom_errmsg` and, for 60020, `trusted_ip`); `not_delivered`: WeCom listed the user as invalid or unlicensed; `member_not_found`: WeCom did not know the receiver when it was looked up through this app within the last day, so it was not looked up again (the error adds `wecom_errcode` and `receiver_not_found` `{since, until}`).", body = TestSendFailure),
        (status = 429, description = "`too_many_tests`: over 10 tests of unsaved values a minute for this org; the hint says how long to wait. `member_rate_limited`: the member's WeCom window (30 messages a minute, 1000 an hour per app) is full, nothing was sent; the error adds `retry_after` (seconds) and `retry_at` (RFC 3339).", body = ErrorBody),
        (status = 502, description = "`wecom_unreachable`: no usable answer from WeCom after the retries.", body = TestSendFailure),
        StoreDown,
    ),
)]
pub(crate) async fn test_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: axum::http::Extensions,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let res = test_channel_now(&st, &key, body).await;
    // A test WeCom failed is an answer, not an error: its code is in the response.
    let outcome = match &res {
        Ok(r) => r
            .extensions()
            .get::<audit::Outcome>()
            .map_or_else(|| shared::domain::AUDIT_OK.to_owned(), |o| o.0.clone()),
        Err(e) => e.code.as_str().into_owned(),
    };
    let change = audit::Change {
        org: &key.org,
        action: shared::domain::AuditAction::TestSent,
        member: Some(key.member.as_str()),
        target: key.member.to_string(),
        changed: Vec::new(),
    };
    st.audit.record_outcome(&ext, change, outcome).await;
    res
}

async fn test_channel_now(
    st: &AppState,
    key: &shared::domain::MemberKey,
    body: serde_json::Map<String, serde_json::Value>,
) -> Result<Response, ApiError> {
    let (st, key) = (st.clone(), key.clone());
    let (values, message) = parse_body(body)?;
    let subject = match values {
        Some(unsaved) => {
            UNSAVED_TESTS
                .spend(&st, &format!("test-send:{}", key.org), unix_ms())
                .await?;
            unsaved
        }
        None => {
            // Read, never created: testing a member with nothing saved leaves nothing behind.
            match st.channels.configured(&key).await? {
                Some(b) => Subject::Saved(Box::new(b)),
                None => {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        ErrorCode::NotConfigured,
                        Text::new("test.not_configured"),
                    )
                    .hint(Text::new("hint.test.not_configured")));
                }
            }
        }
    };
    let outcome = run(&st, &subject, &message, &key.org).await;
    tracing::info!(org = %key.org, member = %key.member, saved = matches!(subject, Subject::Saved(_)),
        result = if outcome.is_ok() { "successful" } else { "failed" }, "test message");

    // A test stopped before its send for the member's pace (or the pace store) did not test
    // the channel: nothing to record.
    let tested = outcome
        .as_ref()
        .err()
        .is_none_or(|f| !NOT_RUN.contains(&f.error.code));
    if let Subject::Saved(b) = &subject
        && tested
    {
        let record = match &outcome {
            Ok(_) => TestOutcome {
                at: now(),
                result: "successful".into(),
                wecom_errcode: None,
                hint: None,
            },
            Err(f) => TestOutcome {
                at: now(),
                result: "failed".into(),
                wecom_errcode: f.errcode,
                hint: Some(f.hint.stored()),
            },
        };
        st.channels.record_test(&b.record.key, &record).await?;
    }
    Ok(match outcome {
        Ok(done) => (
            StatusCode::OK,
            Json(TestSendResult {
                result: Successful::Successful,
                userid: done.userid,
                msgid: done.msgid,
                steps: done.steps.0,
            }),
        )
            .into_response(),
        // Nothing was tested: the error alone, like any other refusal of the request.
        Err(f) if !tested => f.error.into_response(),
        Err(f) => {
            let code = f.error.code.as_str().into_owned();
            let mut r = f
                .error
                .with_top("result", "failed")
                .with_top("steps", f.steps.json())
                .into_response();
            r.extensions_mut().insert(audit::Outcome(code));
            r
        }
    })
}

struct Done {
    userid: String,
    msgid: Option<String>,
    steps: Steps,
}

struct Failure {
    error: ApiError,
    errcode: Option<i64>,
    hint: Text,
    steps: Steps,
}

async fn run(
    st: &AppState,
    subject: &Subject,
    message: &str,
    org: &shared::domain::OrgId,
) -> Result<Done, Failure> {
    let (config, creds, saved): (&ChannelConfig, AppCredentials, Option<&ResolvedBinding>) =
        match subject {
            Subject::Saved(b) => (&b.config, b.credentials(), Some(b)),
            Subject::Unsaved { config, secret } => (
                config,
                AppCredentials {
                    corp_id: config.corp_id.clone(),
                    agent_id: config.agent_id,
                    secret: secret.clone(),
                    org: Some(org.clone()),
                },
                None,
            ),
        };
    let app = WeComApp::new(&st.wecom, &st.tokens, creds);
    let mut steps = Steps::new();

    if let Err(e) = app.token().await {
        return Err(fail(st, steps, "token", &e, &config.receiver));
    }
    steps.set("token", StepStatus::Ok, None, None);

    // Unsaved values are looked up every time and never cached. Either way a receiver WeCom
    // did not know within the day is not looked up again (docs/API.md §9).
    let resolved = match saved {
        Some(b) => st.channels.userid(&app, b, unix_ms()).await,
        None => st.channels.lookup(&app, &config.receiver, unix_ms()).await,
    };
    let userid = match resolved {
        Ok(u) => u,
        Err(LookupError::WeCom(e)) => {
            return Err(fail(st, steps, "resolve_receiver", &e, &config.receiver));
        }
        Err(LookupError::Remembered(m)) => return Err(remembered_miss(steps, &m)),
    };
    steps.set("resolve_receiver", StepStatus::Ok, None, None);

    // The member's pace slot, as dispatch takes it: WeCom keeps 30 messages a minute per
    // member and drops the rest silently, so a test must not crowd out a notification.
    let pace_key = member_pace_key(&app.creds.corp_id, app.creds.agent_id, &userid);
    let stamped = unix_ms();
    match st
        .pace
        .reserve(&pace_key, stamped, WECOM_MEMBER_LIMITS)
        .await
    {
        Ok(Pace::Granted) => {}
        Ok(Pace::WaitUntil(t)) => return Err(member_rate_limited(steps, t, stamped)),
        Err(e) => {
            tracing::error!(error = %e, "pace store failure in test-send");
            let hint = Text::new("hint.store_unavailable");
            return Err(Failure {
                error: ApiError::store_unavailable(),
                errcode: None,
                hint,
                steps,
            });
        }
    }

    let msg = OutgoingMessage {
        touser: vec![userid.clone()],
        agent_id: config.agent_id.get(),
        body: MessageBody::text(&shared::wecom::message::truncate_bytes(message, TEXT_MAX)),
        duplicate_check_interval: None,
    };
    let sent = app.send(&msg).await;
    // WeCom counted the message when it arrived; a slow send moves its slot there.
    let done = unix_ms();
    if done - stamped > STAMP_SLACK_MS
        && let Err(e) = st.pace.restamp(&pace_key, stamped, done).await
    {
        tracing::warn!(error = %e, "could not re-stamp a test message's pace slot");
    }
    match sent {
        Ok(receipt) if receipt.missed(&userid) => {
            // errcode 0, yet this member was listed as invalid or unlicensed: not delivered.
            let code = ErrCode::AllRecipientsInvalid;
            if let Some(b) = saved {
                st.channels.forget_userid_after(&b.record.key, &code).await;
            }
            let hint = receiver_hint(&code, &config.receiver, &st.egress_ips);
            steps.set("send", StepStatus::Failed, Some(0), Some(hint.render()));
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotDelivered,
                Text::new("test.not_delivered").arg("userid", &userid),
            )
            .hint(hint.clone())
            .with("wecom_errcode", 0);
            Err(Failure {
                error,
                errcode: Some(0),
                hint,
                steps,
            })
        }
        Ok(receipt) => {
            steps.set("send", StepStatus::Ok, None, None);
            Ok(Done {
                userid,
                msgid: receipt.msgid,
                steps,
            })
        }
        Err(e) => {
            if let (Some(b), Some(code)) = (saved, e.errcode()) {
                st.channels.forget_userid_after(&b.record.key, code).await;
            }
            Err(fail(st, steps, "send", &e, &config.receiver))
        }
    }
}

/// Error codes of tests that stopped before testing anything: not recorded as `last_test`.
const NOT_RUN: [ErrorCode; 3] = [
    ErrorCode::MemberRateLimited,
    ErrorCode::TooManyCredentialChecks,
    ErrorCode::StoreUnavailable,
];

/// A lookup of this receiver missed within the day: the same 422 and steps as WeCom's miss,
/// saying it is remembered — since when, until when, and how to try again sooner.
fn remembered_miss(mut steps: Steps, m: &ReceiverMiss) -> Failure {
    let hint = miss_hint(m);
    steps.set(
        "resolve_receiver",
        StepStatus::Failed,
        Some(m.errcode),
        Some(hint.render()),
    );
    let error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::MemberNotFound,
        Text::new("test.member_not_found.remembered")
            .arg("code", m.errcode)
            .arg("since", m.since()),
    )
    .hint(hint.clone())
    .with("wecom_errcode", m.errcode)
    .with(
        "receiver_not_found",
        serde_json::to_value(ReceiverNotFoundView::from(m)).unwrap_or_default(),
    );
    Failure {
        error,
        errcode: Some(m.errcode),
        hint,
        steps,
    }
}

/// The member's pace window is full until `until_ms`: 429, nothing sent, with when the next
/// slot opens.
fn member_rate_limited(steps: Steps, until_ms: i64, now_ms: i64) -> Failure {
    let secs = (until_ms - now_ms + 999).max(1000) / 1000;
    let at = time::OffsetDateTime::from_unix_timestamp((until_ms + 999).div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let (window, max) = WECOM_MEMBER_LIMITS[0];
    let hint = Text::new("hint.test.member_rate_limited")
        .arg("limit", max)
        .arg("window", window / 1000)
        .arg("secs", secs)
        .arg("at", &at);
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::MemberRateLimited,
        Text::new("test.member_rate_limited"),
    )
    .hint(hint.clone())
    .with("retry_after", secs)
    .with("retry_at", at);
    Failure {
        error,
        errcode: None,
        hint,
        steps,
    }
}

/// The errcode's hint, sharpened for the receiver's source column where it helps.
fn receiver_hint(code: &ErrCode, receiver: &Receiver, egress: &[String]) -> Text {
    match (code, receiver) {
        (ErrCode::AllRecipientsInvalid | ErrCode::UserIdNotFound, Receiver::LoginName(u)) => {
            Text::new("hint.test.login_name_userid").arg("userid", u)
        }
        _ => code.hint(egress),
    }
}

/// The step `step` failed with WeCom's `e`: the step marked failed with its errcode and hint,
/// and the API error of that failure.
fn fail(
    st: &AppState,
    mut steps: Steps,
    step: &'static str,
    e: &WeComError,
    receiver: &Receiver,
) -> Failure {
    let hint = match e {
        WeComError::Api { code, .. } => receiver_hint(code, receiver, &st.egress_ips),
        _ => e.hint(&st.egress_ips),
    };
    let errcode = e.errcode().map(ErrCode::code);
    steps.set(step, StepStatus::Failed, errcode, Some(hint.render()));
    let doing = Text::new("doing.step").arg("step", step);
    Failure {
        error: ApiError::wecom(e, &doing, hint.clone()),
        errcode,
        hint,
        steps,
    }
}
