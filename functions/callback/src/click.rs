//! A click on an interactive card (docs/API.md §11): the `template_card_event` push, after it
//! was verified, decrypted and claimed like any push.
//!
//! Record first, act after: the decision is stored (the first per (event, member) wins)
//! before it is published and before the card is answered. A publication that fails makes
//! the push fail (503), so WeCom retries it; the retry finds the stored decision, recognises
//! its own click and finishes. The card is answered once, and an expired or used response
//! code is recorded, never retried.

use std::sync::{Arc, OnceLock};

use shared::channel::ResolvedBinding;
use shared::domain::unix_now;
use shared::store::{ActionStore, Decided, DeliveryStore, StoreError};
use shared::wecom::{TokenCache, WeComApp, WeComClient, WeComError};
use shared::workflow::{ActionRecord, ActionSink, CardAnswer, Click, LaterClick};
use shared::xml::PushMessage;
use time::OffsetDateTime;

use crate::CallbackError;

/// WeCom: the response code was used already.
const CODE_USED: i64 = 42022;
/// WeCom: the response code is invalid, most likely expired.
const CODE_INVALID: i64 = 60140;

/// How long acting on a decision may take before the push is answered: WeCom waits 5 s.
const ACT_BUDGET: std::time::Duration = std::time::Duration::from_millis(4000);

/// Tries at recording a later click when the record keeps changing under it.
const LATER_TRIES: usize = 3;

/// What a click needs beyond the binding: the records, WeCom, and where decisions go.
pub struct Clicks {
    pub deliveries: Arc<dyn DeliveryStore>,
    pub actions: Arc<dyn ActionStore>,
    /// `WECOM_API_BASE`: the WeCom client is built on the first click, not at a cold start
    /// that most likely serves a verification or another push.
    pub wecom_base: String,
    pub tokens: Arc<TokenCache>,
    pub sink: Arc<dyn ActionSink>,
    /// How long action records are kept (as deliveries).
    pub retention_days: i64,
    wecom: OnceLock<Result<WeComClient, WeComError>>,
}

/// The click in a push, if it is one this product answers.
pub fn click_of(msg: &PushMessage<'_>) -> Option<Click> {
    if msg.msg_type.as_deref() != Some("event")
        || msg.event.as_deref() != Some("template_card_event")
    {
        return None;
    }
    let field = |v: &Option<std::borrow::Cow<'_, str>>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Some(Click {
        userid: field(&msg.from_user_name)?,
        key: field(&msg.event_key)?,
        task_id: field(&msg.task_id)?,
        create_time: field(&msg.create_time).unwrap_or_default(),
        response_code: field(&msg.response_code),
    })
}

impl Clicks {
    pub fn new(
        deliveries: Arc<dyn DeliveryStore>,
        actions: Arc<dyn ActionStore>,
        wecom_base: &str,
        tokens: Arc<TokenCache>,
        sink: Arc<dyn ActionSink>,
        retention_days: i64,
    ) -> Self {
        Self {
            deliveries,
            actions,
            wecom_base: wecom_base.to_owned(),
            tokens,
            sink,
            retention_days,
            wecom: OnceLock::new(),
        }
    }

