//! Sending a fenced message (one `message/send` per app, message and batch of recipients),
//! and settling what it did for each of its deliveries.

use shared::wecom::{
    AppCredentials, ErrCode, MessageBody, OutgoingMessage, SendReceipt, WeComApp, WeComError,
};

use crate::fence::Fenced;
use crate::prepare::Ready;
use crate::record::Change;
use crate::{CrashPoint, DispatchError, Dispatcher};

/// WeCom refused a `template_card` for its content (42015–42051, docs/WECOM.md §7), which
/// no retry changes. 42014 (task_id exists) is not one: the card went out before.
fn card_refused(e: &WeComError) -> bool {
    e.errcode()
        .is_some_and(|c| (42015..=42051).contains(&c.code()))
}

/// WeCom's "task_id exists" (42014) for a `template_card`: a card with this `task_id` went
/// out before. Our ids are always well-formed and one (org, event, member)'s own, so this is
/// a resend of this very card — after a crash between WeCom's answer and our record, a retry
/// after a read timeout, or from a fresh store — and the member has it. Only its msgid is lost.
fn card_already_sent(e: &WeComError) -> bool {
    e.errcode().is_some_and(|c| c.code() == 42014)
}

/// A message as WeCom answered it.
pub(crate) struct Sent {
    pub creds: AppCredentials,
    pub ready: Vec<Ready>,
    pub result: Result<SendReceipt, WeComError>,
    /// What WeCom answered was a card's answer (not the textcard sent in its place).
    pub card: bool,
}

impl Dispatcher {
    /// Sends the message. A card WeCom refuses for its shape goes out as the usual textcard:
    /// never nothing. (Cards are one member's each, so such a batch is that one delivery.)
    pub(crate) async fn send(&self, f: Fenced) -> Result<Sent, DispatchError> {
        let Fenced {
            creds,
            body,
            touser,
            mut ready,
        } = f;
        let mut card = matches!(body, MessageBody::TemplateCard(_));
        let mut msg = OutgoingMessage {
            touser: touser.users().to_vec(),
            agent_id: creds.agent_id.get(),
            body,
            duplicate_check_interval: Some(self.settings.duplicate_check_interval),
        };
        let app = WeComApp::new(&self.wecom, &self.tokens, creds);
        let mut result = app.send(&msg).await;
        if let (Err(e), [only]) = (&result, ready.as_mut_slice())
            && card_refused(e)
            && only.delivery.fall_back()
        {
            tracing::warn!(error = %e, event_id = %only.delivery.event_id,
                member = %only.delivery.member, "WeCom refused the card; sending the textcard instead");
            if let Some(fallback) = only.delivery.body.clone() {
                msg.body = fallback;
                card = false;
                result = app.send(&msg).await;
            }
        }
        if self.crash == Some(CrashPoint::AfterSend) && result.is_ok() {
            return Err(DispatchError::Crashed(CrashPoint::AfterSend));
        }
        Ok(Sent {
            creds: app.creds,
            ready,
            result,
            card,
        })
    }

    /// What the send did for each of its deliveries: delivered (with WeCom's msgid and, for a
    /// card, its response code), or a failure to retry or record.
    pub(crate) fn settle(&self, sent: Sent) -> Vec<Change> {
        let Sent {
            ready,
            result,
            card,
            ..
        } = sent;
        ready
            .into_iter()
            .map(|r| {
                let mut d = r.delivery;
                match &result {
                    Ok(receipt) if receipt.missed(&r.userid) => {
                        let e = WeComError::Api {
                            code: ErrCode::AllRecipientsInvalid,
                            errmsg: "listed in invaliduser/unlicenseduser".into(),
                        };
                        self.after_failure(d, &e)
                    }
                    Ok(receipt) => {
                        d.mark_sent(receipt);
                        d.start_follow_up(self.now());
                        d.into()
                    }
                    // The card is with the member already: delivered, its msgid unknown (so
                    // it cannot be recalled; the delivery view and recall say why).
                    Err(e) if card && card_already_sent(e) => {
                        tracing::info!(event_id = %d.event_id, member = %d.member,
                            "WeCom already has the card (42014): delivered, msgid unknown");
                        d.mark_delivered(None);
                        d.start_follow_up(self.now());
                        d.into()
                    }
                    Err(e) => self.after_failure(d, e),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> WeComError {
        WeComError::Api {
            code: ErrCode::from_response(code, "x"),
            errmsg: "x".into(),
        }
    }

    #[test]
    fn task_id_exists_means_the_card_went_out_and_is_no_refusal() {
        assert!(card_already_sent(&api(42014)));
        assert!(!card_refused(&api(42014)));
        for code in [42015, 42051] {
            assert!(card_refused(&api(code)) && !card_already_sent(&api(code)));
        }
        assert!(!card_already_sent(&api(-1)) && !card_already_sent(&api(60020)));
    }
}
