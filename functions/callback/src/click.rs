//! A click on an interactive card (docs/API.md §11): the `template_card_event` push, after it
//! was verified and decrypted like any push.
//!
//! Record first, answer after: the decision is stored (the first per (event, member) wins)
//! before the push is answered, and the stored record is the outbox
//! ([`shared::sink::Outbox`]). The callback then tries to publish it at once; whatever is
//! not done — the publication, and always the card's answer, which calls WeCom's API and so
//! must leave through the NAT — the dispatcher finishes. A click push is not claimed like
//! other pushes: the insert-once decision is its claim, so WeCom's retry that overlaps the
//! first attempt meets the recorded decision instead of a claim with nothing behind it.
//!
//! Only the app that sent the card decides: the push must be verified with that app's keys
//! and name that corp and agent, and come from the member's userid. Anything else is
//! acknowledged (WeCom stops), logged with the reason, and recorded nowhere.

use std::sync::Arc;

use shared::channel::{ChannelService, ResolvedBinding};
use shared::domain::{MemberId, MemberKey, retained_until};
use shared::sink::Outbox;
use shared::store::{Claim, DeliveryStore, StoreError};
use shared::workflow::{ActionRecord, Click, LaterClick};
use shared::xml::PushMessage;
use time::OffsetDateTime;

use crate::CallbackError;

/// How long publishing may take inside the push: WeCom waits 5 s, the function's timeout is
/// 5 s, and the decision is recorded already (the sweep publishes what this does not).
const PUBLISH_BUDGET: std::time::Duration = std::time::Duration::from_millis(3000);

/// What a click needs beyond the binding: the cards sent, and the decisions' outbox.
pub struct Clicks {
    pub deliveries: Arc<dyn DeliveryStore>,
    pub outbox: Outbox,
    /// How long action records are kept (as deliveries).
    pub retention_days: i64,
}

/// The app a push names: `ToUserName` (the CorpID) and `AgentID`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushApp {
    pub corp_id: String,
    pub agent_id: String,
}

/// The click in a push, if it is one this product answers, with the app the push names.
pub fn click_of(msg: &PushMessage<'_>) -> Option<(Click, PushApp)> {
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
    let click = Click {
        userid: field(&msg.from_user_name)?,
        key: field(&msg.event_key)?,
        task_id: field(&msg.task_id)?,
        create_time: field(&msg.create_time).unwrap_or_default(),
        response_code: field(&msg.response_code),
    };
    let app = PushApp {
        corp_id: field(&msg.to_user_name).unwrap_or_default(),
        agent_id: field(&msg.agent_id).unwrap_or_default(),
    };
    Some((click, app))
}

/// The app that sent the card: as the delivery recorded it, or — for a card sent before
/// deliveries kept it — the app of the recipient's channel now (`None`: no channel).
async fn sent_by(
    channels: &ChannelService,
    d: &shared::workflow::Delivery,
) -> Result<Option<(String, i64)>, CallbackError> {
    if let (Some(corp), Some(agent)) = (&d.corp_id, d.agent_id) {
        return Ok(Some((corp.clone(), agent)));
    }
    let Ok(member) = MemberId::parse(&d.member) else {
        return Ok(None);
    };
    let key = MemberKey {
        org: d.org.clone(),
        member,
    };
    Ok(channels.configured(&key).await?.map(|b| {
        (
            b.config.corp_id.as_str().to_owned(),
            b.config.agent_id.get(),
        )
    }))
}

/// Why a click from this push cannot be the card's: `None` if it can. `verified_by` is the app
/// whose keys verified the push, `sent_by` the app that sent the card.
fn foreign(
    verified_by: (&str, i64),
    push: &PushApp,
    sent_by: Option<(String, i64)>,
) -> Option<String> {
    let Some((corp, agent)) = sent_by else {
        return Some("the card's app is unknown (sent by an earlier version to a member with no channel now)".into());
    };
    let corp = corp.as_str();
    if verified_by != (corp, agent) {
        return Some(format!(
            "verified with the keys of app {}/{}, the card was sent by {corp}/{agent}",
            verified_by.0, verified_by.1
        ));
    }
    if push.corp_id != corp || push.agent_id != agent.to_string() {
        return Some(format!(
            "the push names app {}/{}, the card was sent by {corp}/{agent}",
            push.corp_id, push.agent_id
        ));
    }
    None
}

impl Clicks {
    pub fn new(deliveries: Arc<dyn DeliveryStore>, outbox: Outbox, retention_days: i64) -> Self {
        Self {
            deliveries,
            outbox,
            retention_days,
        }
    }