    fn wecom(&self) -> Result<&WeComClient, WeComError> {
        self.wecom
            .get_or_init(|| WeComClient::new(&self.wecom_base))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Takes the click as a decision, or records it as a later one, or refuses it (logged);
    /// an error means the decision may not have reached the workflow system yet.
    pub async fn on_click(&self, b: &ResolvedBinding, click: &Click) -> Result<(), CallbackError> {
        let org = &b.record.key.org;
        let Some(d) = self
            .deliveries
            .delivery_by_task(&click.task_id)
            .await
            .map_err(store)?
        else {
            tracing::warn!(%org, task_id = %click.task_id, "click on a card this service did not send; ignored");
            return Ok(());
        };
        if &d.org != org {
            tracing::warn!(%org, card_org = %d.org, task_id = %click.task_id,
                "click arrived at another org's callback; refused");
            return Ok(());
        }
        let now = unix_now();
        let now_ms = now.saturating_mul(1000);
        let at = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let expires_at = now.saturating_add(self.retention_days.saturating_mul(86_400));
        let decision = match ActionRecord::decide(&d, click, at, now_ms, expires_at) {
            Ok(a) => a,
            Err(refused) => {
                // A forwarded card, another member's click, a key the card does not have.
                tracing::warn!(%org, event_id = %d.event_id, member = %d.member,
                    clicker = %click.userid, reason = %refused, "click refused");
                return Ok(());
            }
        };
        let a = match self.actions.decide(&decision).await.map_err(store)? {
            Decided::New => decision,
            // WeCom's retry of the deciding push: finish what was left undone.
            Decided::Existing(e) if e.click == decision.click => *e,
            Decided::Existing(e) => return self.later(*e, &decision).await,
        };
        tracing::info!(%org, event_id = %a.event_id, member = %a.member, action = %a.action,
            "decision recorded");
        // WeCom waits 5 s for the answer. What is not done by then is left to its retry of the
        // push (503), which finds the recorded decision and finishes.
        match tokio::time::timeout(ACT_BUDGET, self.act(b, a, now_ms)).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!(event_id = %d.event_id, member = %d.member,
                    "acting on the decision took too long; WeCom will retry the push");
                Err(CallbackError::Publish)
            }
        }
    }

    /// Publishes the recorded decision and answers the card, whichever is not done yet.
    async fn act(
        &self,
        b: &ResolvedBinding,
        mut a: ActionRecord,
        now_ms: i64,
    ) -> Result<(), CallbackError> {
        let held = a.updated_ms;
        let mut changed = false;
        if !a.published {
            if let Err(e) = self.sink.publish(&a).await {
                tracing::warn!(error = %e, sink = %self.sink.describe(), event_id = %a.event_id,
                    member = %a.member, "decision not published yet; WeCom will retry the push");
                return Err(CallbackError::Publish);
            }
            a.published = true;
            changed = true;
        }
        if a.card == CardAnswer::Pending {
            (a.card, a.card_errcode) = self.answer_card(b, &a).await;
            changed = true;
        }
        if changed {
            a.updated_ms = now_ms.max(held + 1);
            if !self.actions.replace_action(&a, held).await.map_err(store)? {
                // Another instance finished the same click meanwhile.
                tracing::info!(event_id = %a.event_id, member = %a.member,
                    "decision finished concurrently");
            }
        }
        Ok(())
    }

    /// A click after the decision: kept on the record, changes nothing.
    async fn later(&self, mut a: ActionRecord, click: &ActionRecord) -> Result<(), CallbackError> {
        let later = LaterClick {
            action: click.action.clone(),
            userid: click.userid.clone(),
            at: click.at,
        };
        tracing::info!(event_id = %a.event_id, member = %a.member, decided = %a.action,
            clicked = %later.action, "later click on a decided card recorded");
        for _ in 0..LATER_TRIES {
            let held = a.updated_ms;
            if !a.add_later(&later) {
                return Ok(());
            }
            a.updated_ms = click.updated_ms.max(held + 1);
            if self.actions.replace_action(&a, held).await.map_err(store)? {
                return Ok(());
            }
            match self
                .actions
                .action(&a.org, &a.event_id, &a.member)
                .await
                .map_err(store)?
            {
                Some(current) => a = current,
                None => return Ok(()),
            }
        }
        tracing::warn!(event_id = %a.event_id, member = %a.member,
            "later click not recorded: the record kept changing");
        Ok(())
    }

    /// Greys the buttons out with the decision, once.
    async fn answer_card(
        &self,
        b: &ResolvedBinding,
        a: &ActionRecord,
    ) -> (CardAnswer, Option<i64>) {
        let Some(code) = a.response_code.as_deref() else {
            return (CardAnswer::Failed, None);
        };
        let client = match self.wecom() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no WeCom client: the card is not updated");
                return (CardAnswer::Failed, None);
            }
        };
        let app = WeComApp {
            client,
            tokens: &self.tokens,
            creds: b.credentials(),
        };
        match app
            .update_card_buttons(&a.userid, code, &a.answer_text())
            .await
        {
            Ok(()) => (CardAnswer::Updated, None),
            Err(e) => {
                let errcode = e.errcode().map(|c| c.code());
                tracing::warn!(error = %e, event_id = %a.event_id, member = %a.member,
                    "the card could not be updated");
                let answer = match errcode {
                    Some(CODE_USED) => CardAnswer::CodeUsed,
                    Some(CODE_INVALID) => CardAnswer::CodeExpired,
                    _ => CardAnswer::Failed,
                };
                (answer, errcode)
            }
        }
    }
}

fn store(e: StoreError) -> CallbackError {
    CallbackError::Channel(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_card_events_with_a_key_and_task_are_clicks() {
        let xml = "<xml><FromUserName>ZhangSan</FromUserName><CreateTime>1700000000</CreateTime>\
            <MsgType>event</MsgType><Event>template_card_event</Event><EventKey>approve</EventKey>\
            <TaskId>wn_1</TaskId><ResponseCode>rc</ResponseCode></xml>";
        let m = PushMessage::parse(xml).expect("parse");
        assert_eq!(
            click_of(&m),
            Some(Click {
                userid: "ZhangSan".into(),
                key: "approve".into(),
                task_id: "wn_1".into(),
                create_time: "1700000000".into(),
                response_code: Some("rc".into()),
            })
        );
        let no_task = xml.replace("<TaskId>wn_1</TaskId>", "");
        assert_eq!(
            click_of(&PushMessage::parse(&no_task).expect("parse")),
            None
        );
        let enter = xml.replace("template_card_event", "enter_agent");
        assert_eq!(click_of(&PushMessage::parse(&enter).expect("parse")), None);
    }
}
