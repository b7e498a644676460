//! WeCom's pushes of clicks: who clicks, with which app's keys, how often a copy is sent and
//! when, and what each copy met.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use shared::crypto::CallbackCrypto;
use shared::domain::RecordKey;
use shared::workflow::ANY_MEMBER;

use super::chaos::Chaos;
use super::world::{Card, World};
use super::{APP_A, APP_B, AppKeys, MEMBERS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The recipient's own click, from the app that sent the card.
    Authentic,
    /// Another member of the same app presses the card's button.
    Colleague,
    /// The other app of the org signs a click naming the card and its recipient.
    Forged,
}

/// One push of WeCom: the click, sealed once; each copy is signed anew.
pub(super) struct Push {
    pub(super) card: usize,
    pub(super) kind: Kind,
    /// As the product names the click across retries (`Click::id`).
    pub(super) click: String,
    pub(super) key: &'static str,
    pub(super) code: String,
    /// The callback id it is posted to.
    pub(super) to: String,
    pub(super) crypto: CallbackCrypto,
    pub(super) encrypt: String,
    pub(super) body: String,
    pub(super) what: String,
}

impl Push {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        w: &World,
        cards: &[Card],
        card: usize,
        kind: Kind,
        signer: &AppKeys,
        via: &str,
        userid: &str,
        key: &'static str,
        create_time: i64,
    ) -> Self {
        let c = &cards[card];
        // WeCom issues a fresh single-use code with every click, for the card's app.
        let code = w
            .fake
            .state
            .issue_response_code(&c.task_id)
            .expect("the fake knows the card");
        let plain = format!(
            "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[{userid}]]></FromUserName>\
             <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>\
             <TaskId><![CDATA[{task}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>\
             <ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{agent}</AgentID></xml>",
            corp = signer.corp,
            task = c.task_id,
            agent = signer.agent,
        );
        let crypto =
            CallbackCrypto::new(signer.token, signer.key, signer.corp).expect("the app's keys");
        let encrypt = crypto.encrypt(&plain, &rand::random());
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>\
             <AgentID><![CDATA[{}]]></AgentID></xml>",
            signer.corp, signer.agent
        );
        Self {
            card,
            kind,
            click: format!("{}/{create_time}/{key}", userid.to_ascii_lowercase()),
            key,
            code,
            to: w.callback[via].clone(),
            crypto,
            encrypt,
            body,
            what: format!(
                "{kind:?} {userid} presses {key} on {}/{} (signed by {}, posted to {via}'s URL)",
                c.event_id, c.who.member, signer.corp
            ),
        }
    }

    /// One copy through `app`, signed now: the HTTP status.
    pub(super) async fn deliver(&self, w: &World, app: &Router) -> u16 {
        let timestamp = (w.now_ms() / 1000).to_string();
        let nonce = (rand::random::<u32>() % 1_000_000_000).to_string();
        let signature = self.crypto.sign(&timestamp, &nonce, &self.encrypt);
        let req = Request::builder()
            .method("POST")
            .uri(format!(
                "/v1/wecom/callback/{}?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
                self.to
            ))
            .header("content-type", "text/xml")
            .body(Body::from(self.body.clone()))
            .expect("request");
        shared::testing::oneshot(app, req).await.status.as_u16()
    }
}

pub(super) enum Item {
    /// `n` copies of one push at once.
    Copies {
        push: usize,
        n: usize,
    },
    Finish,
    Named {
        card: usize,
    },
    Jump {
        secs: u64,
    },
}

/// What one copy of a push met.
pub(super) struct Attempt {
    pub(super) push: usize,
    pub(super) start: u64,
    /// When the answer came (None: the invocation crashed) and what it was.
    pub(super) end: Option<(u64, u16)>,
    /// For an authentic 200: whether the decision was found recorded right after.
    pub(super) recorded: Option<Result<bool, String>>,
}

/// The members whose callback URL verifies pushes signed by `app`.
pub(super) fn urls_of(app: &AppKeys) -> Vec<&'static str> {
    MEMBERS
        .iter()
        .filter(|w| w.app.corp == app.corp)
        .map(|w| w.member)
        .collect()
}

pub(super) fn other_app(app: &AppKeys) -> &'static AppKeys {
    if app.corp == APP_A.corp {
        &APP_B
    } else {
        &APP_A
    }
}

