//! The world the schedules run in: the fake WeCom with two apps of one org, the bound members,
//! the callback and the dispatcher as one invocation runs them, and the cards each schedule sends.
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use callback::{AppState, Clicks, router};
use dispatch::Dispatcher;
use e2e::fake::{self, App, Corp, FakeWeCom};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::json;
use shared::channel::{ChannelService, ChannelUpdate};
use shared::domain::{
    AgentId, AppSecret, CorpId, EncodingAesKey, EventId, MemberId, MemberKey, Node, OrgId,
    Receiver, RecordKey, SubscriptionType, WeComToken, unix_ms,
};
use shared::sink::Outbox;
use shared::store::{ActionStore, DeliveryStore, Stores};
use shared::testing::Intercepted;
use shared::wecom::TokenCache;
use shared::workflow::{DeliveryKind, DeliveryStatus, MessageFormat, Subscription, WorkflowEvent};

use super::chaos::{Chaos, Invocation, Publication, TestSink};
use super::{APP_B, MEMBERS, ORG, Who};

pub(super) fn corp_b() -> Corp {
    let member = |userid: &str, email: &str| fake::Member {
        userid: userid.into(),
        email: Some(email.into()),
        visible: true,
        ..fake::Member::default()
    };
    Corp {
        corpid: APP_B.corp.into(),
        apps: vec![App {
            agentid: APP_B.agent,
            secret: APP_B.secret.into(),
            trusted_ips: Vec::new(),
        }],
        members: vec![
            member("wangwu", "wangwu@b.example.com"),
            member("zhaoliu", "zhaoliu@b.example.com"),
        ],
    }
}

pub(super) fn update(who: &Who) -> ChannelUpdate {
    ChannelUpdate {
        wechat_plugin: false,
        quiet_hours: None,
        corp_id: CorpId::parse(who.app.corp).expect("corp"),
        agent_id: AgentId::parse(who.app.agent).expect("agent"),
        receiver: Receiver::parse(who.column, who.receiver).expect("receiver"),
        app_secret: Some(AppSecret::parse(who.app.secret).expect("secret")),
        token: Some(WeComToken::parse(who.app.token).expect("token")),
        encoding_aes_key: Some(EncodingAesKey::parse(who.app.key).expect("key")),
    }
}

// --- faults ---------------------------------------------------------------------------------

pub(super) struct World {
    pub(super) label: &'static str,
    pub(super) test: &'static str,
    pub(super) fake: FakeWeCom,
    pub(super) stores: Stores,
    pub(super) channels: Arc<ChannelService>,
    pub(super) tokens: Arc<TokenCache>,
    pub(super) wecom: shared::wecom::WeComClient,
    pub(super) config: shared::config::Config,
    /// The test clock (Unix ms): every clock of the product under test reads it, and only
    /// the test moves it (so a seed replays the same times).
    pub(super) clock: Arc<AtomicI64>,
    /// Each member's callback id (the path of the URL saved on WeCom's page).
    pub(super) callback: HashMap<&'static str, String>,
    pub(super) accepted: Arc<Mutex<Vec<Publication>>>,
    pub(super) org: OrgId,
}

