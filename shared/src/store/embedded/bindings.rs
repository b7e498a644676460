//! Bindings (`{org}/{member}`), their callback ids, and the apps they use
//! (`{org}/{corp}/{agent}`).

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::{
    APPS, BINDINGS, CALLBACKS, EXPIRY, EmbeddedDb, PROBE_AT, PROBES, db_err, enc, expiry_entry,
    get_json, member_key, sortable,
};
use crate::domain::{
    AppKey, AppRecord, BindingRecord, CallbackCheck, CallbackId, MemberKey, OrgId, ResolvedUser,
    TestOutcome,
};
use crate::store::{BindingStore, CallbackTarget, ChannelCommit, Page, PageAt, Result, StoreError};

fn app_key(k: &AppKey) -> String {
    format!("{}/{}/{}", k.org, k.corp_id, k.agent_id)
}

/// Moves binding `k` in the probe schedule to `next` (`None`: out of it), inside `txn`.
pub(super) fn schedule_probe(
    txn: &redb::WriteTransaction,
    k: &str,
    next: Option<i64>,
) -> Result<()> {
    let mut at = txn.open_table(PROBE_AT).map_err(db_err)?;
    let mut due = txn.open_table(PROBES).map_err(db_err)?;
    let old = at.get(k).map_err(db_err)?.map(|g| g.value());
    if let Some(old) = old {
        due.remove(format!("{}/{k}", sortable(old)).as_str())
            .map_err(db_err)?;
    }
    match next {
        Some(t) => {
            at.insert(k, t).map_err(db_err)?;
            due.insert(format!("{}/{k}", sortable(t)).as_str(), k)
                .map_err(db_err)?;
        }
        None => {
            at.remove(k).map_err(db_err)?;
        }
    }
    Ok(())
}

/// Removes a binding that was only looked at and never saved, with its callback id.
pub(super) fn purge_unsaved_binding(txn: &WriteTransaction, key: &str) -> Result<()> {
    let mut bindings = txn.open_table(BINDINGS).map_err(db_err)?;
    let rec: Option<BindingRecord> = get_json(&bindings, key)?;
    if let Some(rec) = rec.filter(|r| r.revision == 0 && r.config.is_none()) {
        bindings.remove(key).map_err(db_err)?;
        txn.open_table(CALLBACKS)
            .map_err(db_err)?
            .remove(rec.callback_id.as_str())
            .map_err(db_err)?;
    }
    Ok(())
}

impl EmbeddedDb {
    /// Read-modify-write of one app record: `f` answers `None` to leave it alone (the
    /// condition failed), `Some(None)` to remove it, `Some(Some(app))` to write `app`.
    /// Returns the record as it was, and what `f` answered.
    async fn update_app<F>(
        &self,
        k: String,
        f: F,
    ) -> Result<(Option<AppRecord>, Option<Option<AppRecord>>)>
    where
        F: FnOnce(Option<AppRecord>) -> Option<Option<AppRecord>> + Send + 'static,
    {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let answer = {
                let mut apps = txn.open_table(APPS).map_err(db_err)?;
                let before: Option<AppRecord> = get_json(&apps, &k)?;
                let answer = f(before.clone());
                match &answer {
                    Some(Some(app)) => {
                        apps.insert(k.as_str(), enc(app)?.as_slice())
                            .map_err(db_err)?;
                    }
                    Some(None) => {
                        apps.remove(k.as_str()).map_err(db_err)?;
                    }
                    None => {}
                }
                (before, answer)
            };
            txn.commit().map_err(db_err)?;
            Ok(answer)
        })
        .await
    }

    /// Read-modify-write of one existing binding inside a write transaction.
    async fn update_binding<F>(&self, key: &MemberKey, f: F) -> Result<()>
    where
        F: FnOnce(&mut BindingRecord) + Send + 'static,
    {
        let k = member_key(key);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(BINDINGS).map_err(db_err)?;
                if let Some(mut rec) = get_json::<BindingRecord>(&t, &k)? {
                    f(&mut rec);
                    t.insert(k.as_str(), enc(&rec)?.as_slice())
                        .map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }
}

#[async_trait]
impl BindingStore for EmbeddedDb {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>> {
        self.read(BINDINGS, member_key(key)).await
    }

