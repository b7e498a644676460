//! WeCom's error codes (docs/WECOM.md §5) as one typed enum, each with what to do about it.

use std::net::IpAddr;

use crate::i18n::Text;

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
    pub fn hint(&self, egress_ips: &[String]) -> Text {
        let key = match self {
            Self::SystemBusy => "hint.wecom.system_busy",
            Self::InvalidCredential => "hint.wecom.invalid_credential",
            Self::InvalidCorpId => "hint.wecom.invalid_corpid",
            Self::InvalidAccessToken | Self::AccessTokenExpired => "hint.wecom.token_invalidated",
            Self::AccessTokenMissing => "hint.wecom.token_missing",
            Self::FrequencyLimit => "hint.wecom.frequency_limit",
            Self::TooManyConcurrent => "hint.wecom.too_many_concurrent",
            Self::NoSuchUser => "hint.wecom.no_such_user",
            Self::ApiNotPermitted => "hint.wecom.api_not_permitted",
            Self::NoPermissionForMembers => "hint.wecom.out_of_scope",
            Self::IpNotTrusted { ip } => {
                let text = match ip {
                    Some(ip) => Text::new(if egress_ips.is_empty() {
                        "hint.wecom.ip_not_trusted.seen"
                    } else {
                        "hint.wecom.ip_not_trusted.seen.egress"
                    })
                    .arg("ip", ip),
                    None => Text::new(if egress_ips.is_empty() {
                        "hint.wecom.ip_not_trusted"
                    } else {
                        "hint.wecom.ip_not_trusted.egress"
                    }),
                };
                return if egress_ips.is_empty() {
                    text
                } else {
                    text.arg("egress", egress_ips.join(", "))
                };
            }
            Self::UserIdNotFound => "hint.wecom.userid_not_found",
            Self::AllRecipientsInvalid => "hint.wecom.all_recipients_invalid",
            Self::NoRecipients => "hint.wecom.no_recipients",
            Self::AgentSecretMismatch => "hint.wecom.agent_secret_mismatch",
            Self::Other(code) => return Text::new("hint.wecom.other").arg("code", code),
        };
        Text::new(key)
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
            let hint = e.hint(&[]).to_string();
            assert!(
                hint.len() > 20 && !hint.starts_with("hint."),
                "{code}: {hint}"
            );
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
        let h = e
            .hint(&["198.51.100.1".into(), "198.51.100.2".into()])
            .to_string();
        assert!(
            h.contains("203.0.113.7") && h.contains("198.51.100.1, 198.51.100.2"),
            "{h}"
        );
        let h = ErrCode::from_response(60020, "no ip here")
            .hint(&[])
            .to_string();
        assert!(h.contains("Trusted IP"), "{h}");
    }
}
