//! The world the functions see: a fresh table on moto with two members bound to the fake
//! WeCom's demo app, the template's environment, and the event each function is deployed for.

use base64::Engine;
use e2e::fake::FakeWeCom;
use serde_json::{Value, json};
use shared::channel::ChannelService;
use shared::crypto::CallbackCrypto;
use shared::domain::{MemberId, MemberKey, Node, OrgId, SourceColumn, SubscriptionType};
use shared::store::Stores;
use shared::store::dynamo::DynamoTable;
use shared::store::secrets_manager::SecretsManager;
use shared::workflow::{MessageFormat, Subscription};

use crate::args::Kind;
use crate::runtime::{unix_ms, unix_secs};

pub(crate) const CORP: &str = "ww0123456789abcdef";
pub(crate) const TOKEN: &str = "Token123";
pub(crate) const ORG: &str = "demo";
/// Bound to zhangsan (phone 13800000000): channel-config reads it, test-send tests it.
pub(crate) const ADMIN_MEMBER: &str = "zhangsan";
/// Bound to lisi (phone 13900000000): dispatch delivers to it.
pub(crate) const DISPATCH_MEMBER: &str = "lisi";
/// The template's DeliveryShards default.
pub(crate) const SHARDS: u16 = 16;

pub(crate) struct World {
    pub(crate) fake: FakeWeCom,
    pub(crate) channels: ChannelService,
    pub(crate) table: String,
    pub(crate) prefix: String,
    pub(crate) org: OrgId,
}

pub(crate) type Check = Box<dyn Fn(&str) -> Result<(), String> + Send>;

pub(crate) fn member_key(org: &OrgId, member: &str) -> Result<MemberKey, String> {
    Ok(MemberKey {
        org: org.clone(),
        member: MemberId::parse(member).map_err(|e| format!("member {member:?}: {e:?}"))?,
    })
}

impl World {
    /// A fresh table and secret prefix on moto, zhangsan and lisi bound to the fake's demo
    /// app, and the org's subscription to SQL reviews waiting for approval switched on.
    pub(crate) async fn seed() -> Result<Self, String> {
        let fake = FakeWeCom::start().await;
        fake.state.add_corp(e2e::fake::demo_corp());
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let suffix = format!("{:08x}", rand::random::<u32>());
        let table = format!("wn-cold-{suffix}");
        let prefix = format!("wn-cold-{suffix}");
        let dynamo = DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone())
            .with_shards(SHARDS);
        dynamo
            .ensure_table()
            .await
            .map_err(|e| format!("create table {table} on moto: {e}"))?;
        let stores = Stores::dynamo(
            dynamo,
            SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk), None),
        );
        let channels = stores.channel_service(&prefix);
        let org = OrgId::parse(ORG).map_err(|e| format!("{e:?}"))?;
        for (member, phone) in [
            (ADMIN_MEMBER, "13800000000"),
            (DISPATCH_MEMBER, "13900000000"),
        ] {
            channels
                .save(
                    &member_key(&org, member)?,
                    e2e::demo_app_update(SourceColumn::Phone, phone),
                )
                .await
                .map_err(|e| format!("bind {member}: {e}"))?;
        }
        stores
            .subscriptions
            .put_subscriptions(
                &org,
                &[Subscription {
                    message_format: MessageFormat::default(),
                    actions: None,
                    ..Subscription::new(
                        SubscriptionType::parse("sql_review").map_err(|e| format!("{e:?}"))?,
                        Node::parse("approval_pending").map_err(|e| format!("{e:?}"))?,
                        true,
                    )
                }],
            )
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        Ok(Self {
            fake,
            channels,
            table,
            prefix,
            org,
        })
    }

    /// The project's environment as infra/template.yaml's Globals set it.
    pub(crate) fn project_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WECOM_API_BASE", self.fake.base.clone()),
            ("WECOM_NOTIFY_STORE", "dynamodb".into()),
            ("WECOM_NOTIFY_TABLE", self.table.clone()),
            ("WECOM_NOTIFY_SECRET_PREFIX", self.prefix.clone()),
            ("WECOM_NOTIFY_EGRESS_IPS", "203.0.113.10".into()),
            ("WECOM_NOTIFY_PUBLIC_URL", String::new()),
            ("WECOM_NOTIFY_KMS_KEY_ID", String::new()),
            ("WECOM_NOTIFY_DELIVERY_RETENTION_DAYS", "30".into()),
            ("WECOM_NOTIFY_SHARDS", SHARDS.to_string()),
            ("WECOM_NOTIFY_STACK", "wecom-notify".into()),
            ("WECOM_NOTIFY_JWT_ISSUER", "https://idp.example.com".into()),
            ("WECOM_NOTIFY_CONSOLE_CLIENT_ID", String::new()),
            ("RUST_LOG", "info".into()),
        ]
    }

    /// The event for one run of `kind`, and how to check the function's answer.
    pub(crate) async fn event(&self, kind: Kind, run: usize) -> Result<(String, Check), String> {
        Ok(match kind {
            Kind::Hello => (
                apigw_v2("GET", "/hello", "GET /hello", "", json!({}), None, None),
                http_check(|status, body| {
                    (status == 200 && body == "ok")
                        .then_some(())
                        .ok_or(format!("{status} {body:?}, expected 200 \"ok\""))
                }),
            ),
            Kind::Callback => {
                // A binding saved just before (a new member each run): its first verification.
                let member = format!("cold-cb-{run:02}");
                let rec = self
                    .channels
                    .save(
                        &member_key(&self.org, &member)?,
                        e2e::demo_app_update(SourceColumn::Phone, "13800000000"),
                    )
                    .await
                    .map_err(|e| format!("bind {member}: {e}"))?;
                let id = rec.callback_id.as_str().to_owned();
                let crypto = CallbackCrypto::new(TOKEN, shared::testing::ENCODING_AES_KEY, CORP)
                    .map_err(|e| format!("crypto: {e}"))?;
                let echo = format!("{}", rand::random::<u64>());
                let echostr = crypto.encrypt(&echo, &rand::random::<[u8; 16]>());
                let timestamp = unix_secs().to_string();
                let nonce = format!("{}", rand::random::<u32>());
                let signature = crypto.sign(&timestamp, &nonce, &echostr);
                let encoded = percent_encoding::utf8_percent_encode(
                    &echostr,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                let raw = format!(
                    "msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={encoded}"
                );
                let path = format!("/v1/wecom/callback/{id}");
                let event = apigw_v2(
                    "GET",
                    &path,
                    "GET /v1/wecom/callback/{id}",
                    &raw,
                    json!({"id": id}),
                    Some(json!({"msg_signature": signature, "timestamp": timestamp,
                        "nonce": nonce, "echostr": echostr})),
                    None,
                );
                (
                    event,
                    http_check(move |status, body| {
                        (status == 200 && body == echo)
                            .then_some(())
                            .ok_or(format!("{status} {body:?}, expected 200 {echo:?}"))
                    }),
                )
            }
            Kind::ChannelConfig => (
                admin_event("GET", "", None),
                http_check(|status, body| {
                    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                    (status == 200 && v["configured"] == true)
                        .then_some(())
                        .ok_or(format!(
                            "{status} {body}, expected 200 with \"configured\":true"
                        ))
                }),
            ),
            Kind::TestSend => (
                admin_event("POST", "/test", Some("{}")),
                http_check(|status, body| {
                    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                    (status == 200 && v["result"] == "successful")
                        .then_some(())
                        .ok_or(format!(
                            "{status} {body}, expected 200 with \"result\":\"successful\""
                        ))
                }),
            ),
            Kind::Dispatch => {
                let event_id = format!("cold-{}-{run:02}", rand::random::<u32>());
                let event = e2e::workflow_envelope(&event_id, ORG, &[DISPATCH_MEMBER]);
                (
                    event.to_string(),
                    Box::new(|answer: &str| {
                        let v: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
                        (v["outcomes"][0]["status"] == "delivered")
                            .then_some(())
                            .ok_or(format!("{answer}, expected one \"delivered\" outcome"))
                    }) as Check,
                )
            }
        })
    }
}