    async fn ensure_binding(&self, key: &MemberKey, unsaved_until: i64) -> Result<BindingRecord> {
        let key = key.clone();
        self.blocking(move |db| {
            let k = member_key(&key);
            let txn = db.begin_write().map_err(db_err)?;
            let rec = {
                let mut t = txn.open_table(BINDINGS).map_err(db_err)?;
                if let Some(existing) = get_json(&t, &k)? {
                    return Ok(existing);
                }
                let rec = BindingRecord::unconfigured(key.clone(), CallbackId::random());
                t.insert(k.as_str(), enc(&rec)?.as_slice())
                    .map_err(db_err)?;
                let mut cb = txn.open_table(CALLBACKS).map_err(db_err)?;
                cb.insert(rec.callback_id.as_str(), enc(&key)?.as_slice())
                    .map_err(db_err)?;
                // Purged unless saved by then (see `purge_unsaved_binding`).
                txn.open_table(EXPIRY)
                    .map_err(db_err)?
                    .insert(expiry_entry(unsaved_until, "bind", &k).as_str(), k.as_str())
                    .map_err(db_err)?;
                rec
            };
            txn.commit().map_err(db_err)?;
            Ok(rec)
        })
        .await
    }

    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<CallbackTarget>> {
        // One read transaction: the app and its secret come from the records themselves, so
        // here the hint is never stale.
        let id = id.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let Some(key): Option<MemberKey> =
                get_json(&txn.open_table(CALLBACKS).map_err(db_err)?, &id)?
            else {
                return Ok(None);
            };
            let rec: Option<BindingRecord> = get_json(
                &txn.open_table(BINDINGS).map_err(db_err)?,
                &member_key(&key),
            )?;
            let app = rec.as_ref().and_then(BindingRecord::app_key);
            let secret_hint = match &app {
                Some(a) => {
                    get_json::<AppRecord>(&txn.open_table(APPS).map_err(db_err)?, &app_key(a))?
                        .map(|r| r.secret_name)
                }
                None => None,
            };
            Ok(Some(CallbackTarget {
                key,
                app,
                secret_hint,
            }))
        })
        .await
    }

    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>> {
        self.read(APPS, app_key(key)).await
    }

    async fn app_join(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool> {
        let (k, expected, name, key) = (
            app_key(key),
            expected.map(str::to_owned),
            secret_name.to_owned(),
            key.clone(),
        );
        self.update_app(k, move |app| match (app, expected) {
            (None, None) => Some(Some(AppRecord {
                key,
                secret_name: name,
                members: 1,
            })),
            (Some(mut a), Some(e)) if a.secret_name == e => {
                a.secret_name = name;
                a.members += 1;
                Some(Some(a))
            }
            _ => None,
        })
        .await
        .map(|(_, r)| r.is_some())
    }

    async fn app_swap(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool> {
        let (k, expected, new) = (app_key(key), expected.to_owned(), new.to_owned());
        self.update_app(k, move |app| match app {
            Some(mut a) if a.secret_name == expected => {
                a.secret_name = new;
                Some(Some(a))
            }
            _ => None,
        })
        .await
        .map(|(_, r)| r.is_some())
    }

    async fn app_leave(&self, key: &AppKey) -> Result<Option<String>> {
        let (before, answer) = self
            .update_app(app_key(key), |app| {
                let mut a = app?;
                a.members = a.members.saturating_sub(1);
                Some((a.members > 0).then_some(a))
            })
            .await?;
        // Removed: it was the last member, and the secret is free.
        Ok(matches!(answer, Some(None))
            .then(|| before.map(|a| a.secret_name))
            .flatten())
    }

    async fn commit(&self, change: ChannelCommit) -> Result<()> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut bindings = txn.open_table(BINDINGS).map_err(db_err)?;
                let k = member_key(&change.member);
                let mut rec: BindingRecord =
                    get_json(&bindings, &k)?.ok_or(StoreError::Conflict)?;
                if rec.revision != change.expected_revision {
                    return Err(StoreError::Conflict);
                }
                if let Some(app) = &change.new_app {
                    let mut apps = txn.open_table(APPS).map_err(db_err)?;
                    let ak = app_key(&app.key);
                    if apps.get(ak.as_str()).map_err(db_err)?.is_some() {
                        return Err(StoreError::Conflict);
                    }
                    apps.insert(ak.as_str(), enc(app)?.as_slice())
                        .map_err(db_err)?;
                }
                // Saved bindings are never purged (`purge_unsaved_binding` checks the
                // revision), so the expiry entry may stay.
                rec.reconfigure(change.config, change.updated_at);
                bindings
                    .insert(k.as_str(), enc(&rec)?.as_slice())
                    .map_err(db_err)?;
                let next = rec.config.is_some().then_some(change.first_probe_ms);
                schedule_probe(&txn, &k, next)?;
            }
            // Returning early above drops `txn`, which aborts it: nothing is half-applied.
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn record_callback_check(&self, key: &MemberKey, check: &CallbackCheck) -> Result<()> {
        let check = check.clone();
        self.update_binding(key, move |r| r.last_callback_check = Some(check))
            .await
    }

    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<()> {
        let outcome = outcome.clone();
        self.update_binding(key, move |r| r.last_test = Some(outcome))
            .await
    }

    async fn set_resolved_user(&self, key: &MemberKey, user: Option<&ResolvedUser>) -> Result<()> {
        let user = user.cloned();
        self.update_binding(key, move |r| r.resolved_user = user)
            .await
    }

    async fn bindings(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<BindingRecord>> {
        let (after, limit) = (page.after, page.limit());
        self.page(
            BINDINGS,
            format!("{org}/"),
            after,
            limit,
            BindingRecord::is_configured,
        )
        .await
    }

    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>> {
        // Locally an org is small: a scan of its bindings stands in for DynamoDB's index.
        let all: Vec<BindingRecord> = self.scan(BINDINGS, format!("{org}/")).await?;
        Ok(all
            .into_iter()
            .filter(|r| {
                r.resolved_user.as_ref().is_some_and(|u| {
                    u.corp_id.as_str() == corp_id && u.userid.eq_ignore_ascii_case(userid)
                })
            })
            .map(|r| r.key)
            .collect())
    }
}
