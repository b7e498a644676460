//! What configuration says about URLs: which are loopback, and how one is named in errors and
//! logs.

use std::net::IpAddr;

/// `http://` to this machine only: a fake WeCom in tests, never the real one in the clear.
/// The host is the URL's as a client reads it (`http://127.0.0.1:80@evil.example` is not
/// loopback).
pub fn is_loopback_http(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http" && is_loopback_host(&u))
}

pub(super) fn is_loopback_host(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A URL as errors and logs may show it: scheme, host and port. Never its user, path or
/// query: a webhook's may carry a token.
pub(crate) fn url_named(u: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        u.scheme(),
        u.host_str().unwrap_or(""),
        u.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}
