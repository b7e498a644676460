//! Admin tokens of the local runner: HS256, signed with the data directory's key (or with
//! `WECOM_NOTIFY_JWT_SECRET`). The runner prints one for org `demo` at each start;
//! `wecom-notify-local token --org <org> [--days <n>]` prints one for any org.

use std::io::Write;
use std::path::Path;

use shared::auth::{Claims, LocalJwt};
use shared::config::Config;

/// How long a printed token is valid unless asked otherwise.
pub const DEFAULT_DAYS: i64 = 30;

/// The org whose token the runner prints at start.
pub const DEMO_ORG: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
    #[error("could not issue the admin token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The signer of this runner's tokens: the configured secret, else the data directory's own
/// (created on first use).
pub fn signer(cfg: &Config) -> Result<LocalJwt, TokenError> {
    Ok(match &cfg.jwt_secret {
        Some(s) => LocalJwt::new(secrecy::ExposeSecret::expose_secret(s).as_bytes()),
        None => LocalJwt::new(&data_dir_secret(&cfg.data_dir)?),
    })
}

/// An admin token of `org`, valid `days` days.
pub fn issue(jwt: &LocalJwt, org: &str, days: i64) -> Result<String, TokenError> {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + days * 86_400;
    Ok(jwt.issue(&Claims {
        sub: "local-admin".into(),
        org: org.into(),
        role: "admin".into(),
        exp,
    })?)
}

/// `token --org <org> [--days <n>]`: the org and the days, checked.
pub fn parse_args(args: &[String]) -> Result<(String, i64), TokenError> {
    let usage = || TokenError::Usage(format!("usage: {}", USAGE_TOKEN));
    let (mut org, mut days) = (None, DEFAULT_DAYS);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--org" => org = Some(it.next().ok_or_else(usage)?.clone()),
            "--days" => {
                days = it
                    .next()
                    .and_then(|d| d.parse().ok())
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| TokenError::Usage("--days takes 1 to 3650".into()))?;
            }
            _ => return Err(usage()),
        }
    }
    let org = org.ok_or_else(usage)?;
    shared::domain::OrgId::parse(&org)
        .map_err(|e| TokenError::Usage(format!("--org {org:?}: {}", e.message)))?;
    Ok((org, days))
}

pub const USAGE_TOKEN: &str = "wecom-notify-local token --org <org> [--days <1-3650, default 30>]";

/// The HS256 secret of this data directory, created (mode 0600) on first start so tokens
/// survive restarts.
pub fn data_dir_secret(dir: &Path) -> Result<Vec<u8>, TokenError> {
    let path = dir.join("jwt-secret");
    let io = |e: std::io::Error| TokenError::Io(format!("{}: {e}", path.display()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_token_for_any_org_is_signed_with_the_data_directorys_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jwt = LocalJwt::new(&data_dir_secret(dir.path()).expect("secret"));
        let (org, days) = parse_args(&args(&["--org", "acme", "--days", "2"])).expect("args");
        let t = issue(&jwt, &org, days).expect("token");
        let claims = jwt.verify(&t).expect("valid");
        assert_eq!(
            (claims.org.as_str(), claims.role.as_str()),
            ("acme", "admin")
        );
        // The same directory signs the same way after a restart.
        let again = LocalJwt::new(&data_dir_secret(dir.path()).expect("secret"));
        assert!(again.verify(&t).is_ok());
        for bad in [
            &["--org"][..],
            &["--days", "3"],
            &["--org", "a b"],
            &["--org", "x", "--days", "0"],
            &["-x"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
