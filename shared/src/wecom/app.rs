//! One WeCom app as every caller uses it: the client plus the shared token cache.

use super::client::{WeComClient, WeComError};
use super::credentials::{AccessToken, AppCredentials};
use super::token::TokenCache;
use crate::outgoing::{OutgoingMessage, SendReceipt};

/// One app seen through the client and the shared token cache: every call gets a cached
/// token, and a token WeCom calls invalid is replaced and the call retried once.
pub struct WeComApp<'a> {
    pub client: &'a WeComClient,
    pub tokens: &'a TokenCache,
    pub creds: AppCredentials,
}

impl<'a> WeComApp<'a> {
    pub fn new(client: &'a WeComClient, tokens: &'a TokenCache, creds: AppCredentials) -> Self {
        Self {
            client,
            tokens,
            creds,
        }
    }

    pub async fn token(&self) -> Result<AccessToken, WeComError> {
        self.tokens.get(self.client, &self.creds).await
    }

    /// Runs `f` with a token; on 40014/42001 drops the token, fetches a new one, tries once
    /// more. The token is passed owned so the futures stay `Send`.
    async fn with_token<T, F, Fut>(&self, f: F) -> Result<T, WeComError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, WeComError>>,
    {
        let token = self.token().await?;
        let result = match f(token.clone()).await {
            Err(e) if e.is_token_invalid() => {
                self.tokens.invalidate(&self.creds, &token).await;
                let fresh = self.token().await?;
                f(fresh).await
            }
            other => other,
        };
        if let Err(e) = &result {
            // 301002 (AgentId and Secret of different apps) comes from the call, not gettoken.
            self.tokens.refuse(&self.creds, e).await;
        }
        result
    }

    pub async fn send(&self, msg: &OutgoingMessage) -> Result<SendReceipt, WeComError> {
        self.with_token(|t| async move { self.client.send_message(t.expose(), msg).await })
            .await
    }

    pub async fn userid_by_mobile(&self, mobile: &str) -> Result<String, WeComError> {
        self.with_token(|t| async move { self.client.userid_by_mobile(t.expose(), mobile).await })
            .await
    }

    pub async fn userid_by_email(&self, email: &str, email_type: u8) -> Result<String, WeComError> {
        self.with_token(|t| async move {
            self.client
                .userid_by_email(t.expose(), email, email_type)
                .await
        })
        .await
    }

    pub async fn recall(&self, msgid: &str) -> Result<(), WeComError> {
        self.with_token(|t| async move { self.client.recall(t.expose(), msgid).await })
            .await
    }

    /// Greys out the buttons of the card `response_code` belongs to (see
    /// [`WeComClient::update_card_buttons`]).
    pub async fn update_card_buttons(
        &self,
        userid: &str,
        response_code: &str,
        replace_name: &str,
    ) -> Result<(), WeComError> {
        let agent = self.creds.agent_id.get();
        self.with_token(|t| async move {
            self.client
                .update_card_buttons(t.expose(), agent, &[userid], response_code, replace_name)
                .await
        })
        .await
    }
}
