//! The callback verifies from memory (issue 27): over the deployed stores — DynamoDB and
//! Secrets Manager on moto — with every AWS request the SDK clients send counted, a warm
//! callback answers a repeated verification and forged ones without any, and a Token saved
//! a moment ago is the one checked.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use axum::body::Body;
use axum::http::Request;
use callback::{AppState, router};
use shared::channel::{ChannelUpdate, SECRET_GRACE};
use shared::crypto::CallbackCrypto;
use shared::domain::{
    AgentId, AppSecret, CorpId, EncodingAesKey, MemberId, MemberKey, OrgId, Receiver, SourceColumn,
    WeComToken,
};
use shared::store::Stores;
use shared::store::dynamo::DynamoTable;
use shared::store::secrets_manager::SecretsManager;
use shared::testing::{ENCODING_AES_KEY as KEY, oneshot};

const CORP: &str = "ww5823bf96d3bd56c7";

/// Every request a client sends, by its `X-Amz-Target` (the operation).
#[derive(Debug, Clone, Default)]
struct Sent(Arc<Mutex<Vec<String>>>);

impl Sent {
    fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "Sent"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .to_owned();
        if let Ok(mut v) = self.0.lock() {
            v.push(target);
        }
        Ok(())
    }
}

fn update(token: &str) -> ChannelUpdate {
    ChannelUpdate {
        corp_id: CorpId::parse(CORP).expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
        receiver: Receiver::parse(SourceColumn::LoginName, "alice").expect("receiver"),
        app_secret: Some(AppSecret::parse("memory-App-Secret").expect("secret")),
        token: Some(WeComToken::parse(token).expect("token")),
        encoding_aes_key: Some(EncodingAesKey::parse(KEY).expect("key")),
        wechat_plugin: false,
        quiet_hours: None,
    }
}

/// A URL verification signed with `token` at `unix` seconds (a wrong `token`: forged).
fn verification(url: &str, token: &str, unix: i64, echo: &str) -> String {
    let c = CallbackCrypto::new(token, KEY, CORP).expect("crypto");
    let echostr = c.encrypt(echo, &rand::random());
    let ts = unix.to_string();
    let sig = c.sign(&ts, "4242", &echostr);
    let echostr =
        percent_encoding::utf8_percent_encode(&echostr, percent_encoding::NON_ALPHANUMERIC);
    format!("{url}?msg_signature={sig}&timestamp={ts}&nonce=4242&echostr={echostr}")
}

#[tokio::test]
async fn warm_verifications_read_no_store_and_a_saved_token_counts_at_once() {
    let sdk = e2e::moto_sdk().await;
    let sent = Sent::default();
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(sent.clone())
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&sdk)
            .interceptor(sent.clone())
            .build(),
    );
    let table = DynamoTable::new(dynamo, format!("wn-memory-{:08x}", rand::random::<u32>()));
    table.ensure_table().await.expect("table");
    let channels = Arc::new(
        Stores::dynamo(table, SecretsManager::new(secrets, None)).channel_service("wn-memory"),
    );
    let clock = Arc::new(AtomicI64::new(shared::domain::unix_ms()));
    let now = clock.clone();
    let app = router(
        AppState::new(channels.clone()).with_clock(Arc::new(move || now.load(Ordering::SeqCst))),
    );
    let unix = || clock.load(Ordering::SeqCst) / 1000;
    let get = async |uri: String| {
        let req = Request::get(uri).body(Body::empty()).expect("request");
        let a = oneshot(&app, req).await;
        (a.status.as_u16(), a.body)
    };

    let key = MemberKey {
        org: OrgId::parse("acme").expect("org"),
        member: MemberId::parse("alice").expect("member"),
    };
    let saved = channels.save(&key, update("TokenA1")).await.expect("save");
    let url = format!("/v1/wecom/callback/{}", saved.callback_id);

    // Cold: the callback reads the binding, its app and its secret.
    sent.take();
    assert_eq!(
        get(verification(&url, "TokenA1", unix(), "1")).await,
        (200, "1".into())
    );
    let cold = sent.take();
    assert!(cold.iter().any(|t| t.starts_with("DynamoDB")), "{cold:?}");

    // Warm: a valid verification and forged ones send nothing to AWS at all.
    assert_eq!(
        get(verification(&url, "TokenA1", unix(), "2")).await,
        (200, "2".into())
    );
    assert_eq!(sent.take(), Vec::<String>::new(), "a warm verification");
    let (status, _) = get(verification(&url, "Forged99", unix(), "3")).await;
    assert_eq!(status, 403);
    // The first failure reads once more (it might have been a rotation): DynamoDB only, the
    // secret's name is unchanged so its value is the one read before.
    let reread = sent.take();
    assert!(
        reread.iter().all(|t| t.starts_with("DynamoDB")),
        "{reread:?}"
    );
    for i in 0..20 {
        let (status, _) = get(verification(&url, "Forged99", unix(), &i.to_string())).await;
        assert_eq!(status, 403);
    }
    assert_eq!(sent.take(), Vec::<String>::new(), "forged verifications");

    // A rotation: the Token saved a moment ago verifies at once (the failure against the
    // remembered one reads again), and from then on the old one is refused.
    clock.fetch_add(callback::REREAD_COOLDOWN_MS, Ordering::SeqCst);
    channels
        .save(&key, update("TokenB22"))
        .await
        .expect("rotate");
    assert_eq!(
        get(verification(&url, "TokenB22", unix(), "4")).await,
        (200, "4".into())
    );
    assert_eq!(get(verification(&url, "TokenA1", unix(), "5")).await.0, 403);
    sent.take();
    assert_eq!(
        get(verification(&url, "TokenB22", unix(), "6")).await,
        (200, "6".into())
    );
    assert_eq!(sent.take(), Vec::<String>::new(), "the new Token, warm");

    // Rotated again with nobody presenting the new Token: the old one may still be answered
    // from memory, but never once a replaced secret's grace has passed.
    channels
        .save(&key, update("TokenC333"))
        .await
        .expect("rotate");
    clock.fetch_add(
        i64::try_from(SECRET_GRACE.as_millis()).expect("grace"),
        Ordering::SeqCst,
    );
    assert_eq!(
        get(verification(&url, "TokenB22", unix(), "7")).await.0,
        403
    );
    assert_eq!(
        get(verification(&url, "TokenC333", unix(), "8")).await,
        (200, "8".into())
    );
}
