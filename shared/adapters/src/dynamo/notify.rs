//! The notification side of the table: users by role, the e-mail "sent" markers, monthly
//! usage, and the outbox sweep over the sparse `Outbox` index.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use chrono::{DateTime, Utc};

use oms_domain::auth::Role;
use oms_domain::error::Error;
use oms_domain::ids::CompanyId;
use oms_domain::notify::User;
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{EmailClaim, NotificationStore, OutboxStore, RelayClaim};

use super::keys::*;
use super::tx::n;
use super::{av_s, from_item, key_of, sdk_error, values, DynamoStore};

/// The pending and parked partitions of the outbox index.
const PENDING: &str = "PENDING#";
const PARKED: &str = "PARKED#0";

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn pending_outbox(&self, limit: u32, start: u32) -> Result<Vec<OutboxEvent>, Error> {
        let mut out = Vec::new();
        for i in 0..OUTBOX_SHARDS {
            let shard = start.wrapping_add(i) % OUTBOX_SHARDS;
            let left = limit.saturating_sub(out.len() as u32);
            if left == 0 {
                break;
            }
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OUTBOX_INDEX)
                .key_condition_expression(format!("{OUTBOX_PK} = :pk"))
                .expression_attribute_values(":pk", av_s(format!("{PENDING}{shard}")))
                .limit(i32::try_from(left).unwrap_or(100))
                .send()
                .await
                .map_err(sdk_error)?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(item)?);
            }
        }
        Ok(out)
    }

    async fn claim_relay(&self, e: &OutboxEvent, now: DateTime<Utc>, lease_secs: i64) -> Result<RelayClaim, Error> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(outbox(&e.company_id, &e.id.to_string()))))
            .update_expression("SET relay_until = :until ADD relay_attempts :one")
            .condition_expression(format!(
                "begins_with({OUTBOX_PK}, :pending) AND (attribute_not_exists(relay_until) OR relay_until < :now)"
            ))
            .expression_attribute_values(":until", n(now.timestamp() + lease_secs))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", av_s(PENDING))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match res {
            Ok(out) => {
                let count = |name: &str| {
                    out.attributes
                        .as_ref()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|s| s.parse().ok())
                };
                Ok(RelayClaim::Claimed {
                    attempts: count("relay_attempts").unwrap_or(1),
                    failures: count("relay_failures").unwrap_or(0),
                })
            }
            Err(SdkError::ServiceError(se)) => match se.into_err() {
                UpdateItemError::ConditionalCheckFailedException(f) => {
                    let pending = f
                        .item
                        .as_ref()
                        .and_then(|i| i.get(OUTBOX_PK))
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|pk| pk.starts_with(PENDING));
                    Ok(if pending { RelayClaim::Busy } else { RelayClaim::Done })
                }
                other => Err(Error::internal(other)),
            },
            Err(e) => Err(Error::internal(e)),
        }
    }

    async fn fail_relay(&self, e: &OutboxEvent) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(outbox(&e.company_id, &e.id.to_string()))))
            .update_expression("ADD relay_failures :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn mark_relayed(&self, e: &OutboxEvent, now: DateTime<Utc>) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(outbox(&e.company_id, &e.id.to_string()))))
            .update_expression(format!(
                "REMOVE {OUTBOX_PK}, {OUTBOX_SK}, relay_until SET relayed_at = :now"
            ))
            .expression_attribute_values(":now", av_s(now.to_rfc3339()))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Each record written whole as relayed (a `BatchWriteItem` cannot update): the same
    /// item `mark_relayed` leaves, less the claim's counters, which only a pending record
    /// needs.
    async fn mark_relayed_all(&self, events: &[OutboxEvent], now: DateTime<Utc>) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut requests = Vec::with_capacity(events.len());
        for e in events {
            let put = PutRequest::builder()
                .set_item(Some(Self::relayed_item(e, now)?))
                .build()
                .map_err(Error::internal)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.write_batches(requests).await
    }

    async fn park_outbox(&self, e: &OutboxEvent, now: DateTime<Utc>, reason: &str) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(outbox(&e.company_id, &e.id.to_string()))))
            .update_expression(format!(
                "SET {OUTBOX_PK} = :parked, parked_at = :now, parked_reason = :reason REMOVE relay_until"
            ))
            .expression_attribute_values(":parked", av_s(PARKED))
            .expression_attribute_values(":now", av_s(now.to_rfc3339()))
            .expression_attribute_values(":reason", av_s(reason))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn parked_outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>, Error> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OUTBOX_INDEX)
            .key_condition_expression(format!("{OUTBOX_PK} = :pk"))
            .expression_attribute_values(":pk", av_s(PARKED))
            .limit(i32::try_from(limit).unwrap_or(100))
            .send()
            .await
            .map_err(sdk_error)?;
        page.items.unwrap_or_default().into_iter().map(from_item).collect()
    }
}

