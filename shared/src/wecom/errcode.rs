//! WeCom's error codes (docs/WECOM.md §5) as one typed enum, each with what to do about it.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrCode {
    /// -1: system busy.
    SystemBusy,
    /// 40001: invalid secret / credential.
    InvalidCredential,
    /// 40013: invalid CorpID.
    InvalidCorpId,
    /// 40014: access token invalid (expired tokens come back as this too).
    InvalidAccessToken,
    /// 41001: access token missing.
    AccessTokenMissing,
    /// 42001: access token expired.
    AccessTokenExpired,
    /// 45009: API frequency limit.
    FrequencyLimit,
    /// 45033: too many concurrent calls.
    TooManyConcurrent,
    /// 46004: no such user (lookup by phone/email, or outside the visible scope).
    NoSuchUser,
    /// 48002: API not permitted for this app.
    ApiNotPermitted,
    /// 60011: no permission for these members.
    NoPermissionForMembers,
    /// 60020: caller IP not on the Trusted IP list; the IP WeCom saw, when it said.
    IpNotTrusted {
        ip: Option<IpAddr>,
    },
    /// 60111: userid not found.
    UserIdNotFound,
    /// 81013: user, party and tag all invalid.
    AllRecipientsInvalid,
    /// 82001: no recipients.
    NoRecipients,
    /// 301002: agentid does not match the secret.
    AgentSecretMismatch,
    Other(i64),
}

/// What kind of problem a code is, which decides retrying and who must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Retry with backoff.
    Transient,
    /// Refresh the access token and retry once.
    Token,
    /// The channel's configuration is wrong: the admin must change it.
    Config,
    /// The receiver cannot be found or reached.
    Receiver,
    /// We sent something WeCom did not expect.
    Bug,
}

impl ErrCode {
    /// `errmsg` is used for 60020's IP.
    pub fn from_response(code: i64, errmsg: &str) -> Self {
        match code {
            -1 => Self::SystemBusy,
            40001 => Self::InvalidCredential,
            40013 => Self::InvalidCorpId,
            40014 => Self::InvalidAccessToken,
            41001 => Self::AccessTokenMissing,
            42001 => Self::AccessTokenExpired,
            45009 => Self::FrequencyLimit,
            45033 => Self::TooManyConcurrent,
            46004 => Self::NoSuchUser,
            48002 => Self::ApiNotPermitted,
            60011 => Self::NoPermissionForMembers,
            60020 => Self::IpNotTrusted {
                ip: ip_from_errmsg(errmsg),
            },
            60111 => Self::UserIdNotFound,
            81013 => Self::AllRecipientsInvalid,
            82001 => Self::NoRecipients,
            301002 => Self::AgentSecretMismatch,
            other => Self::Other(other),
        }
    }

    pub fn code(&self) -> i64 {
        match self {
            Self::SystemBusy => -1,
            Self::InvalidCredential => 40001,
            Self::InvalidCorpId => 40013,
            Self::InvalidAccessToken => 40014,
            Self::AccessTokenMissing => 41001,
            Self::AccessTokenExpired => 42001,
            Self::FrequencyLimit => 45009,
            Self::TooManyConcurrent => 45033,
            Self::NoSuchUser => 46004,
            Self::ApiNotPermitted => 48002,
            Self::NoPermissionForMembers => 60011,
            Self::IpNotTrusted { .. } => 60020,
            Self::UserIdNotFound => 60111,
            Self::AllRecipientsInvalid => 81013,
            Self::NoRecipients => 82001,
            Self::AgentSecretMismatch => 301002,
            Self::Other(c) => *c,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Self::SystemBusy | Self::FrequencyLimit | Self::TooManyConcurrent => Kind::Transient,
            Self::InvalidAccessToken | Self::AccessTokenExpired => Kind::Token,
            Self::InvalidCredential
            | Self::InvalidCorpId
            | Self::ApiNotPermitted
            | Self::NoPermissionForMembers
            | Self::IpNotTrusted { .. }
            | Self::AgentSecretMismatch => Kind::Config,
            Self::NoSuchUser | Self::UserIdNotFound | Self::AllRecipientsInvalid => Kind::Receiver,
            Self::AccessTokenMissing | Self::NoRecipients | Self::Other(_) => Kind::Bug,
        }
    }

    /// True for codes that say the app's credentials are wrong: repeating the call cannot help,
    /// and WeCom blocks an IP that repeats wrong secrets.
    pub fn refuses_credentials(&self) -> bool {
        matches!(
            self,
            Self::InvalidCredential | Self::InvalidCorpId | Self::AgentSecretMismatch
        )
    }

    /// True for codes after which the cached userid of the receiver is no longer trusted.
    pub fn invalidates_receiver(&self) -> bool {
        matches!(
            self,
            Self::NoSuchUser | Self::UserIdNotFound | Self::AllRecipientsInvalid
        )
    }

