//! A fake WeCom API server that behaves like the real one (docs/WECOM.md §4–6): the same paths,
//! query and body shapes, error codes and errmsg format. It is strict about what it accepts
//! (token in the query, `agentid` an integer, `touser` `|`-separated), issues tokens with
//! `expires_in`, knows members by userid, phone and email, silently drops messages over
//! WeCom's per-member rate, and can be told to fail: any errcode, latency, dropped
//! connections. It counts calls per endpoint so tests can assert economy.
//!
//! Tests drive it in process through [`FakeWeCom`]; the `fake-wecom` binary serves the same
//! thing with an HTTP control plane under `/_fake/` for trying the product by hand. Its
//! `/_fake/verify` presses WeCom's Save button on "API Receive Message": it verifies a
//! callback URL with a Token and EncodingAESKey as WeCom does ([`verify_callback`]).

mod cards;
mod click;
mod control;
mod errors;
mod gate;
mod lookup;
mod send;
mod state;
mod token;
mod verify;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};

pub use click::{CardEvent, ClickOutcome, ClickRequest, PUSH_ATTEMPTS, Push};
pub use errors::SEEN_IP;
pub use state::{
    App, BY_EMAIL, CardUpdate, Corp, FakeState, Fault, GETTOKEN, GETUSERID, Member, RECALL, SEND,
    Sent, UPDATE_CARD,
};
pub use verify::{VerifyOutcome, verify_callback};

pub fn router(st: FakeState) -> Router {
    Router::new()
        .route("/cgi-bin/gettoken", get(token::gettoken))
        .route("/cgi-bin/message/send", post(send::send))
        .route("/cgi-bin/user/getuserid", post(lookup::getuserid))
        .route("/cgi-bin/user/get_userid_by_email", post(lookup::by_email))
        .route("/cgi-bin/message/recall", post(send::recall))
        .route(
            "/cgi-bin/message/update_template_card",
            post(cards::update_card),
        )
        .route("/_fake/corp", post(control::ctl_corp))
        .route("/_fake/fault", post(control::ctl_fault))
        .route("/_fake/state", get(control::ctl_state))
        .route("/_fake/reset/{what}", post(control::ctl_reset))
        .route("/_fake/verify", post(verify::ctl_verify))
        .route("/_fake/click", post(click::ctl_click))
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            gate::trusted_ip,
        ))
        .with_state(st)
}

/// A fake WeCom listening on loopback, in this process.
pub struct FakeWeCom {
    pub state: FakeState,
    pub base: String,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FakeWeCom {
    /// On a free loopback port, for tests.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// On `addr`; a test that names an address it cannot have fails there.
    pub async fn start_on(addr: &str) -> Self {
        Self::try_start_on(addr)
            .await
            .unwrap_or_else(|e| panic!("bind the fake WeCom on {addr}: {e}"))
    }

    /// On `addr`, or why not (a port in use, an address that is not this machine's): the
    /// binary tells a person what to do instead of panicking.
    pub async fn try_start_on(addr: &str) -> std::io::Result<Self> {
        let state = FakeState::default();
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Ok(Self {
            state,
            base: format!("http://{addr}"),
            addr,
            task,
        })
    }
}

impl Drop for FakeWeCom {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo company the binary starts with, and tests use.
pub fn demo_corp() -> Corp {
    Corp {
        corpid: "ww0123456789abcdef".into(),
        apps: vec![App {
            agentid: 1000002,
            secret: "demo-app-secret".into(),
            trusted_ips: Vec::new(),
        }],
        members: vec![
            Member {
                userid: "zhangsan".into(),
                mobile: Some("13800000000".into()),
                email: Some("zhangsan@example.com".into()),
                personal_email: Some("zhangsan@qq.com".into()),
                visible: true,
            },
            Member {
                userid: "lisi".into(),
                mobile: Some("13900000000".into()),
                email: Some("lisi@example.com".into()),
                personal_email: None,
                visible: true,
            },
            Member {
                userid: "hidden".into(),
                mobile: Some("13700000000".into()),
                email: Some("hidden@example.com".into()),
                personal_email: None,
                visible: false,
            },
        ],
    }
}
