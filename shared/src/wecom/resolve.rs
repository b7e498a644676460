//! Receiver → WeCom userid (docs/API.md §9): login names are userids already; phones and emails
//! are looked up once, then cached on the binding by the caller.

use super::app::WeComApp;
use super::client::WeComError;
use super::errcode::ErrCode;
use crate::domain::Receiver;

/// Whether resolving `receiver` needs a WeCom call at all.
pub fn needs_lookup(receiver: &Receiver) -> bool {
    !matches!(receiver, Receiver::LoginName(_))
}

/// Looks the receiver up: phone through `getuserid`, email as a corporate address first and
/// a personal one second.
pub async fn resolve_userid(app: &WeComApp<'_>, receiver: &Receiver) -> Result<String, WeComError> {
    match receiver {
        Receiver::LoginName(u) => Ok(u.clone()),
        Receiver::Phone(p) => app.userid_by_mobile(p).await,
        Receiver::Email(e) => match app.userid_by_email(e, 1).await {
            Err(err) if err.errcode() == Some(&ErrCode::NoSuchUser) => {
                app.userid_by_email(e, 2).await
            }
            other => other,
        },
    }
}
