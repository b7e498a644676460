//! The callback URLs this process verified lately, each with what verifying needs: the
//! binding, its app's secrets and the callback crypto prepared from them. A verification of a
//! known URL reads no store, so WeCom's requests (and anyone's forged ones) cost only the
//! crypto; see docs/WECOM.md §2 for the rules below.
//!
//! - Remembered for at most [`KNOWN_FOR_MS`], never longer than a replaced secret stays
//!   readable ([`SECRET_GRACE`]): the old Token stops working within that time of a save.
//! - A verification that fails against what is remembered reads again (past this memory)
//!   before it answers the failure, so a saved rotation takes effect at once — unless a
//!   failure read them within the last [`REREAD_COOLDOWN_MS`]: a flood of forged requests
//!   costs at most one read per URL that often, and is otherwise answered from memory.
//! - Only configured bindings are remembered (an unknown URL or one not saved yet is read
//!   every time and never grows the memory), at most [`CAPACITY`] of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use shared::channel::{ResolvedBinding, SECRET_GRACE};
use shared::crypto::{CallbackCrypto, CryptoError};
use shared::domain::{CallbackCheck, CallbackId};

/// How long a URL's keys are used without reading them again.
pub const KNOWN_FOR_MS: i64 = 5 * 60 * 1000;
// Past the grace the replaced secret is gone, and so must be its Token here.
const _: () = assert!(KNOWN_FOR_MS as u128 <= SECRET_GRACE.as_millis());

/// After a failure read a URL's keys again, failures against them are answered from memory
/// this long: a human saving a new Token in the console and then pressing Save in WeCom
/// takes longer, and a flood of forged requests costs one read per URL at most this often.
pub const REREAD_COOLDOWN_MS: i64 = 1000;

/// URLs remembered at most; the oldest read is forgotten first.
pub(crate) const CAPACITY: usize = 1024;

/// How often a signature mismatch on a ciphertext sealed for the app is logged per URL.
const SEALED_NOTE_EVERY_MS: i64 = 60_000;

/// No failure has read these keys.
const NEVER: i64 = i64::MIN;

/// One URL's binding and keys, as read at `read_at`.
pub(crate) struct Known {
    pub(crate) binding: ResolvedBinding,
    pub(crate) crypto: CallbackCrypto,
    /// Unix ms when the read began: the keys are at least this fresh.
    read_at: i64,
    /// Unix ms of the last read a failure caused ([`NEVER`]: none).
    reread_at: AtomicI64,
    /// Unix ms (system clock) when a mismatch on a sealed ciphertext was last logged.
    sealed_noted_at: AtomicI64,
    /// The binding's `last_callback_check` as this process last wrote or read it, so a
    /// repeated outcome is not written again (docs/API.md §7).
    last_check: Mutex<Option<CallbackCheck>>,
}

impl Known {
    /// The keys of `binding`, read at `read_at` (because a verification failed against the
    /// remembered ones: `after_failure`).
    pub(crate) fn prepare(
        binding: ResolvedBinding,
        read_at: i64,
        after_failure: bool,
    ) -> Result<Self, CryptoError> {
        let crypto = CallbackCrypto::new(
            binding.secrets.token.expose(),
            binding.secrets.encoding_aes_key.expose(),
            binding.config.corp_id.as_str(),
        )?;
        let last_check = Mutex::new(binding.record.last_callback_check.clone());
        Ok(Self {
            binding,
            crypto,
            read_at,
            reread_at: AtomicI64::new(if after_failure { read_at } else { NEVER }),
            sealed_noted_at: AtomicI64::new(NEVER),
            last_check,
        })
    }

    /// Within [`KNOWN_FOR_MS`] of the read (a clock that went back counts as stale).
    fn fresh(&self, now_ms: i64) -> bool {
        (self.read_at..self.read_at.saturating_add(KNOWN_FOR_MS)).contains(&now_ms)
    }

