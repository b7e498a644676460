//! Claims and replaces in one shape for deliveries and decisions: each record is one item with
//! its `doc` and `updated_ms`, written once (`attribute_not_exists`), then only over the
//! version its writer read (`updated_ms = :expected`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Put;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{DynamoTable, Item, build, conditional, corrupt, get_doc, n, s, to_doc};
use crate::domain::Versioned;
use crate::store::{Claim, ClaimStore, Result, StoreError};
use crate::workflow::stats::Counted;

/// A record kept as one item that carries the record whole in `doc`.
pub(super) trait DocRecord:
    Versioned + Counted + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The table key: `(pk, sk)`.
    fn key(&self) -> (String, String);
    /// The whole item: `doc`, `updated_ms`, its index keys and `expires_at`.
    fn item(&self, shards: u16) -> Result<Item>;
}

/// Where a record stands besides its own key: in the org's log (`gsi1`) and the member's
/// (`gsi2`), both at `position`; in the `due` index while something is left to do; and when
/// the table may let it go.
pub(super) struct Entries {
    pub org_log: String,
    pub member_log: String,
    pub position: String,
    pub due: Option<(String, i64)>,
    pub expires_at: i64,
}

/// The item of `r`: its key, the record whole (`doc`), its version and its `entries`.
pub(super) fn item_of<T: DocRecord>(r: &T, entries: Entries) -> Result<Item> {
    let (pk, sk) = r.key();
    let mut item = Item::from([
        ("pk".to_owned(), s(pk)),
        ("sk".to_owned(), s(sk)),
        ("doc".to_owned(), to_doc(r)?),
        ("updated_ms".to_owned(), n(r.version())),
        ("gsi1pk".to_owned(), s(entries.org_log)),
        ("gsi1sk".to_owned(), s(entries.position.as_str())),
        ("gsi2pk".to_owned(), s(entries.member_log)),
        ("gsi2sk".to_owned(), s(entries.position)),
        ("expires_at".to_owned(), n(entries.expires_at)),
    ]);
    if let Some((due_pk, at)) = entries.due {
        item.insert("due_pk".into(), s(due_pk));
        item.insert("due_sk".into(), n(at));
    }
    Ok(item)
}

/// The record an item carries.
pub(super) fn doc_of<T: DeserializeOwned>(item: &Item) -> Result<T> {
    get_doc(item, "doc")?.ok_or_else(|| corrupt("doc"))
}

impl DynamoTable {
    /// `r` over the version `expected`, as one item of a transaction.
    pub(super) fn replace_put<T: DocRecord>(&self, r: &T, expected: i64) -> Result<Put> {
        build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(r.item(self.shards)?))
                .condition_expression("updated_ms = :expected")
                .expression_attribute_values(":expected", n(expected))
                .build(),
        )
    }

    pub(super) async fn read<T: DocRecord>(&self, (pk, sk): (String, String)) -> Result<Option<T>> {
        self.get(pk, sk).await?.map(|i| doc_of(&i)).transpose()
    }
}

#[async_trait]
impl<T: DocRecord> ClaimStore<T> for DynamoTable {
    async fn claim(&self, r: &T) -> Result<Claim<T>> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(r.item(self.shards)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional!(res)? {
            self.count([r], true).await;
            return Ok(Claim::New);
        }
        let existing = self.read(r.key()).await?.ok_or(StoreError::Conflict)?;
        Ok(Claim::Existing(Box::new(existing)))
    }

    async fn replace(&self, r: &T, expected: i64) -> Result<bool> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(r.item(self.shards)?))
            .condition_expression("updated_ms = :expected")
            .expression_attribute_values(":expected", n(expected))
            .send()
            .await;
        let written = conditional!(res)?;
        if written {
            self.count([r], false).await;
        }
        Ok(written)
    }
}