impl World {
    pub(super) async fn start(label: &'static str, test: &'static str, stores: Stores) -> Self {
        let fake = FakeWeCom::start().await;
        fake.state.add_corp(fake::demo_corp());
        fake.state.add_corp(corp_b());
        let channels =
            Arc::new(stores.channel_service(&format!("wn-clicks-{:08x}", rand::random::<u32>())));
        let org = OrgId::parse(ORG).expect("org");
        let mut callback = HashMap::new();
        for who in &MEMBERS {
            let key = MemberKey {
                org: org.clone(),
                member: MemberId::parse(who.member).expect("member"),
            };
            let rec = channels.save(&key, update(who)).await.expect("bind");
            callback.insert(who.member, rec.callback_id.as_str().to_owned());
        }
        let actions: shared::workflow::Actions = serde_json::from_value(json!([
            {"key": "approve", "text": "同意", "style": "primary"},
            {"key": "reject", "text": "驳回", "style": "danger"}
        ]))
        .expect("actions");
        stores
            .subscriptions
            .put_subscriptions(
                &org,
                &[Subscription {
                    message_format: MessageFormat::Textcard,
                    actions: Some(actions),
                    ..Subscription::new(
                        SubscriptionType::parse("sql_review").expect("type"),
                        Node::parse("approval_pending").expect("node"),
                        true,
                    )
                }],
            )
            .await
            .expect("subscribe");
        Self {
            label,
            test,
            wecom: e2e::fast_wecom_client(&fake.base, Duration::from_millis(400)),
            fake,
            tokens: Arc::new(TokenCache::new(stores.tokens.clone())),
            stores,
            channels,
            config: shared::config::Config::from_lookup(false, |_| None).expect("config"),
            clock: Arc::new(AtomicI64::new(unix_ms() / 1000 * 1000)),
            callback,
            accepted: Arc::default(),
            org,
        }
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub(super) fn advance(&self, by: Duration) {
        self.clock
            .fetch_add(i64::try_from(by.as_millis()).expect("ms"), Ordering::SeqCst);
        self.fake.state.advance(by);
    }

    pub(super) fn ms_clock(&self) -> Arc<dyn Fn() -> i64 + Send + Sync> {
        let clock = self.clock.clone();
        Arc::new(move || clock.load(Ordering::SeqCst))
    }

    pub(super) fn sink(&self, chaos: Option<(&Arc<Chaos>, usize)>) -> Arc<TestSink> {
        Arc::new(TestSink {
            chaos: chaos.map(|(c, i)| (c.clone(), i)),
            accepted: self.accepted.clone(),
        })
    }

    pub(super) fn ports(
        &self,
        chaos: Option<(&Arc<Chaos>, usize)>,
    ) -> (Arc<dyn ActionStore>, Arc<dyn DeliveryStore>) {
        match chaos {
            Some((c, instance)) => {
                let f = Arc::new(Intercepted {
                    stores: self.stores.clone(),
                    hook: Invocation {
                        chaos: c.clone(),
                        instance,
                    },
                });
                (f.clone(), f)
            }
            None => (self.stores.actions.clone(), self.stores.deliveries.clone()),
        }
    }

    /// The callback function as one invocation runs it.
    pub(super) fn callback(&self, chaos: Option<(&Arc<Chaos>, usize)>) -> Router {
        let (actions, deliveries) = self.ports(chaos);
        let outbox = Outbox {
            actions,
            sink: self.sink(chaos),
            clock: self.ms_clock(),
        };
        let mut st =
            AppState::new(self.channels.clone()).with_clicks(Clicks::new(deliveries, outbox, 30));
        st.clock = self.ms_clock();
        router(st)
    }

    /// The dispatcher as one invocation runs it.
    pub(super) fn dispatcher(&self, chaos: Option<(&Arc<Chaos>, usize)>) -> Dispatcher {
        let mut d = Dispatcher::new(
            &self.config,
            &self.stores,
            self.channels.clone(),
            self.wecom.clone(),
            self.tokens.clone(),
            self.sink(chaos),
        );
        let (actions, deliveries) = self.ports(chaos);
        d.outbox.actions = actions;
        d.outbox.clock = self.ms_clock();
        d.deliveries = deliveries;
        d.clock = self.ms_clock();
        d
    }
}

// --- one schedule ---------------------------------------------------------------------------

/// A card the schedule sent.
pub(super) struct Card {
    pub(super) event_id: EventId,
    pub(super) who: &'static Who,
    pub(super) task_id: String,
    /// The event is `decide: "any"`: one decision for all its cards.
    pub(super) any: bool,
    /// The code `message/send` answered for the card: an any-decision answers the card with
    /// it.
    pub(super) send_code: Option<String>,
    /// The card reached its member by escalation.
    pub(super) escalated: bool,
}

/// An event's card escalated to `to` after `reminders` unanswered reminders, a minute apart.
#[derive(Clone, Copy)]
pub(super) struct Escalation {
    pub(super) to: &'static Who,
    pub(super) reminders: u8,
}

pub(super) fn event(
    id: &str,
    recipients: &[&str],
    any: bool,
    escalation: Option<Escalation>,
) -> WorkflowEvent {
    let mut detail = json!({
        "event_id": id, "org": ORG, "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": recipients,
        "title": "SQL review waiting for you", "content": "prod-db: ALTER TABLE orders",
        "url": "https://workflow.example.com/r/1", "occurred_at": "2026-03-11T08:00:00Z"
    });
    if any {
        detail["decide"] = json!("any");
    }
    if let Some(e) = escalation {
        detail["remind_after_minutes"] = json!(1);
        detail["reminders"] = json!(e.reminders);
        detail["escalate_to"] = json!([e.to.member]);
    }
    WorkflowEvent::from_detail(&detail).expect("valid event")
}

pub(super) async fn send_cards(
    w: &World,
    seed: u64,
    rng: &mut StdRng,
) -> Result<(Vec<Card>, Vec<EventId>), String> {
    let mut cards = Vec::new();
    let mut events = Vec::new();
    let sender = w.dispatcher(None);
    for i in 0..rng.random_range(1..=2) {
        let mut recipients: Vec<&'static Who> =
            MEMBERS.iter().filter(|_| rng.random_bool(0.6)).collect();
        if recipients.is_empty() {
            recipients.push(MEMBERS.choose(rng).expect("member"));
        }
        let names: Vec<&str> = recipients.iter().map(|r| r.member).collect();
        // Half the events are decided by whoever decides first (或签).
        let any = rng.random_bool(0.5);
        // Some escalate to a member who is not a recipient: nobody decides in time, so that
        // member gets a card of their own, whose clicks count as a recipient's.
        let outside: Vec<&'static Who> = MEMBERS
            .iter()
            .filter(|m| !names.contains(&m.member))
            .collect();
        let escalation = match outside.choose(rng) {
            Some(to) if rng.random_bool(0.4) => Some(Escalation {
                to,
                reminders: rng.random_range(0..=1),
            }),
            _ => None,
        };
        let ev = event(&format!("clk{seed}x{i}"), &names, any, escalation);
        sender
            .dispatch(&ev)
            .await
            .map_err(|e| format!("sending the cards of {}: {e}", ev.event_id))?;
        if let Some(e) = escalation {
            // A minute per reminder, then the escalation: each round at a sweep.
            for _ in 0..=e.reminders {
                w.advance(Duration::from_secs(61));
                sender
                    .sweep()
                    .await
                    .map_err(|err| format!("the sweep escalating {}: {err}", ev.event_id))?;
            }
            recipients.push(e.to);
        }
        for who in recipients {
            let d = w
                .stores
                .deliveries
                .delivery(RecordKey::new(&w.org, &ev.event_id, who.member))
                .await
                .map_err(|e| format!("store: {e}"))?
                .ok_or_else(|| format!("{}/{}: no delivery", ev.event_id, who.member))?;
            let escalated = escalation.is_some_and(|e| e.to.member == who.member);
            if escalated != (d.kind == DeliveryKind::Escalation) {
                return Err(format!(
                    "{}/{}: kind {:?}, escalated: {escalated}",
                    ev.event_id, who.member, d.kind
                ));
            }
            let sent_by = (d.corp_id.as_deref(), d.agent_id, d.userid.as_deref());
            if d.status != DeliveryStatus::Delivered
                || sent_by != (Some(who.app.corp), Some(who.app.agent), Some(who.userid))
            {
                return Err(format!(
                    "{}/{}: the card was not sent as expected: {:?} {sent_by:?} {:?}",
                    ev.event_id, who.member, d.status, d.hint
                ));
            }
            let task_id = d
                .task_id
                .clone()
                .ok_or_else(|| format!("{}/{}: no task id", ev.event_id, who.member))?;
            cards.push(Card {
                event_id: ev.event_id.clone(),
                who,
                task_id,
                any,
                send_code: d.response_code.clone(),
                escalated,
            });
        }
        events.push(ev.event_id.clone());
    }
    Ok((cards, events))
}