    /// Whether a verification that just failed against these keys should read them again:
    /// true for the first failure, then at most once a [`REREAD_COOLDOWN_MS`], and for one
    /// caller at a time (the others answer from memory meanwhile).
    pub(crate) fn take_reread(&self, now_ms: i64) -> bool {
        let last = self.reread_at.load(Ordering::Acquire);
        let due =
            last == NEVER || !(last..last.saturating_add(REREAD_COOLDOWN_MS)).contains(&now_ms);
        due && self
            .reread_at
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether a signature mismatch on a ciphertext sealed for this app would be logged now:
    /// not within [`SEALED_NOTE_EVERY_MS`] of the last one.
    pub(crate) fn sealed_note_due(&self, now_ms: i64) -> bool {
        let last = self.sealed_noted_at.load(Ordering::Relaxed);
        last == NEVER || !(last..last.saturating_add(SEALED_NOTE_EVERY_MS)).contains(&now_ms)
    }

    pub(crate) fn sealed_noted(&self, now_ms: i64) {
        self.sealed_noted_at.store(now_ms, Ordering::Relaxed);
    }

    /// Takes `check` as the binding's last one if it replaces it
    /// ([`CallbackCheck::replaces`]), returning the one it replaced: the caller writes it.
    /// Taken before the write so that concurrent requests write a repeated outcome once.
    pub(crate) fn take_check(
        &self,
        check: &CallbackCheck,
        refresh_secs: Option<i64>,
    ) -> Option<Option<CallbackCheck>> {
        let mut last = self.last_check.lock().ok()?;
        check
            .replaces(last.as_ref(), refresh_secs)
            .then(|| last.replace(check.clone()))
    }

    /// The write of `check` failed: `previous` is the last one again (unless another
    /// request took its place meanwhile), so the next request writes it.
    pub(crate) fn restore_check(&self, check: &CallbackCheck, previous: Option<CallbackCheck>) {
        if let Ok(mut last) = self.last_check.lock()
            && last.as_ref() == Some(check)
        {
            *last = previous;
        }
    }
}

/// The known URLs of this process (the callback's state, shared by every request of a warm
/// Lambda or of the local runner).
pub(crate) struct KnownCallbacks {
    known: Mutex<HashMap<CallbackId, Arc<Known>>>,
    capacity: usize,
}

impl Default for KnownCallbacks {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl KnownCallbacks {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            known: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The keys of `id` if they were read within [`KNOWN_FOR_MS`]; stale ones are forgotten.
    pub(crate) fn get(&self, id: &CallbackId, now_ms: i64) -> Option<Arc<Known>> {
        let mut known = self.known.lock().ok()?;
        let k = known.get(id)?;
        if k.fresh(now_ms) {
            return Some(k.clone());
        }
        known.remove(id);
        None
    }