    /// What the admin should do, in their terms. `egress_ips` are this deployment's
    /// addresses as WeCom sees them (`WECOM_NOTIFY_EGRESS_IPS`).
    pub fn hint(&self, egress_ips: &[String]) -> String {
        match self {
            Self::SystemBusy => "WeCom was busy. It was retried; try again in a minute.".into(),
            Self::InvalidCredential => "WeCom rejected the app Secret (it was reset, the app is disabled, or it belongs to another company). Copy the Secret again from WeCom admin > Apps > your app > Secret and save it here.".into(),
            Self::InvalidCorpId => "WeCom does not know this CorpID. Copy it from WeCom admin > My Company > Company Info > CorpID.".into(),
            Self::InvalidAccessToken | Self::AccessTokenExpired => "WeCom invalidated the access token; a new one was fetched. If this repeats, the app's Secret was probably reset: copy it again.".into(),
            Self::AccessTokenMissing => "The request reached WeCom without an access token; this is a bug in wecom-notify, please report it.".into(),
            Self::FrequencyLimit => "WeCom's API frequency limit was hit. Wait a minute and try again; deliveries are paced and retried automatically.".into(),
            Self::TooManyConcurrent => "Too many concurrent calls to WeCom. Try again shortly; dispatch retries on its own.".into(),
            Self::NoSuchUser => "WeCom found no member with this phone number or email, or the member is outside the app's visible scope. Check the receiver, and add the member to the app's visible scope (WeCom admin > Apps > your app > Visible to).".into(),
            Self::ApiNotPermitted => "This app is not allowed to call this WeCom API. Use a self-built app, and check its API permissions in WeCom admin.".into(),
            Self::NoPermissionForMembers => "The member is outside the app's visible scope. Add them under WeCom admin > Apps > your app > Visible to.".into(),
            Self::IpNotTrusted { ip } => {
                let seen = ip.map(|ip| ip.to_string());
                let ours = if egress_ips.is_empty() {
                    String::new()
                } else {
                    format!(" This deployment's egress IPs are {}.", egress_ips.join(", "))
                };
                match seen {
                    Some(ip) => format!("Add {ip} to the app's Trusted IP list (WeCom admin > Apps > your app > Trusted IP); it takes about a minute to apply.{ours}"),
                    None => format!("Add this deployment's egress IP to the app's Trusted IP list (WeCom admin > Apps > your app > Trusted IP); it takes about a minute to apply.{ours}"),
                }
            }
            Self::UserIdNotFound => "WeCom has no member with this userid. Check the login name, or use the phone number as source column: it is the most reliable.".into(),
            Self::AllRecipientsInvalid => "WeCom could not deliver to this member: the userid is unknown or outside the app's visible scope. Check the source column and receiver (phone is the most reliable), and that the member is in the app's visible scope.".into(),
            Self::NoRecipients => "The message had no recipient; this is a bug in wecom-notify, please report it.".into(),
            Self::AgentSecretMismatch => "The AgentId does not belong to this Secret. Copy the AgentId and Secret from the same app (WeCom admin > Apps > your app).".into(),
            Self::Other(code) => format!("WeCom answered errcode {code}; look it up at https://open.work.weixin.qq.com/devtool/query?e={code}."),
        }
    }
}

/// The IP in a 60020 errmsg (`…, from ip: 139.227.20.128, more info at …`). WeCom may leave
/// it out or empty, so anything that is not an IP yields `None`.
pub fn ip_from_errmsg(errmsg: &str) -> Option<IpAddr> {
    let rest = &errmsg[errmsg.find("from ip:")? + "from ip:".len()..];
    let candidate: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '.' || *c == ':')
        .collect();
    candidate.trim_end_matches(':').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_is_parsed_defensively() {
        let msg = "not allow to access from your ip, hint: [1680743372339601936772701], from ip: 139.227.20.128, more info at https://open.work.weixin.qq.com/devtool/query?e=60020";
        assert_eq!(ip_from_errmsg(msg), "139.227.20.128".parse().ok());
        assert_eq!(
            ip_from_errmsg("from ip: 2001:db8::1, more"),
            "2001:db8::1".parse().ok()
        );
        for bad in [
            "not allow to access from your ip",
            "from ip: , more",
            "from ip:",
            "from ip: 999.1.1.1",
            "",
        ] {
            assert_eq!(ip_from_errmsg(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_documented_code_round_trips_and_has_a_hint() {
        for code in [
            -1, 40001, 40013, 40014, 41001, 42001, 45009, 45033, 46004, 48002, 60011, 60020, 60111,
            81013, 82001, 301002,
        ] {
            let e = ErrCode::from_response(code, "");
            assert_eq!(e.code(), code);
            assert!(!matches!(e, ErrCode::Other(_)), "{code} is typed");
            assert!(e.hint(&[]).len() > 20, "{code}");
        }
        assert_eq!(ErrCode::from_response(12345, "").kind(), Kind::Bug);
    }

    #[test]
    fn kinds_decide_handling() {
        assert_eq!(ErrCode::SystemBusy.kind(), Kind::Transient);
        assert_eq!(ErrCode::FrequencyLimit.kind(), Kind::Transient);
        assert_eq!(ErrCode::TooManyConcurrent.kind(), Kind::Transient);
        assert_eq!(ErrCode::InvalidAccessToken.kind(), Kind::Token);
        assert_eq!(ErrCode::AccessTokenExpired.kind(), Kind::Token);
        assert_eq!(ErrCode::InvalidCredential.kind(), Kind::Config);
        assert_eq!(ErrCode::AllRecipientsInvalid.kind(), Kind::Receiver);
    }

    #[test]
    fn trusted_ip_hint_names_both_ips() {
        let e = ErrCode::from_response(60020, "x, from ip: 203.0.113.7, more info");
        let h = e.hint(&["198.51.100.1".into(), "198.51.100.2".into()]);
        assert!(
            h.contains("203.0.113.7") && h.contains("198.51.100.1, 198.51.100.2"),
            "{h}"
        );
        let h = ErrCode::from_response(60020, "no ip here").hint(&[]);
        assert!(h.contains("Trusted IP"), "{h}");
    }
}
