//! One `TransactWriteItems` with a guard per action, so a cancellation can be mapped back
//! to the rule that refused it (which product was short, which claim was taken).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use std::collections::HashMap;
use std::time::Duration;

use oms_domain::error::Error;

use super::{av_s, Item};

/// Attempts for a transaction that lost to a concurrent one (`TransactionConflict`).
const ATTEMPTS: u32 = 12;

/// The rule an action enforces; `None` for unconditional writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Guard<T> {
    None,
    Rule(T),
}

pub(crate) struct Tx<T> {
    table: String,
    items: Vec<TransactWriteItem>,
    guards: Vec<Guard<T>>,
}

/// A condition that failed, with the item as it was (for "only N left").
pub(crate) struct Failed<T> {
    pub guard: T,
    pub old: Option<Item>,
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::internal(e)
}

impl<T: Clone> Tx<T> {
    pub fn new(table: &str) -> Self {
        Tx {
            table: table.to_owned(),
            items: Vec::new(),
            guards: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Puts `item` at `key`, failing with `guard` if `condition` is false.
    pub fn put(
        &mut self,
        key: (String, String),
        mut item: Item,
        condition: Option<(&str, Item)>,
        guard: Guard<T>,
    ) -> Result<(), Error> {
        item.insert(super::keys::PK.into(), av_s(key.0));
        item.insert(super::keys::SK.into(), av_s(key.1));
        let mut b = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((expr, values)) = condition {
            b = b
                .condition_expression(expr)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            if !values.is_empty() {
                b = b.set_expression_attribute_values(Some(values));
            }
        }
        self.items
            .push(TransactWriteItem::builder().put(b.build().map_err(build_err)?).build());
        self.guards.push(guard);
        Ok(())
    }

    pub fn update(
        &mut self,
        key: (String, String),
        expr: &str,
        condition: Option<&str>,
        names: HashMap<String, String>,
        values: Item,
        guard: Guard<T>,
    ) -> Result<(), Error> {
        let mut b = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_of(key)))
            .update_expression(expr)
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
            .set_expression_attribute_names(Some(names).filter(|n| !n.is_empty()));
        if let Some(c) = condition {
            b = b
                .condition_expression(c)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        self.items.push(
            TransactWriteItem::builder()
                .update(b.build().map_err(build_err)?)
                .build(),
        );
        self.guards.push(guard);
        Ok(())
    }

    pub fn delete(
        &mut self,
        key: (String, String),
        condition: &str,
        values: Item,
        guard: Guard<T>,
    ) -> Result<(), Error> {
        let b = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_of(key)))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()));
        self.items.push(
            TransactWriteItem::builder()
                .delete(b.build().map_err(build_err)?)
                .build(),
        );
        self.guards.push(guard);
        Ok(())
    }

    pub fn check(&mut self, key: (String, String), condition: &str, guard: Guard<T>) -> Result<(), Error> {
        let b = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_of(key)))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        self.items.push(
            TransactWriteItem::builder()
                .condition_check(b.build().map_err(build_err)?)
                .build(),
        );
        self.guards.push(guard);
        Ok(())
    }

    /// Commits, retrying only when DynamoDB says another transaction got in the way.
    /// `Ok(Err(failed))` lists every condition that was false.
    pub async fn commit(self, client: &aws_sdk_dynamodb::Client) -> Result<Result<(), Vec<Failed<T>>>, Error> {
        // One token per logical commit: DynamoDB applies a transaction once per token (for
        // 10 minutes), so resending it after an answer was lost, or while DynamoDB still
        // has it in progress, reports the commit that happened instead of running it again.
        // Only a transaction DynamoDB refused (cancelled on a conflict) is retried as a new
        // one, under a new token.
        let mut token = uuid::Uuid::new_v4().to_string();
        for attempt in 0..ATTEMPTS {
            let res = client
                .transact_write_items()
                .set_transact_items(Some(self.items.clone()))
                .client_request_token(token.clone())
                .send()
                .await;
            let err = match res {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            // The outcome is unknown (the request may have committed): ask again under the
            // same token, and DynamoDB answers with what happened.
            let unknown = match &err {
                SdkError::ServiceError(se) => matches!(
                    se.err(),
                    TransactWriteItemsError::TransactionInProgressException(_)
                        | TransactWriteItemsError::InternalServerError(_)
                ),
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
                _ => false,
            };
            if unknown {
                tracing::warn!(attempt, error = %err, "transaction outcome unknown; asking again under the same token");
                backoff(attempt).await;
                continue;
            }
            let SdkError::ServiceError(se) = &err else {
                return Err(super::sdk_error(err));
            };
            let TransactWriteItemsError::TransactionCanceledException(tc) = se.err() else {
                return Err(super::sdk_error(err));
            };
            let reasons = tc.cancellation_reasons();
            let mut failed = Vec::new();
            let mut retry = false;
            for (i, r) in reasons.iter().enumerate() {
                match r.code() {
                    Some("ConditionalCheckFailed") => match self.guards.get(i) {
                        Some(Guard::Rule(g)) => failed.push(Failed {
                            guard: g.clone(),
                            old: r.item().cloned(),
                        }),
                        _ => return Err(Error::internal(format!("unguarded condition failed at action {i}"))),
                    },
                    Some("TransactionConflict") | Some("ThrottlingError") | Some("ProvisionedThroughputExceeded") => {
                        retry = true
                    }
                    Some("None") | None => {}
                    Some(other) => {
                        return Err(Error::internal(format!(
                            "transaction cancelled at action {i}: {other} {:?}",
                            r.message()
                        )))
                    }
                }
            }
            if !failed.is_empty() {
                return Ok(Err(failed));
            }
            if !retry {
                return Err(Error::internal(format!(
                    "transaction cancelled without a reason: {tc:?}"
                )));
            }
            tracing::debug!(attempt, "transaction conflict; retrying");
            token = uuid::Uuid::new_v4().to_string();
            backoff(attempt).await;
        }
        Err(Error::Contention)
    }
}

/// Full-jitter exponential backoff: 0..(10 ms × 2^attempt), capped at 400 ms.
async fn backoff(attempt: u32) {
    let cap = 10u64.saturating_mul(1 << attempt.min(6)).min(400);
    let ms = rand::random_range(0..=cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
