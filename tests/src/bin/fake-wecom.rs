//! The fake WeCom API as a server, to try wecom-notify without a WeCom account:
//!
//!   cargo run -p wecom-notify-tests --bin fake-wecom      # listens on 127.0.0.1:3100
//!   WECOM_API_BASE=http://127.0.0.1:3100 cargo run --release
//!
//! `fake-wecom --help` says what it serves, the demo company it starts with, where it listens
//! (FAKE_WECOM_LISTEN) and its control routes under /_fake/.

use std::process::ExitCode;

const DEFAULT_LISTEN: &str = "127.0.0.1:3100";

/// What `--help` prints; the demo company is read from the fake itself so the two cannot drift.
fn usage() -> String {
    let corp = e2e::fake::demo_corp();
    let app = &corp.apps[0];
    let members: Vec<String> = corp
        .members
        .iter()
        .map(|m| {
            let scope = if m.visible {
                ""
            } else {
                ", outside the app's visible scope"
            };
            format!(
                "    {} (phone {}, email {}{scope})",
                m.userid,
                m.mobile.as_deref().unwrap_or("-"),
                m.email.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    format!(
        "fake-wecom: a fake WeCom API on this machine, to try wecom-notify without a WeCom account.

Usage: fake-wecom [-h | --help]
  Without arguments it serves until Ctrl-C; point the local runner at it:
    WECOM_API_BASE=http://{DEFAULT_LISTEN} cargo run --release

Environment:
  FAKE_WECOM_LISTEN   the address:port to listen on (default {DEFAULT_LISTEN})

Serves WeCom's API under /cgi-bin/: gettoken, message/send, message/recall,
message/update_template_card, user/getuserid, user/get_userid_by_email.

Starts with one company, the demo corp:
  CorpID {corpid}  AgentId {agentid}  Secret {secret}
  members:
{members}

Control routes:
  GET  /_fake/state    calls per endpoint, messages, card updates, refused addresses
  POST /_fake/corp     a company: {{\"corpid\",\"apps\":[{{\"agentid\",\"secret\",\"trusted_ips\"}}],\"members\":[…]}}
                       an app's trusted_ips is its Trusted IP list: a call with its token from
                       any other address gets 60020 naming the address it came from
  POST /_fake/fault    {{\"endpoint\":\"message/send\",\"kind\":\"errcode\",\"errcode\":60020,\"times\":1}}
                       kinds: errcode, latency {{\"ms\"}}, drop, status {{\"status\"}}
  POST /_fake/reset/{{all|faults|tokens|response_codes}}
  POST /_fake/verify   {{\"url\",\"token\",\"encoding_aes_key\",\"corpid\"}}: WeCom's Save button on
                       \"API Receive Message\"; answers {{\"ok\",\"status\",\"body\"}}
  POST /_fake/click    {{\"task_id\",\"key\"[,\"userid\",\"times\"]}}: a member presses a card's button
",
        corpid = corp.corpid,
        agentid = app.agentid,
        secret = app.secret,
        members = members.join("\n"),
    )
}

/// Why the address cannot be listened on, in words a person acts on.
fn bind_failure(addr: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "address in use".to_owned(),
        std::io::ErrorKind::AddrNotAvailable => "not an address of this machine".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::InvalidInput => "not an address:port".to_owned(),
        _ => e.to_string(),
    };
    format!("fake-wecom: cannot listen on {addr}: {why}; set FAKE_WECOM_LISTEN=127.0.0.1:<port>")
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if let Some(arg) = args.next() {
        if matches!(arg.as_str(), "-h" | "--help") && args.next().is_none() {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        eprint!("fake-wecom: unexpected argument `{arg}`\n\n{}", usage());
        return ExitCode::from(2);
    }
    let addr = std::env::var("FAKE_WECOM_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.into());
    let fake = match e2e::fake::FakeWeCom::try_start_on(&addr).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}", bind_failure(&addr, &e));
            return ExitCode::FAILURE;
        }
    };
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
    println!("  more: fake-wecom --help");
    fake.state.add_corp(corp);
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