/// An API Gateway HTTP API (payload 2.0) event.
pub(crate) fn apigw_v2(
    method: &str,
    path: &str,
    route_key: &str,
    raw_query: &str,
    path_parameters: Value,
    query: Option<Value>,
    claims: Option<Value>,
) -> String {
    let mut ev = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "notify.example.com", "user-agent": "lambda-standin",
            "content-type": "application/json"},
        "pathParameters": path_parameters,
        "requestContext": {
            "routeKey": route_key,
            "accountId": "123456789012",
            "stage": "$default",
            "requestId": format!("{:016x}", rand::random::<u64>()),
            "apiId": "abc123",
            "domainName": "notify.example.com",
            "domainPrefix": "notify",
            "time": "30/Nov/2026:08:00:00 +0000",
            "timeEpoch": unix_ms() as u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "101.226.103.0", "userAgent": "lambda-standin"}
        },
        "isBase64Encoded": false
    });
    if let Some(q) = query {
        ev["queryStringParameters"] = q;
    }
    if let Some(c) = claims {
        ev["requestContext"]["authorizer"] = json!({"jwt": {"claims": c, "scopes": null}});
    }
    ev.to_string()
}

/// `…/members/zhangsan/wecom-channel{suffix}` as an admin of the org, through the JWT
/// authorizer.
pub(crate) fn admin_event(method: &str, suffix: &str, body: Option<&str>) -> String {
    let path = format!("/v1/orgs/{ORG}/members/{ADMIN_MEMBER}/wecom-channel{suffix}");
    let claims = json!({"sub": "u-bench", "org": ORG, "role": "admin",
        "exp": (unix_secs() + 3600).to_string(), "iss": "https://idp.example.com"});
    let mut ev: Value = serde_json::from_str(&apigw_v2(
        method,
        &path,
        &format!("{method} /v1/orgs/{{org}}/members/{{member}}/wecom-channel{suffix}"),
        "",
        json!({"org": ORG, "member": ADMIN_MEMBER}),
        None,
        Some(claims),
    ))
    .unwrap_or(Value::Null);
    ev["headers"]["authorization"] = json!("Bearer validated-by-api-gateway");
    if let Some(b) = body {
        ev["body"] = json!(b);
    }
    ev.to_string()
}

/// Checks an API Gateway v2 response (status and body text).
pub(crate) fn http_check(f: impl Fn(u16, &str) -> Result<(), String> + Send + 'static) -> Check {
    Box::new(move |answer: &str| {
        let v: Value =
            serde_json::from_str(answer).map_err(|e| format!("not JSON ({e}): {answer}"))?;
        let status = v["statusCode"].as_u64().unwrap_or(0) as u16;
        let raw = v["body"].as_str().unwrap_or_default();
        let body = if v["isBase64Encoded"] == true {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| format!("body not base64: {e}"))?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            raw.to_owned()
        };
        f(status, &body)
    })
}
