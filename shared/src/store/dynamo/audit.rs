//! The audit trail: one partition per org, `AUDIT#{org}` / [`AuditEntry::position`], each
//! item the entry whole (`doc`) with `action` and `member` beside it for the filters. Admin
//! changes are people's doing, far below one partition's rate.

use async_trait::async_trait;

use super::claims::doc_of;
use super::{DynamoTable, Item, check_position, get_s, n, query_limit, s, to_doc};
use crate::domain::{AuditEntry, OrgId};
use crate::store::{AuditLog, AuditQuery, Page, Result, StoreError};

fn audit_pk(org: &OrgId) -> String {
    format!("AUDIT#{org}")
}

#[async_trait]
impl AuditLog for DynamoTable {
    async fn record_audit(&self, e: &AuditEntry) -> Result<()> {
        let mut item = Item::from([
            ("pk".to_owned(), s(audit_pk(&e.org))),
            ("sk".to_owned(), s(e.position())),
            ("doc".to_owned(), to_doc(e)?),
            ("action".to_owned(), s(e.action.as_str())),
            ("expires_at".to_owned(), n(e.expires_at)),
        ]);
        if let Some(m) = &e.member {
            item.insert("member".into(), s(m.as_str()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn audit(&self, q: AuditQuery<'_>) -> Result<Page<AuditEntry>> {
        check_position(q.page.after, "")?;
        let pk = audit_pk(q.org);
        let start = q
            .page
            .after
            .map(|sk| Item::from([("pk".to_owned(), s(pk.as_str())), ("sk".to_owned(), s(sk))]));
        let mut filters = Vec::new();
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk.as_str()));
        if let Some(m) = q.member {
            filters.push("#member = :member");
            req = req
                .expression_attribute_names("#member", "member")
                .expression_attribute_values(":member", s(m));
        }
        if let Some(a) = q.action {
            filters.push("#action = :action");
            req = req
                .expression_attribute_names("#action", "action")
                .expression_attribute_values(":action", s(a.as_str()));
        }
        if !filters.is_empty() {
            req = req.filter_expression(filters.join(" AND "));
        }
        // `Limit` bounds the entries read; the filters then leave some out.
        let page = req
            .scan_index_forward(false)
            .limit(query_limit(q.page.limit()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        let items = page
            .items
            .unwrap_or_default()
            .iter()
            .map(doc_of)
            .collect::<Result<Vec<AuditEntry>>>()?;
        let next = match &page.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(get_s(k, "sk")?.to_owned()),
            _ => None,
        };
        Ok(Page { items, next })
    }
}
