//! Integrations, their webhook deliveries (with the webhook-id claims that deduplicate
//! them) and the customers they know by their own ids.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

use oms_domain::audit::AuditEntry;
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, DeliveryId, IntegrationId};
use oms_domain::integration::{Delivery, DeliveryPayload, DeliveryStatus, Integration};
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{IntegrationStore, Page, PageRequest, RecordedDelivery};

use super::keys::*;
use super::tx::{n, Guard, Tx};
use super::{av_s, from_item, sdk_error, to_item, values, DynamoStore, Item, NOT_EXISTS};

#[derive(Clone, Debug)]
enum Claim {
    Delivery,
    WebhookId,
    Version,
}

impl DynamoStore {
    fn integration_item(i: &Integration) -> Result<Item, Error> {
        let mut item = to_item(i)?;
        item.insert(TYPE.into(), av_s("INTEGRATION"));
        item.insert(GSI1PK.into(), av_s(integrations_of(&i.company_id)));
        item.insert(GSI1SK.into(), av_s(format!("{}#{}", i.created_at.to_rfc3339(), i.id)));
        Ok(item)
    }

    /// The delivery (no payload: list pages stay small) under two indexes: all of the
    /// integration's deliveries (GSI1) and those in its current status (GSI2), newest first.
    fn delivery_item(d: &Delivery) -> Result<Item, Error> {
        let mut item = to_item(d)?;
        let sort = format!("{}#{}", d.received_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), d.id);
        item.insert(TYPE.into(), av_s("DELIVERY"));
        item.insert(GSI1PK.into(), av_s(deliveries_of(&d.company_id, d.integration_id)));
        item.insert(GSI1SK.into(), av_s(sort.clone()));
        item.insert(
            GSI2PK.into(),
            av_s(deliveries_in(&d.company_id, d.integration_id, d.status.as_str())),
        );
        item.insert(GSI2SK.into(), av_s(sort));
        Ok(item)
    }
}

impl DynamoStore {
    /// Test support: writes a delivery as given, without the `received` guard (to put the
    /// table in the state a crashed worker leaves).
    pub async fn put_delivery_for_tests(&self, d: &Delivery) -> Result<(), Error> {
        let mut item = Self::delivery_item(d)?;
        item.extend(super::key_of(delivery(&d.company_id, d.id)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn create_integration(&self, i: &Integration, audit: &AuditEntry) -> Result<(), Error> {
        let mut tx = Tx::new(&self.table);
        tx.put(
            integration(i.id),
            Self::integration_item(i)?,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(Claim::Version),
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::internal("integration id collision")),
        }
    }

    async fn find_integration(&self, id: IntegrationId) -> Result<Option<Integration>, Error> {
        self.get(integration(id)).await?.map(from_item).transpose()
    }

    async fn update_integration(
        &self,
        before: &Integration,
        after: &Integration,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        let mut tx = Tx::new(&self.table);
        tx.put(
            integration(after.id),
            Self::integration_item(after)?,
            Some(("version = :v", values([(":v", n(before.version))]))),
            Guard::Rule(Claim::Version),
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::Conflict {
                code: "version_conflict",
                message: format!("integration {} changed meanwhile; reload and retry", before.id),
            }),
        }
    }

    async fn list_integrations(&self, c: &CompanyId) -> Result<Vec<Integration>, Error> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression(format!("{GSI1PK} = :pk"))
            .expression_attribute_values(":pk", av_s(integrations_of(c)));
        self.query_all(query).await
    }

    async fn record_delivery(
        &self,
        d: &Delivery,
        payload: &DeliveryPayload,
        event: &OutboxEvent,
    ) -> Result<RecordedDelivery, Error> {
        let c = &d.company_id;
        let mut tx = Tx::new(&self.table);
        tx.put(
            delivery(c, d.id),
            Self::delivery_item(d)?,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(Claim::Delivery),
        )?;
        let mut body = to_item(payload)?;
        body.insert(TYPE.into(), av_s("DELIVERY_PAYLOAD"));
        tx.put(
            delivery_payload(c, d.id),
            body,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(Claim::Delivery),
        )?;
        if let Some(w) = &d.webhook_id {
            tx.put(
                webhook_id_claim(c, d.integration_id, w),
                values([("delivery_id", av_s(d.id.to_string()))]),
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(Claim::WebhookId),
            )?;
        }
        Self::outbox_put(&mut tx, event)?;
        let failed = match tx.commit(&self.client).await? {
            Ok(()) => return Ok(RecordedDelivery::New),
            Err(failed) => failed,
        };
        // The webhook id was seen: answer with the delivery that has it.
        let earlier = failed
            .iter()
            .find(|f| matches!(f.guard, Claim::WebhookId))
            .and_then(|f| f.old.as_ref())
            .and_then(|o| o.get("delivery_id"))
            .and_then(|v| v.as_s().ok())
            .and_then(|s| DeliveryId::parse(s).ok())
            .ok_or_else(|| Error::internal("delivery id collision"))?;
        let found = self
            .get_delivery(c, earlier)
            .await?
            .ok_or_else(|| Error::internal("a webhook id claim without its delivery"))?;
        Ok(RecordedDelivery::Replay(Box::new(found)))
    }

