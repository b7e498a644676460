//! The fake WeCom API as a server, to try wecom-notify without a WeCom account:
//!
//!   cargo run -p wecom-notify-tests --bin fake-wecom      # listens on 127.0.0.1:3100
//!   WECOM_API_BASE=http://127.0.0.1:3100 cargo run --release
//!
//! It starts with one company (CorpID ww0123456789abcdef, AgentId 1000002, Secret
//! demo-app-secret) and members zhangsan (13800000000, zhangsan@example.com) and lisi
//! (13900000000, lisi@example.com). Control: GET /_fake/state, POST /_fake/fault
//! {"endpoint":"message/send","kind":"errcode","errcode":60020,"times":1},
//! POST /_fake/corp {...} (an app's `"trusted_ips":["…"]` is its Trusted IP list: calls with its
//! token from any other address get 60020 naming the address), POST
//! /_fake/reset/{all|faults|tokens}, and what WeCom's Save
//! button on "API Receive Message" does: POST /_fake/verify
//! {"url":"<callback url>","token":"…","encoding_aes_key":"…","corpid":"…"}
//! → {"ok":true|false,"status":200,"body":"…"}.

#[tokio::main]
async fn main() {
    let addr = std::env::var("FAKE_WECOM_LISTEN").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let fake = e2e::fake::FakeWeCom::start_on(&addr).await;
    let corp = e2e::fake::demo_corp();
    println!("fake WeCom listening on {}", fake.base);
    println!(
        "  CorpID {}  AgentId {}  Secret {}",
        corp.corpid, corp.apps[0].agentid, corp.apps[0].secret
    );
    for m in &corp.members {
        println!(
            "  member {:<10} phone {:<12} email {}{}",
            m.userid,
            m.mobile.as_deref().unwrap_or("-"),
            m.email.as_deref().unwrap_or("-"),
            if m.visible {
                ""
            } else {
                "  (outside the app's visible scope)"
            }
        );
    }
    println!("  state: GET {}/_fake/state", fake.base);
    println!(
        "  press WeCom's Save: POST {}/_fake/verify {{\"url\",\"token\",\"encoding_aes_key\",\"corpid\"}}",
        fake.base
    );
    fake.state.add_corp(corp);
    let _ = tokio::signal::ctrl_c().await;
}