    /// Takes the click as a decision, or records it as a later one, or refuses it (logged).
    /// An error means nothing was recorded: WeCom's retry tries again.
    pub async fn on_click(
        &self,
        channels: &ChannelService,
        b: &ResolvedBinding,
        click: &Click,
        push: &PushApp,
    ) -> Result<(), CallbackError> {
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
        let verified_by = (b.config.corp_id.as_str(), b.config.agent_id.get());
        if let Some(why) = foreign(verified_by, push, sent_by(channels, &d).await?) {
            tracing::warn!(%org, event_id = %d.event_id, member = %d.member, reason = %why,
                "click from another app refused");
            return Ok(());
        }
        let now_ms = self.outbox.now();
        let at = OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let expires_at = retained_until(now_ms, self.retention_days);
        let decision = match ActionRecord::decide(&d, click, at, now_ms, expires_at) {
            Ok(a) => a,
            Err(refused) => {
                // A forwarded card, another member's click, a key the card does not have.
                tracing::warn!(%org, event_id = %d.event_id, member = %d.member,
                    clicker = %click.userid, reason = %refused, "click refused");
                return Ok(());
            }
        };
        let a = match self.outbox.actions.claim(&decision).await.map_err(store)? {
            Claim::New => {
                tracing::info!(%org, event_id = %decision.event_id, member = %decision.member,
                    action = %decision.action, decision_id = %decision.decision_id(), "decision recorded");
                shared::metrics::prom::decision(decision.action.as_str());
                decision
            }
            // WeCom's retry of the deciding push: finish what is left undone.
            Claim::Existing(e) if e.click == decision.click => *e,
            Claim::Existing(e) => self.later(*e, &decision, click, now_ms).await?,
        };
        if a.needs_publishing() {
            self.publish(a).await;
        }
        Ok(())
    }

    /// Publishes within [`PUBLISH_BUDGET`]; what is not done stays in the outbox.
    async fn publish(&self, a: ActionRecord) {
        let (event_id, member) = (a.event_id.clone(), a.member.clone());
        match tokio::time::timeout(PUBLISH_BUDGET, self.outbox.publish(a)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, %event_id, %member,
                "the publication's outcome was not recorded; the sweep finishes the decision"),
            Err(_) => tracing::warn!(%event_id, %member,
                "publishing took too long; the sweep finishes the decision"),
        }
    }

    /// A click after the decision: kept on the record, decides nothing. Its fresh response
    /// code answers a card whose first answer failed or ran out.
    async fn later(
        &self,
        a: ActionRecord,
        click: &ActionRecord,
        raw: &Click,
        now_ms: i64,
    ) -> Result<ActionRecord, CallbackError> {
        // The push's own CreateTime, not this copy's arrival: WeCom's retry of the same later
        // click (after a lost answer) is then the same entry, kept once.
        let at = raw
            .create_time
            .parse::<i64>()
            .ok()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .unwrap_or(click.at);
        let later = LaterClick {
            action: click.action.clone(),
            userid: click.userid.clone(),
            at,
        };
        tracing::info!(event_id = %a.event_id, member = %a.member, decided = %a.action,
            clicked = %later.action, "later click on a decided card recorded");
        let stored = self
            .outbox
            .apply(&a, |r| {
                r.add_later(&later);
                r.refresh_code(&raw.userid, raw.response_code.as_deref(), now_ms);
            })
            .await
            .map_err(store)?;
        Ok(stored.unwrap_or(a))
    }
}

fn store(e: StoreError) -> CallbackError {
    CallbackError::Channel(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_app_that_sent_the_card_decides() {
        let push = |corp: &str, agent: &str| PushApp {
            corp_id: corp.into(),
            agent_id: agent.into(),
        };
        let card = Some(("wwB".to_owned(), 5));
        assert_eq!(foreign(("wwB", 5), &push("wwB", "5"), card.clone()), None);
        // Signed by another app of the org (its own keys, its own callback URL).
        assert!(foreign(("wwA", 2), &push("wwA", "2"), card.clone()).is_some());
        // Verified by the right keys, but naming another app.
        assert!(foreign(("wwB", 5), &push("wwB", "6"), card.clone()).is_some());
        assert!(foreign(("wwB", 5), &push("wwA", "5"), card).is_some());
        // A card whose app is unknown decides nothing.
        assert!(foreign(("wwB", 5), &push("wwB", "5"), None).is_some());
    }

    #[test]
    fn only_card_events_with_a_key_and_task_are_clicks() {
        let xml = "<xml><ToUserName>ww1</ToUserName><FromUserName>ZhangSan</FromUserName>\
            <CreateTime>1700000000</CreateTime><MsgType>event</MsgType>\
            <Event>template_card_event</Event><EventKey>approve</EventKey>\
            <TaskId>wn_1</TaskId><ResponseCode>rc</ResponseCode><AgentID>1000002</AgentID></xml>";
        let m = PushMessage::parse(xml).expect("parse");
        assert_eq!(
            click_of(&m),
            Some((
                Click {
                    userid: "ZhangSan".into(),
                    key: "approve".into(),
                    task_id: "wn_1".into(),
                    create_time: "1700000000".into(),
                    response_code: Some("rc".into()),
                },
                PushApp {
                    corp_id: "ww1".into(),
                    agent_id: "1000002".into()
                }
            ))
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
