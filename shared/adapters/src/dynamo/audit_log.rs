//! Reading the audit log: one `Query` per page, on the entity's partition or the actor's
//! index partition (GSI2), or the company's timeline (GSI1, write-sharded: its four
//! partitions at once, merged), newest first; the filters the key cannot express narrow
//! that page.

use async_trait::async_trait;

use oms_domain::audit::AuditEntry;
use oms_domain::error::Error;
use oms_domain::ids::CompanyId;
use oms_domain::ports::{AuditFilter, AuditStore, Page, PageRequest};

use super::keys::*;
use super::reads::{Filter, Segment};
use super::{av_s, DynamoStore, Item};

#[async_trait]
impl AuditStore for DynamoStore {
    async fn list_audit(&self, c: &CompanyId, f: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEntry>, Error> {
        if f.entity_id.is_none() && f.actor.is_none() {
            return self.audit_timeline(c, f, page).await;
        }
        let (index, pk_attr, sk_attr, pk) = match (&f.entity, &f.entity_id, &f.actor) {
            (Some(kind), Some(id), _) => (None, PK, SK, audit(c, kind.as_str(), id, "").0),
            (_, _, Some(actor)) => (Some(GSI2), GSI2PK, GSI2SK, audit_by_actor(c, actor.as_str())),
            _ => (Some(GSI1), GSI1PK, GSI1SK, audit_by_time(c)),
        };
        let mut vals: Item = [(":pk".to_owned(), av_s(pk))].into();
        let mut key = format!("{pk_attr} = :pk");
        // Sort keys start with the RFC 3339 time, so a time range is a key range.
        let lo = f.from.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        let hi = f.to.map(|t| format!("{}~", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")));
        if lo.is_some() || hi.is_some() {
            key.push_str(&format!(" AND {sk_attr} BETWEEN :lo AND :hi"));
            vals.insert(":lo".into(), av_s(lo.unwrap_or_else(|| "0".into())));
            vals.insert(":hi".into(), av_s(hi.unwrap_or_else(|| "~".into())));
        }
        let mut filters = Vec::new();
        if let Some(a) = f.action {
            filters.push("#action = :action");
            vals.insert(
                ":action".into(),
                serde_dynamo::to_attribute_value(a).map_err(Error::internal)?,
            );
        }
        if f.entity_id.is_none() {
            if let Some(e) = f.entity {
                filters.push("#entity = :entity");
                vals.insert(":entity".into(), av_s(e.as_str()));
            }
        }
        // On the entity's partition the actor is a filter; otherwise it chose GSI2.
        if index.is_none() {
            if let Some(actor) = &f.actor {
                filters.push("actor_id = :actor");
                vals.insert(":actor".into(), av_s(actor.as_str()));
            }
        }
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(key)
            .set_expression_attribute_values(Some(vals))
            .scan_index_forward(false);
        if !filters.is_empty() {
            q = q.filter_expression(filters.join(" AND "));
            if f.action.is_some() {
                q = q.expression_attribute_names("#action", "action");
            }
            if f.entity.is_some() && f.entity_id.is_none() {
                q = q.expression_attribute_names("#entity", "entity");
            }
        }
        self.one_page(c, q, page).await
    }
}

impl DynamoStore {
    /// The company's timeline: every entry, newest first, its four partitions merged.
    async fn audit_timeline(
        &self,
        c: &CompanyId,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, Error> {
        // Sort keys start with the RFC 3339 time, so a time range is a key range.
        let lo = f.from.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        let hi = f.to.map(|t| format!("{}~", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")));
        let mut seg = Segment::on(GSI1, GSI1PK, GSI1SK, audit_by_time(c)).across();
        if lo.is_some() || hi.is_some() {
            seg = seg.range(
                Some(lo.unwrap_or_else(|| "0".into())),
                Some(hi.unwrap_or_else(|| "~".into())),
            );
        }
        let mut filter = Filter::default();
        if let Some(a) = f.action {
            filter.eq("action", serde_dynamo::to_attribute_value(a).map_err(Error::internal)?);
        }
        if let Some(e) = f.entity {
            filter.eq("entity", av_s(e.as_str()));
        }
        self.fill(c, &[seg], false, &filter, &|_: &AuditEntry| true, page).await
    }
}
