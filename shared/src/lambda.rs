//! Lambda hosting glue for the HTTP functions: what API Gateway puts into the request
//! becomes the same extensions the local runner provides.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use crate::auth::{Caller, Claims};
use crate::http::PublicBase;

/// Middleware: reads the JWT authorizer's claims and the public base URL from the API Gateway
/// HTTP API request context. `fixed_base` (`WECOM_NOTIFY_PUBLIC_URL`) wins when set.
pub async fn from_request_context(
    fixed_base: Option<String>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut caller = None;
    let mut base = fixed_base.map(PublicBase);
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        caller = ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| match Claims::from_authorizer(&jwt.claims) {
                Some(c) => Caller::Claims(c),
                None => Caller::Rejected(crate::i18n::Text::new("auth.missing_claims")),
            });
        if base.is_none()
            && let Some(domain) = ctx.domain_name.as_deref()
        {
            let stage = ctx.stage.as_deref().filter(|s| *s != "$default");
            base = Some(PublicBase(match stage {
                Some(s) => format!("https://{domain}/{s}"),
                None => format!("https://{domain}"),
            }));
        }
    }
    if let Some(c) = caller {
        req.extensions_mut().insert(c);
    }
    if let Some(b) = base {
        req.extensions_mut().insert(b);
    }
    next.run(req).await
}

/// What every function does first on Lambda: JSON logs, configuration (every bad variable at
/// once), and the deployed stores.
pub async fn start() -> Result<(crate::config::Config, crate::store::Stores), lambda_http::Error> {
    crate::telemetry::init(true);
    let cfg = crate::config::Config::from_env(true)?;
    let stores = crate::store::Stores::open(&cfg, false).await?;
    Ok((cfg, stores))
}

/// Serves an admin router on Lambda: the caller's claims and the public base URL come from the
/// API Gateway request context ([`from_request_context`]).
pub async fn serve_admin(
    router: axum::Router,
    cfg: &crate::config::Config,
) -> Result<(), lambda_http::Error> {
    let base = cfg.public_url.clone();
    let app = router
        .layer(axum::middleware::from_fn(move |req, next| {
            from_request_context(base.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn(crate::i18n::scope));
    lambda_http::run(app).await
}