/// Draws the schedule's pushes and its timeline: groups of items run at once, in order.
pub(super) fn draw(w: &World, rng: &mut StdRng, cards: &[Card]) -> (Vec<Push>, Vec<Vec<Item>>) {
    let keys = ["approve", "reject"];
    let mut pushes = Vec::new();
    let mut timed: Vec<(f64, Item)> = Vec::new();
    let mut create_time = w.now_ms() / 1000;
    let mut new_push =
        |pushes: &mut Vec<Push>, rng: &mut StdRng, card: usize, kind: Kind| -> usize {
            let c = &cards[card];
            let (signer, userid) = match kind {
                Kind::Authentic => (c.who.app, c.who.userid),
                Kind::Colleague => (c.who.app, c.who.colleague),
                Kind::Forged => (other_app(c.who.app), c.who.userid),
            };
            let via = *urls_of(signer).choose(rng).expect("a URL");
            let key = *keys.choose(rng).expect("key");
            create_time += 1;
            pushes.push(Push::new(
                w,
                cards,
                card,
                kind,
                signer,
                via,
                userid,
                key,
                create_time,
            ));
            pushes.len() - 1
        };
    for card in 0..cards.len() {
        if rng.random_bool(0.85) {
            // The recipient's click: at most three copies while the faults are on (WeCom
            // tries a push four times; the fourth is the settling retry).
            let first = new_push(&mut pushes, rng, card, Kind::Authentic);
            let total = rng.random_range(1..=3usize);
            let initial = rng.random_range(1..=total);
            let t0: f64 = rng.random_range(0.0..1.0);
            if rng.random_bool(0.5) {
                timed.push((
                    t0,
                    Item::Copies {
                        push: first,
                        n: initial,
                    },
                ));
            } else {
                for k in 0..initial {
                    timed.push((t0 + k as f64 * 1e-9, Item::Copies { push: first, n: 1 }));
                }
            }
            let answered = t0 + initial as f64 * 1e-9;
            for _ in initial..total {
                // A late copy: the answer was lost, or WeCom got none in time.
                timed.push((
                    rng.random_range(answered..2.0),
                    Item::Copies { push: first, n: 1 },
                ));
            }
            if rng.random_bool(0.35) {
                let second = new_push(&mut pushes, rng, card, Kind::Authentic);
                let n = rng.random_range(1..=2);
                timed.push((
                    rng.random_range(answered..2.0),
                    Item::Copies { push: second, n },
                ));
            }
        }
        for kind in [Kind::Colleague, Kind::Forged] {
            if rng.random_bool(0.3) {
                let p = new_push(&mut pushes, rng, card, kind);
                let n = rng.random_range(1..=2);
                timed.push((rng.random_range(0.0..2.0), Item::Copies { push: p, n }));
            }
        }
    }
    for _ in 0..rng.random_range(0..=3) {
        timed.push((rng.random_range(0.0..2.0), Item::Finish));
    }
    if rng.random_bool(0.3) {
        let card = rng.random_range(0..cards.len());
        timed.push((rng.random_range(0.0..2.0), Item::Named { card }));
    }
    for _ in 0..rng.random_range(0..=2) {
        let secs = rng.random_range(1..=90);
        timed.push((rng.random_range(0.0..2.0), Item::Jump { secs }));
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut groups: Vec<Vec<Item>> = Vec::new();
    for (_, item) in timed {
        match groups.last_mut() {
            Some(g) if rng.random_bool(0.3) => g.push(item),
            _ => groups.push(vec![item]),
        }
    }
    (pushes, groups)
}

/// One copy of a push through its own invocation of the callback.
pub(super) async fn run_copy(
    w: &World,
    chaos: Option<(&Arc<Chaos>, usize)>,
    pushes: &[Push],
    cards: &[Card],
    push: usize,
    seq: &AtomicU64,
) -> Attempt {
    let p = &pushes[push];
    let app = w.callback(chaos);
    let start = seq.fetch_add(1, Ordering::SeqCst);
    let status = match chaos {
        Some((c, instance)) => {
            let signal = c.signal(instance);
            tokio::select! {
                s = p.deliver(w, &app) => Some(s),
                () = signal.notified() => None,
            }
        }
        None => Some(p.deliver(w, &app).await),
    };
    let end = status.map(|s| (seq.fetch_add(1, Ordering::SeqCst), s));
    if let (Some((c, instance)), Some(s)) = (chaos, status) {
        c.note(format!("invocation {instance}: push {push} answered {s}"));
    }
    let mut recorded = None;
    if status == Some(200) && p.kind == Kind::Authentic {
        let c = &cards[p.card];
        // An any-event's decision (whoever made it) is kept under the event's one key.
        let member = if c.any { ANY_MEMBER } else { c.who.member };
        recorded = Some(
            w.stores
                .actions
                .action(RecordKey::new(&w.org, &c.event_id, member))
                .await
                .map(|a| a.is_some())
                .map_err(|e| e.to_string()),
        );
    }
    Attempt {
        push,
        start,
        end,
        recorded,
    }
}
