//! `cargo run --release`: the all-in-one local runner (see the crate's library), or, with
//! `token --org <org>`, an admin token of any org signed with this data directory's key, or,
//! with `backup DIR` and `restore DIR`, a backup of the data directory and its restoring.

use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::get;
use shared::config::{Config, StoreKind};
use shared::http::{PublicBase, method_not_allowed, not_found_fallback, routes};
use shared::store::Stores;
use shared::store::embedded::EmbeddedDb;
use shared::store::secret_file::SecretFile;
use wecom_notify_local::backup::{self, BackupError};
use wecom_notify_local::oidc::OidcVerifier;
use wecom_notify_local::token::{self, DEFAULT_DAYS, DEMO_ORG, TokenError, USAGE_TOKEN};
use wecom_notify_local::{events, healthz, metrics, openapi};

#[derive(Debug, thiserror::Error)]
enum LocalError {
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    #[error("could not open the store: {0}")]
    Store(#[from] shared::store::StoreError),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("could not set up the WeCom client: {0}")]
    WeCom(#[from] shared::wecom::WeComError),
    #[error("WECOM_NOTIFY_JWT_ISSUER: {0}")]
    Oidc(#[from] wecom_notify_local::oidc::OidcError),
}

/// How often delayed and retried deliveries are looked for (on AWS: a one-minute schedule).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

const HELP: &str = "\
wecom-notify local runner: every function behind one listener, embedded store.

usage:
  wecom-notify-local            serve (127.0.0.1:3000; prints an admin token for org `demo`,
                                unless WECOM_NOTIFY_JWT_ISSUER names your OpenID provider)
  wecom-notify-local token --org <org> [--days <1-3650, default 30>]
                                print an admin token of <org>, signed with this data
                                directory's key (the running runner accepts it);
                                refused with WECOM_NOTIFY_JWT_ISSUER: tokens then come
                                from that OpenID provider
  wecom-notify-local backup DIR [--force]
                                copy the store, the secret file and the token key into
                                DIR (created 0700; files 0600; manifest.json with
                                checksums); asks the running runner, if there is one.
                                A DIR that holds a backup is refused unless --force
  wecom-notify-local restore DIR [--force]
                                check DIR's backup and put it into the data directory,
                                which must be empty (unless --force) and not in use
  wecom-notify-local --help     this text

With cargo: `cargo run --release` and `cargo run -q --release -- token --org acme`.
Settings come from the environment (WECOM_NOTIFY_LISTEN, WECOM_NOTIFY_DATA_DIR,
WECOM_API_BASE, …): see docs/OPERATIONS.md, Configuration.";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let done = match args.first().map(String::as_str) {
        Some("--help" | "-h" | "help") => {
            println!("{HELP}");
            Ok(())
        }
        Some("token") => print_token(&args[1..]),
        Some(cmd @ ("backup" | "restore")) => backup_or_restore(cmd, &args[1..]),
        Some(other) => Err(LocalError::Io(format!(
            "unknown argument {other:?}; usage:\n  wecom-notify-local\n  {USAGE_TOKEN}\n  \
             {USAGE_BACKUP}\n  wecom-notify-local --help"
        ))),
        None => {
            shared::telemetry::init(false);
            run().await
        }
    };
    if let Err(e) = done {
        eprintln!("wecom-notify: {e}");
        std::process::exit(1);
    }
}

/// `token --org <org> [--days <n>]`: the token alone on stdout, for `T=$(…)`.
fn print_token(args: &[String]) -> Result<(), LocalError> {
    let (org, days) = token::parse_args(args)?;
    let cfg = Config::from_env(false)?;
    if let Some(issuer) = &cfg.jwt_issuer {
        return Err(LocalError::Io(format!(
            "this server takes only the access tokens of WECOM_NOTIFY_JWT_ISSUER ({issuer}): \
             sign in to the console, or ask that provider for a token; none is signed here"
        )));
    }
    let t = token::issue(&token::signer(&cfg)?, &org, days)?;
    println!("{t}");
    Ok(())
}

const USAGE_BACKUP: &str = "wecom-notify-local backup|restore DIR [--force]";

/// `backup DIR [--force]` and `restore DIR [--force]`: one line on success, names and sizes
/// only (a backup holds secrets; none is printed).
fn backup_or_restore(cmd: &str, args: &[String]) -> Result<(), LocalError> {
    let usage = || LocalError::Io(format!("usage: {USAGE_BACKUP}"));
    let (mut dir, mut force) = (None, false);
    for a in args {
        match a.as_str() {
            "--force" => force = true,
            a if a.starts_with('-') || dir.is_some() => return Err(usage()),
            a => dir = Some(std::path::PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or_else(usage)?;
    let cfg = Config::from_env(false)?;
    if !matches!(cfg.store, StoreKind::Embedded) {
        return Err(LocalError::Io(format!(
            "{cmd} is for the embedded store; with DynamoDB use its own backups"
        )));
    }
    if cmd == "backup" {
        let (m, by) = backup::backup(&cfg.data_dir, &dir, force)?;
        let by = match by {
            backup::TakenBy::Runner => "taken by the running runner",
            backup::TakenBy::Itself => "taken from the data directory; no runner running",
        };
        println!(
            "backup written to {}: {} ({by})",
            dir.display(),
            m.summary()
        );
    } else {
        let m = backup::restore(&dir, &cfg.data_dir, force)?;
        println!(
            "restored into {} from {}: {}",
            cfg.data_dir.display(),
            dir.display(),
            m.summary()
        );
    }
    Ok(())
}

async fn run() -> Result<(), LocalError> {
    let cfg = Config::from_env(false)?;
    // Bound before anything else starts, so a taken address stops the runner at once.
    // The recorder is installed only with a listener: otherwise every metric is a no-op.
    let metrics_listener = match cfg.metrics_listen {
        Some(addr) => {
            let l = metrics::bind(addr).await.map_err(LocalError::Io)?;
            Some((l, metrics::install().map_err(LocalError::Io)?))
        }
        None => None,
    };
    // The embedded store is opened here, not by Stores::open, so the backup socket can read
    // it: redb lets one process open it, and `backup DIR` asks this one.
    let (stores, _socket) = match cfg.store {
        StoreKind::Embedded => {
            let db = Arc::new(EmbeddedDb::open(&cfg.data_dir)?);
            let secrets = Arc::new(SecretFile::open(&cfg.data_dir)?);
            let stores = Stores::of(db.clone(), secrets.clone());
            // Without the socket the runner still serves; `backup` then asks it to stop.
            let socket = backup::serve(backup::Source::Running {
                db,
                secrets,
                data_dir: cfg.data_dir.clone(),
            })
            .inspect_err(|e| tracing::warn!(error = %e, "no backups while running"))
            .ok();
            (stores, socket)
        }
        StoreKind::DynamoDb => (Stores::open(&cfg, true).await?, None),
    };
    // With an issuer, its access tokens are the only way in (no key of our own is made);
    // otherwise the configured secret, or the data directory's own, signs and checks them.
    let auth = match (&cfg.jwt_issuer, &cfg.jwt_audience) {
        (Some(issuer), Some(audience)) => {
            let v = Arc::new(OidcVerifier::new(issuer, audience)?);
            let warm = v.clone();
            tokio::spawn(async move {
                match warm.warm_up().await {
                    Ok(n) => {
                        tracing::info!(issuer = %warm.issuer(), keys = n, "the issuer's signing keys are loaded")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the issuer's keys could not be loaded yet; each token tries again")
                    }
                }
            });
            Auth::Oidc(v)
        }
        _ => Auth::Local(token::signer(&cfg)?),
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
        shared::sink::Outbox::new(stores.actions.clone(), sink.clone()),
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
    let auditor = shared::http::audit::Auditor::new(stores.audit.clone(), cfg.audit_retention_days);
    let admin = channel_config::router(channel_config::AppState {
        channels: channels.clone(),
        subscriptions: stores.subscriptions.clone(),
        deliveries: stores.deliveries.clone(),
        actions: stores.actions.clone(),
        stats: stores.stats.clone(),
        audit: auditor.clone(),
        egress_ips: egress_ips.clone(),
    })
    .merge(test_send::router(test_send::AppState {
        channels: channels.clone(),
        wecom,
        tokens,
        pace: stores.pace.clone(),
        deliveries: stores.deliveries.clone(),
        egress_ips,
        audit: auditor,
    }))
    .merge(events::router(dispatcher))
    .layer(from_fn({
        let auth = auth.clone();
        move |req, next| {
            let auth = auth.clone();
            async move {
                match auth {
                    Auth::Local(jwt) => jwt.layer(req, next).await,
                    Auth::Oidc(v) => v.layer(req, next).await,
                }
            }
        }
    }));
    let app = Router::new()
        .route(routes::HEALTHZ, get(healthz).fallback(method_not_allowed))
        // The OpenAPI document is public too: composed here, from every function's part.
        .merge(channel_config::openapi_router(Box::leak(
            openapi::document_text().into_boxed_str(),
        )))
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
        .layer(from_fn(metrics::track))
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
    match &auth {
        Auth::Oidc(v) => {
            println!(
                "  sign-in       OpenID Connect: {} (audience {})",
                v.issuer(),
                v.audience()
            );
            if cfg.console_client_id.is_some() {
                println!("  console       {}/console (single sign-on)", base.0);
            } else {
                println!(
                    "  console       {}/console (paste an access token; set WECOM_NOTIFY_CONSOLE_CLIENT_ID for single sign-on)",
                    base.0
                );
            }
        }
        Auth::Local(jwt) if cfg.jwt_secret.is_none() => {
            let token = token::issue(jwt, DEMO_ORG, DEFAULT_DAYS)?;
            println!("  admin token for org `{DEMO_ORG}` (valid {DEFAULT_DAYS} days):");
            println!("  {token}");
            // The token rides in the fragment, which the browser never sends to a server.
            println!("  console       http://{addr}/console#token={token}");
            println!("  another org   cargo run -q --release -- token --org <org>");
        }
        Auth::Local(_) => {
            println!("  bearer tokens: HS256 with WECOM_NOTIFY_JWT_SECRET");
            println!("  console       http://{addr}/console (paste a token)");
            println!("  another org   cargo run -q --release -- token --org <org>");
        }
    }
    if let Some((l, handle)) = metrics_listener {
        let at = l.local_addr().map_err(|e| LocalError::Io(e.to_string()))?;
        println!("  metrics       http://{at}/metrics");
        tokio::spawn(metrics::serve(l, handle));
    }
    let _ = std::io::stdout().flush();

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| LocalError::Io(e.to_string()))
}

/// How bearer tokens are checked: the runner's own HS256 tokens, or the issuer's.
#[derive(Clone)]
enum Auth {
    Local(shared::auth::LocalJwt),
    Oidc(Arc<OidcVerifier>),
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
