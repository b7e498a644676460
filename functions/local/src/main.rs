//! The all-in-one local runner: every function's router behind one listener, the embedded
//! store by default, HS256 bearer tokens. The only place that composes functions.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::get;
use shared::auth::{Claims, LocalJwt};
use shared::config::Config;
use shared::http::{PublicBase, method_not_allowed, not_found_fallback, routes};
use shared::store::Stores;

#[derive(Debug, thiserror::Error)]
enum LocalError {
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    #[error("could not open the store: {0}")]
    Store(#[from] shared::store::StoreError),
    #[error("{0}")]
    Io(String),
    #[error("could not issue the admin token: {0}")]
    Token(#[from] jsonwebtoken::errors::Error),
    #[error("could not set up the WeCom client: {0}")]
    WeCom(#[from] shared::wecom::WeComError),
}

mod events;

/// How often delayed and retried deliveries are looked for (on AWS: a one-minute schedule).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// How long the printed demo token is valid.
const DEMO_TOKEN_DAYS: i64 = 30;

#[tokio::main]
async fn main() {
    shared::telemetry::init(false);
    if let Err(e) = run().await {
        eprintln!("wecom-notify: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), LocalError> {
    let cfg = Config::from_env(false)?;
    let stores = Stores::open(&cfg, true).await?;
    // Without a configured secret, the data directory's own one signs and checks tokens.
    let generated = cfg.jwt_secret.is_none();
    let jwt = match &cfg.jwt_secret {
        Some(s) => LocalJwt::new(secrecy::ExposeSecret::expose_secret(s).as_bytes()),
        None => LocalJwt::new(&data_dir_secret(&cfg.data_dir)?),
    };
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    let egress_ips: Vec<String> = cfg.egress_ip_strings();
    let base = PublicBase(
        cfg.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", cfg.listen)),
    );

    let wecom = shared::wecom::WeComClient::new(&cfg.wecom_api_base)?;
    // One budget of unproven credential checks per org, across tests, probes and sends.
    let tokens = Arc::new(
        shared::wecom::TokenCache::new(stores.tokens.clone()).with_budget(stores.pace.clone()),
    );
    // Locally, decisions on cards are listed by /actions and, if asked, POSTed to a webhook.
    // The callback records each decision and tries to publish it; the dispatcher's sweep
    // finishes the rest and answers the card, as on AWS.
    let sink = shared::sink::from_config(&cfg).map_err(LocalError::Io)?;
    let clicks = callback::Clicks::new(
        stores.deliveries.clone(),
        shared::workflow::Outbox::new(stores.actions.clone(), sink.clone()),
        cfg.delivery_retention_days,
    );
    let dispatcher = Arc::new(dispatch::Dispatcher::new(
        &cfg,
        &stores,
        channels.clone(),
        wecom.clone(),
        tokens.clone(),
        sink.clone(),
    ));
    tokio::spawn(events::sweep_forever(dispatcher.clone(), SWEEP_EVERY));
    let admin = channel_config::router(channel_config::AppState {
        channels: channels.clone(),
        subscriptions: stores.subscriptions.clone(),
        deliveries: stores.deliveries.clone(),
        actions: stores.actions.clone(),
        egress_ips: egress_ips.clone(),
    })
    .merge(test_send::router(test_send::AppState {
        channels: channels.clone(),
        wecom,
        tokens,
        pace: stores.pace.clone(),
        deliveries: stores.deliveries.clone(),
        egress_ips,
    }))
    .merge(events::router(dispatcher))
    .layer(from_fn({
        let jwt = jwt.clone();
        move |req, next| jwt.clone().layer(req, next)
    }));
    let app = Router::new()
        .route(
            routes::HEALTHZ,
            get(|| async { "ok" }).fallback(method_not_allowed),
        )
        // The OpenAPI document is public too.
        .merge(channel_config::openapi_router())
        // The console page is public, like /healthz: it holds no data and reads the API with
        // the token it is given.
        .merge(channel_config::console_router(
            channel_config::ConsoleConfig::from_config(&cfg),
        ))
        .merge(admin)
        .merge(callback::router(
            callback::AppState::new(channels).with_clicks(clicks),
        ))
        .fallback(not_found_fallback)
        .layer(axum::Extension(base.clone()))
        .layer(from_fn(shared::i18n::scope));

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| LocalError::Io(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LocalError::Io(e.to_string()))?;
    println!("wecom-notify local runner");
    println!("  listening on  http://{addr}");
    println!("  store         {}", cfg.store_label());
    println!("  callback base {}", base.0);
    println!("  WeCom API     {}", cfg.wecom_api_base);
    println!("  card actions  {}", sink.describe());
    if generated {
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + DEMO_TOKEN_DAYS * 86_400;
        let token = jwt.issue(&Claims {
            sub: "local-admin".into(),
            org: "demo".into(),
            role: "admin".into(),
            exp,
        })?;
        println!("  admin token for org `demo` (valid {DEMO_TOKEN_DAYS} days):");
        println!("  {token}");
        if cfg.jwt_issuer.is_some() && cfg.console_client_id.is_some() {
            // With single sign-on configured the console ignores a token in a link.
            println!("  console       http://{addr}/console (single sign-on, or paste the token)");
        } else {
            // The token rides in the fragment, which the browser never sends to a server.
            println!("  console       http://{addr}/console#token={token}");
        }
    } else {
        println!("  bearer tokens: HS256 with WECOM_NOTIFY_JWT_SECRET");
        println!("  console       http://{addr}/console (paste a token)");
    }
    let _ = std::io::stdout().flush();

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| LocalError::Io(e.to_string()))
}

/// The HS256 secret of this data directory, created (mode 0600) on first start so tokens
/// survive restarts.
fn data_dir_secret(dir: &Path) -> Result<Vec<u8>, LocalError> {
    let path = dir.join("jwt-secret");
    let io = |e: std::io::Error| LocalError::Io(format!("{}: {e}", path.display()));
    match std::fs::read(&path) {
        Ok(b) if b.len() >= 32 => return Ok(b),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let secret: [u8; 32] = rand::random();
    let text = hex::encode(secret);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io)?;
    Ok(text.into_bytes())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