#[async_trait]
impl NotificationStore for DynamoStore {
    async fn put_user(&self, u: &User) -> Result<(), Error> {
        let mut tx: super::tx::Tx<()> = super::tx::Tx::new(&self.table);
        tx.put(
            user(&u.company_id, u.id.as_str()),
            Self::user_item(u)?,
            None,
            super::tx::Guard::None,
        )?;
        tx.put(
            user_email(&u.company_id, &u.email),
            Self::email_claim(u),
            None,
            super::tx::Guard::None,
        )?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::internal("unconditional user write refused")),
        }
    }

    async fn users_with_roles(&self, c: &CompanyId, roles: &[Role]) -> Result<Vec<User>, Error> {
        let mut out = Vec::new();
        for role in roles {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression(format!("{GSI1PK} = :pk AND begins_with({GSI1SK}, :role)"))
                .expression_attribute_values(":pk", av_s(users_by_role(c)))
                .expression_attribute_values(":role", av_s(format!("{role}#")));
            out.extend(self.query_all::<User>(query).await?);
        }
        Ok(out)
    }

    async fn claim_email(
        &self,
        c: &CompanyId,
        key: &str,
        claim: &str,
        now: DateTime<Utc>,
        lease_secs: i64,
    ) -> Result<EmailClaim, Error> {
        let (pk, sk) = mail_marker(c, key);
        let item = values([
            (PK, av_s(pk)),
            (SK, av_s(sk)),
            (TYPE, av_s("MAIL")),
            ("claim", av_s(claim)),
            ("mail_status", av_s("claimed")),
            ("lease_until", n(now.timestamp() + lease_secs)),
        ]);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR (mail_status = :claimed AND lease_until < :now)")
            .expression_attribute_values(":claimed", av_s("claimed"))
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        let failed = match res {
            Ok(_) => return Ok(EmailClaim::Claimed),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(f) => f,
                other => return Err(Error::internal(other)),
            },
            Err(e) => return Err(Error::internal(e)),
        };
        // Sent, or held by another claim whose lease has not run out.
        let old = failed.item.unwrap_or_default();
        if old.get("mail_status").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("sent") {
            return Ok(EmailClaim::AlreadySent);
        }
        let until = old
            .get("lease_until")
            .and_then(|v| v.as_n().ok())
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or(now);
        Ok(EmailClaim::HeldByOther { until })
    }

    async fn mark_email_sent(&self, c: &CompanyId, key: &str, claim: &str, now: DateTime<Utc>) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(mail_marker(c, key))))
            .update_expression("SET mail_status = :sent, sent_at = :now REMOVE lease_until")
            .condition_expression("claim = :claim")
            .expression_attribute_values(":sent", av_s("sent"))
            .expression_attribute_values(":now", av_s(now.to_rfc3339()))
            .expression_attribute_values(":claim", av_s(claim))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn release_email(&self, c: &CompanyId, key: &str, claim: &str) -> Result<(), Error> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(mail_marker(c, key))))
            .condition_expression("claim = :claim AND mail_status = :claimed")
            .expression_attribute_values(":claim", av_s(claim))
            .expression_attribute_values(":claimed", av_s("claimed"))
            .send()
            .await;
        // A failed condition means the claim is no longer ours: nothing to give back.
        match res {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(()),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// The shards' counts and the unsharded counter's, added up (one `BatchGetItem`).
    async fn monthly_usage(&self, c: &CompanyId, month: &str) -> Result<u32, Error> {
        let (legacy, shards) = self.usage_counts(c, month).await?;
        Ok(shards.iter().map(|s| s.orders).fold(legacy, u32::saturating_add))
    }
}
