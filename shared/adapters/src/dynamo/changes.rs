//! An order change (status or fields) as one transaction: `SET` only the changed fields,
//! conditional on the status the order was read in (and its version with `If-Match`), with
//! stock moves, the cap counter, the audit entry and the outbox event.

use std::collections::HashMap;

use oms_domain::error::Error;
use oms_domain::order::{Order, OrderStatus};
use oms_domain::ports::{CapIncrement, CommitError, CommitRejection, OrderChange};

use super::keys::*;
use super::reads::order_index_attrs;
use super::tx::{n, Guard, Tx};
use super::{av_s, count_high_value, from_item, stock_and_cap, stock_cap_rejection, values, DynamoStore, OrderGuard};

impl DynamoStore {
    pub(super) async fn apply_change(&self, ch: &OrderChange) -> Result<Order, CommitError> {
        let (b, c) = (&ch.before, &ch.before.company_id);
        if let Some(CapIncrement { limit: Some(0), .. }) = &ch.cap {
            return Err(CommitError::Rejected(CommitRejection::MonthlyCapReached { limit: 0 }));
        }
        let mut set = vec![
            "#version = #version + :one".to_owned(),
            "#updated_at = :updated_at".to_owned(),
        ];
        let mut names = HashMap::from([
            ("#version".to_owned(), "version".to_owned()),
            ("#updated_at".to_owned(), "updated_at".to_owned()),
            ("#status".to_owned(), "status".to_owned()),
        ]);
        let mut vals = values([
            (":one", n(1)),
            (
                ":updated_at",
                serde_dynamo::to_attribute_value(ch.after.updated_at).map_err(Error::internal)?,
            ),
            (":expected_status", av_s(b.status.as_str())),
        ]);
        for (i, (field, value)) in crate::changed_fields(b, &ch.after).into_iter().enumerate() {
            set.push(format!("#f{i} = :f{i}"));
            names.insert(format!("#f{i}"), field);
            vals.insert(
                format!(":f{i}"),
                serde_dynamo::to_attribute_value(value).map_err(Error::internal)?,
            );
        }
        let mut condition = "#status = :expected_status".to_owned();
        // Index keys derive from several fields (status, due date, total, ...) that other
        // changes may move concurrently. A change that moves any key writes them only if
        // every key is still as it read them; otherwise it is redone (IndexKeysMoved).
        let (before_keys, after_keys) = (order_index_attrs(b), order_index_attrs(&ch.after));
        let mut remove = Vec::new();
        if before_keys != after_keys {
            for (i, ((attr, old), (_, new))) in before_keys.iter().zip(&after_keys).enumerate() {
                names.insert(format!("#k{i}"), (*attr).to_owned());
                match old {
                    Some(v) => {
                        condition.push_str(&format!(" AND #k{i} = :kb{i}"));
                        vals.insert(format!(":kb{i}"), av_s(v.clone()));
                    }
                    None => condition.push_str(&format!(" AND attribute_not_exists(#k{i})")),
                }
                if old != new {
                    match new {
                        Some(v) => {
                            set.push(format!("#k{i} = :k{i}"));
                            vals.insert(format!(":k{i}"), av_s(v.clone()));
                        }
                        None => remove.push(format!("#k{i}")),
                    }
                }
            }
        }
        if let Some(v) = ch.expect_version {
            condition.push_str(" AND #version = :expected_version");
            vals.insert(":expected_version".into(), n(v));
        }
        let mut tx = Tx::new(&self.table);
        tx.update(
            order(c, b.id),
            &if remove.is_empty() {
                format!("SET {}", set.join(", "))
            } else {
                format!("SET {} REMOVE {}", set.join(", "), remove.join(", "))
            },
            Some(&condition),
            names,
            vals,
            Guard::Rule(OrderGuard::Change),
        )?;
        stock_and_cap(&mut tx, c, &ch.stock, ch.cap.as_ref(), ch.after.updated_at)?;
        count_high_value(&mut tx, c, ch.high_value.as_ref())?;
        for r in &ch.restock {
            tx.update(
                product(c, r.product_id),
                "SET stock = stock + :q, updated_at = :now",
                Some("attribute_exists(PK)"),
                HashMap::new(),
                values([
                    (":q", n(r.quantity)),
                    (
                        ":now",
                        av_s(ch.after.updated_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                    ),
                ]),
                Guard::Rule(OrderGuard::Stock(r.product_id)),
            )?;
        }
        Self::audit_put(&mut tx, &ch.audit)?;
        Self::outbox_put(&mut tx, &ch.outbox)?;
        if tx.len() > super::MAX_TRANSACTION_ITEMS {
            return Err(CommitError::Failed(Error::LimitExceeded {
                code: "too_many_products",
                message: format!(
                    "this change needs {} writes; one transaction holds {}",
                    tx.len(),
                    super::MAX_TRANSACTION_ITEMS
                ),
            }));
        }
        let failed = match tx.commit(&self.client).await? {
            Ok(()) => {
                return self
                    .get(order(c, b.id))
                    .await?
                    .map(from_item)
                    .transpose()?
                    .ok_or_else(|| CommitError::Failed(Error::not_found("order", b.id)))
            }
            Err(failed) => failed,
        };
        // The order's own condition first: a lost race is reported as such.
        if let Some(f) = failed.iter().find(|f| matches!(f.guard, OrderGuard::Change)) {
            let old = f
                .old
                .as_ref()
                .ok_or_else(|| CommitError::Failed(Error::not_found("order", b.id)))?;
            let status = old
                .get("status")
                .and_then(|v| v.as_s().ok())
                .and_then(|s| OrderStatus::parse(s));
            let version = old
                .get("version")
                .and_then(|v| v.as_n().ok())
                .and_then(|s| s.parse::<u64>().ok());
            return Err(CommitError::Rejected(match (status, version) {
                (Some(current), _) if current != b.status => CommitRejection::StatusChanged { current },
                (_, Some(current)) if ch.expect_version.is_some_and(|v| v != current) => {
                    CommitRejection::VersionChanged { current }
                }
                (Some(_), Some(_)) => CommitRejection::IndexKeysMoved,
                _ => {
                    return Err(CommitError::Failed(Error::internal(
                        "order condition failed without a reason",
                    )))
                }
            }));
        }
        match stock_cap_rejection(&failed) {
            Some(r) => Err(CommitError::Rejected(r)),
            None => Err(CommitError::Failed(Error::internal(
                "order change refused without a reason",
            ))),
        }
    }
}