    async fn get_delivery(&self, c: &CompanyId, id: DeliveryId) -> Result<Option<Delivery>, Error> {
        self.get(delivery(c, id)).await?.map(from_item).transpose()
    }

    async fn get_delivery_payload(&self, c: &CompanyId, id: DeliveryId) -> Result<Option<DeliveryPayload>, Error> {
        self.get(delivery_payload(c, id)).await?.map(from_item).transpose()
    }

    async fn list_deliveries(
        &self,
        c: &CompanyId,
        integration: IntegrationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, Error> {
        let (index, pk_attr, pk) = match status {
            None => (GSI1, GSI1PK, deliveries_of(c, integration)),
            Some(s) => (GSI2, GSI2PK, deliveries_in(c, integration, s.as_str())),
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("{pk_attr} = :pk"))
            .expression_attribute_values(":pk", av_s(pk))
            .scan_index_forward(false);
        self.one_page(c, query, page).await
    }

    async fn update_delivery(&self, d: &Delivery) -> Result<bool, Error> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some({
                let mut item = Self::delivery_item(d)?;
                item.extend(super::key_of(delivery(&d.company_id, d.id)));
                item
            }))
            .condition_expression("#status = :received")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":received", av_s(DeliveryStatus::Received.as_str()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(Error::internal(other)),
            },
            Err(e) => Err(Error::internal(e)),
        }
    }

    async fn retry_delivery(&self, d: &Delivery, event: &OutboxEvent) -> Result<bool, Error> {
        let mut tx = Tx::new(&self.table);
        tx.update(
            delivery(&d.company_id, d.id),
            "SET #status = :received, updated_at = :now, GSI2PK = :received_key",
            Some("#status = :failed"),
            HashMap::from([("#status".to_owned(), "status".to_owned())]),
            values([
                (":received", av_s(DeliveryStatus::Received.as_str())),
                (":failed", av_s(DeliveryStatus::Failed.as_str())),
                (":now", av_s(d.updated_at.to_rfc3339())),
                (
                    ":received_key",
                    av_s(deliveries_in(
                        &d.company_id,
                        d.integration_id,
                        DeliveryStatus::Received.as_str(),
                    )),
                ),
            ]),
            Guard::Rule(Claim::Delivery),
        )?;
        Self::outbox_put(&mut tx, event)?;
        Ok(tx.commit(&self.client).await?.is_ok())
    }

    async fn find_customer_for(
        &self,
        c: &CompanyId,
        integration: IntegrationId,
        external_id: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<CustomerId>, Error> {
        if let Some(x) = external_id.filter(|x| !x.is_empty()) {
            if let Some(item) = self.get(external_customer(c, integration, x)).await? {
                if let Some(id) = item.get("customer_id").and_then(|v| v.as_s().ok()) {
                    return Ok(Some(CustomerId::parse(id)?));
                }
            }
        }
        let Some(email) = email else { return Ok(None) };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .key_condition_expression(format!("{GSI2PK} = :pk"))
            .expression_attribute_values(":pk", av_s(customers_by_email(c, email)))
            .limit(1)
            .send()
            .await
            .map_err(sdk_error)?;
        let found = out.items.unwrap_or_default().into_iter().next();
        found
            .and_then(|i| i.get("id").and_then(|v| v.as_s().ok()).cloned())
            .map(|id| CustomerId::parse(&id))
            .transpose()
    }

    async fn link_customer(
        &self,
        c: &CompanyId,
        integration: IntegrationId,
        external_id: &str,
        customer: CustomerId,
    ) -> Result<(), Error> {
        let (pk, sk) = external_customer(c, integration, external_id);
        let item: Item = HashMap::from([
            (PK.to_owned(), av_s(pk)),
            (SK.to_owned(), av_s(sk)),
            (TYPE.to_owned(), av_s("CUSTOMER_LINK")),
            ("customer_id".to_owned(), AttributeValue::S(customer.to_string())),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