    /// Remembers `k` for `id`, unless what is remembered was read later (a slow read that
    /// began before a save must not replace the keys read after it). When full, forgets
    /// what is stale, then the oldest read.
    pub(crate) fn remember(&self, id: CallbackId, k: Arc<Known>, now_ms: i64) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if known.get(&id).is_some_and(|old| old.read_at > k.read_at) {
            return;
        }
        if !known.contains_key(&id) && known.len() >= self.capacity {
            known.retain(|_, old| old.fresh(now_ms));
            if known.len() >= self.capacity
                && let Some(oldest) = known
                    .iter()
                    .min_by_key(|(_, old)| old.read_at)
                    .map(|(id, _)| id.clone())
            {
                known.remove(&oldest);
            }
        }
        known.insert(id, k);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.known.lock().map(|k| k.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use shared::channel::ResolvedBinding;
    use shared::domain::{
        AgentId, AppSecret, AppSecrets, BindingRecord, ChannelConfig, CorpId, EncodingAesKey,
        MemberId, MemberKey, OrgId, Receiver, SourceColumn, WeComToken,
    };
    use shared::testing::ENCODING_AES_KEY;

    use super::*;

    fn binding(token: &str) -> ResolvedBinding {
        let key = MemberKey {
            org: OrgId::parse("acme").expect("org"),
            member: MemberId::parse("alice").expect("member"),
        };
        let config = ChannelConfig {
            corp_id: CorpId::parse("ww0123456789").expect("corp"),
            agent_id: AgentId::parse(1000002).expect("agent"),
            receiver: Receiver::parse(SourceColumn::LoginName, "alice").expect("receiver"),
            wechat_plugin: false,
            quiet_hours: None,
        };
        let mut record = BindingRecord::unconfigured(key, CallbackId::random());
        record.config = Some(config.clone());
        ResolvedBinding {
            record,
            config,
            secrets: AppSecrets {
                app_secret: AppSecret::parse("secret").expect("secret"),
                token: WeComToken::parse(token).expect("token"),
                encoding_aes_key: EncodingAesKey::parse(ENCODING_AES_KEY).expect("key"),
            },
        }
    }

    fn known(token: &str, read_at: i64) -> Arc<Known> {
        Arc::new(Known::prepare(binding(token), read_at, false).expect("keys"))
    }

    fn token_of(k: &Known) -> String {
        // The crypto's signature tells which Token it holds, without exposing it.
        k.crypto.sign("1", "2", "3")
    }

    #[test]
    fn keys_are_used_for_at_most_known_for_and_never_past_the_grace() {
        let memory = KnownCallbacks::default();
        let id = CallbackId::random();
        memory.remember(id.clone(), known("TokenA", 1_000), 1_000);
        assert!(memory.get(&id, 1_000).is_some());
        assert!(memory.get(&id, 1_000 + KNOWN_FOR_MS - 1).is_some());
        assert!(memory.get(&id, 1_000 + KNOWN_FOR_MS).is_none(), "stale");
        assert_eq!(memory.len(), 0, "a stale entry is forgotten when met");
        assert!(
            u128::try_from(KNOWN_FOR_MS).expect("positive") <= SECRET_GRACE.as_millis(),
            "the Token of a replaced secret outlives the secret"
        );
        // A clock that went back cannot make old keys look fresh for longer.
        memory.remember(id.clone(), known("TokenA", 5_000), 5_000);
        assert!(memory.get(&id, 4_999).is_none());
    }

    #[test]
    fn a_full_memory_forgets_the_oldest_read() {
        let memory = KnownCallbacks::with_capacity(3);
        let ids: Vec<_> = (0..4).map(|_| CallbackId::random()).collect();
        for (i, id) in ids.iter().enumerate() {
            let at = 1_000 + i64::try_from(i).expect("small") * 10;
            memory.remember(id.clone(), known("TokenA", at), at);
        }
        assert_eq!(memory.len(), 3);
        assert!(memory.get(&ids[0], 1_100).is_none(), "the oldest went");
        for id in &ids[1..] {
            assert!(memory.get(id, 1_100).is_some());
        }
        // Stale entries go before any fresh one, however old: at `later`, ids[2] (read at
        // 1,020) is stale and ids[3] (1,030) is not; ids[1] was read again just before.
        let later = 1_020 + KNOWN_FOR_MS;
        memory.remember(ids[1].clone(), known("TokenA", later - 1), later - 1);
        memory.remember(ids[0].clone(), known("TokenA", later), later);
        assert_eq!(memory.len(), 3);
        assert!(memory.get(&ids[2], later).is_none(), "the stale one went");
        for id in [&ids[0], &ids[1], &ids[3]] {
            assert!(memory.get(id, later).is_some());
        }
        // Replacing a remembered URL is no new entry.
        memory.remember(ids[0].clone(), known("TokenB", later), later);
        assert_eq!(memory.len(), 3);
    }

    #[test]
    fn a_slow_read_does_not_replace_a_later_one() {
        let memory = KnownCallbacks::default();
        let id = CallbackId::random();
        let after_save = known("TokenNew", 2_000);
        memory.remember(id.clone(), after_save.clone(), 2_000);
        memory.remember(id.clone(), known("TokenOld", 1_000), 2_100);
        let got = memory.get(&id, 2_100).expect("known");
        assert_eq!(token_of(&got), token_of(&after_save));
    }

    #[test]
    fn a_failure_reads_again_once_then_after_the_cooldown() {
        let k = known("TokenA", 0);
        assert!(
            k.take_reread(10),
            "the first failure since the read reads again"
        );
        assert!(!k.take_reread(11), "a second one at once does not");
        assert!(!k.take_reread(10 + REREAD_COOLDOWN_MS - 1));
        assert!(k.take_reread(10 + REREAD_COOLDOWN_MS), "after the cooldown");
        // Keys read because a failure asked for it count as that re-read.
        let reread = Known::prepare(binding("TokenA"), 500, true).expect("keys");
        assert!(!reread.take_reread(600));
        assert!(reread.take_reread(500 + REREAD_COOLDOWN_MS));
    }

    #[test]
    fn a_sealed_mismatch_is_noted_once_a_minute() {
        let k = known("TokenA", 0);
        assert!(k.sealed_note_due(1_000));
        k.sealed_noted(1_000);
        assert!(!k.sealed_note_due(1_000 + SEALED_NOTE_EVERY_MS - 1));
        assert!(k.sealed_note_due(1_000 + SEALED_NOTE_EVERY_MS));
    }

    #[test]
    fn one_outcome_is_taken_once_and_given_back_when_its_write_failed() {
        let k = known("TokenA", 0);
        let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let ok = CallbackCheck {
            at,
            ok: true,
            diagnosis: None,
            hint: None,
            authentic: true,
        };
        assert_eq!(k.take_check(&ok, None), Some(None), "first: written");
        assert_eq!(k.take_check(&ok, None), None, "the same again: not written");
        let later = CallbackCheck {
            at: at + time::Duration::minutes(2),
            ..ok.clone()
        };
        assert_eq!(k.take_check(&later, Some(60)), Some(Some(ok.clone())));
        k.restore_check(&later, Some(ok.clone()));
        assert_eq!(
            k.take_check(&later, Some(60)),
            Some(Some(ok)),
            "a failed write is tried again"
        );
    }
}
