//! Product imports: the job item, its rows (in items of [`ROWS_PER_ITEM`]), and each step
//! as one transaction: the product writes, the job moved on (only if it is still at the
//! row the step started from), the product counter and, last, the audit entry.

use async_trait::async_trait;
use std::collections::HashMap;

use oms_domain::audit::AuditEntry;
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, ImportId};
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{ImportStep, ImportStore, ImportWrite};
use oms_domain::usecases::import::{ImportJob, ImportRow};

use super::keys::*;
use super::tx::{n, Guard, Tx};
use super::{av_s, from_item, key_of, names, to_item, values, DynamoStore, Item, NOT_EXISTS};

/// Rows per stored item (about 40 KB of JSON at most, under the 400 KB item limit).
pub const ROWS_PER_ITEM: u64 = 200;
/// How long the stored rows are kept after an import starts.
const ROWS_TTL_SECS: i64 = 30 * 24 * 3600;

#[derive(Clone, Debug)]
enum ImportGuard {
    Job,
    Product,
}

#[async_trait]
impl ImportStore for DynamoStore {
    async fn create_import(&self, job: &ImportJob, rows: &[ImportRow], event: &OutboxEvent) -> Result<(), Error> {
        let c = &job.company_id;
        let expires = n(job.created_at.timestamp() + ROWS_TTL_SECS);
        let mut items = Vec::new();
        for (i, chunk) in rows.chunks(ROWS_PER_ITEM as usize).enumerate() {
            let mut item = key_of(import_rows(c, job.id, i as u64));
            item.insert(TYPE.into(), av_s("IMPORT_ROWS"));
            item.insert(
                "rows".into(),
                av_s(serde_json::to_string(chunk).map_err(Error::internal)?),
            );
            item.insert(EXPIRES_AT.into(), expires.clone());
            items.push(item);
        }
        // The rows first: a job (and the event that drives it) never exists without them.
        self.batch_write(items, Vec::new()).await?;
        let mut tx: Tx<ImportGuard> = Tx::new(&self.table);
        let mut item = to_item(job)?;
        item.insert(TYPE.into(), av_s("IMPORT"));
        tx.put(
            import_job(c, job.id),
            item,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(ImportGuard::Job),
        )?;
        Self::outbox_put(&mut tx, event)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::internal("import id collision")),
        }
    }

    async fn get_import(&self, c: &CompanyId, id: ImportId) -> Result<Option<ImportJob>, Error> {
        self.get(import_job(c, id)).await?.map(from_item).transpose()
    }

    async fn import_rows(&self, c: &CompanyId, id: ImportId, from: u64, limit: usize) -> Result<Vec<ImportRow>, Error> {
        let mut out = Vec::new();
        let mut at = from;
        while out.len() < limit {
            let Some(item) = self.get(import_rows(c, id, at / ROWS_PER_ITEM)).await? else {
                break;
            };
            let rows: Vec<ImportRow> = item
                .get("rows")
                .and_then(|v| v.as_s().ok())
                .map(|s| serde_json::from_str(s))
                .transpose()
                .map_err(Error::internal)?
                .unwrap_or_default();
            let skip = usize::try_from(at % ROWS_PER_ITEM).unwrap_or(usize::MAX);
            let before = out.len();
            out.extend(rows.into_iter().skip(skip).take(limit - before));
            if out.len() == before {
                break;
            }
            at += (out.len() - before) as u64;
        }
        Ok(out)
    }

    async fn apply_import_step(
        &self,
        before: &ImportJob,
        after: &ImportJob,
        writes: &[ImportWrite],
        audit: Option<&AuditEntry>,
    ) -> Result<ImportStep, Error> {
        let c = &before.company_id;
        let mut tx: Tx<ImportGuard> = Tx::new(&self.table);
        let mut counted = 0i64;
        for w in writes {
            match w {
                ImportWrite::Create(p) => {
                    Self::product_create_actions(&mut tx, p, ImportGuard::Product, ImportGuard::Product)?;
                    counted += i64::from(p.counted());
                }
                ImportWrite::Update { before, after } => {
                    Self::product_update_actions(&mut tx, before, after, ImportGuard::Product, ImportGuard::Product)?;
                    counted += i64::from(after.counted()) - i64::from(before.counted());
                }
            }
        }
        Self::count_products(&mut tx, c, counted)?;
        let mut set = Vec::new();
        let mut nm = HashMap::new();
        let mut vals = values([(":from", n(before.applied_rows))]);
        let fields = serde_json::to_value(after).map_err(Error::internal)?;
        for (i, field) in [
            "status",
            "applied_rows",
            "created",
            "updated",
            "unchanged",
            "completed_at",
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = fields.get(field) {
                set.push(format!("#j{i} = :j{i}"));
                nm.insert(format!("#j{i}"), field.to_owned());
                vals.insert(
                    format!(":j{i}"),
                    serde_dynamo::to_attribute_value(v).map_err(Error::internal)?,
                );
            }
        }
        nm.extend(names([("#applied", "applied_rows")]));
        tx.update(
            import_job(c, before.id),
            &format!("SET {}", set.join(", ")),
            Some("#applied = :from"),
            nm,
            vals,
            Guard::Rule(ImportGuard::Job),
        )?;
        if let Some(a) = audit {
            Self::audit_put(&mut tx, a)?;
        }
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(ImportStep::Applied),
            Err(failed) if failed.iter().any(|f| matches!(f.guard, ImportGuard::Job)) => Ok(ImportStep::JobMoved),
            Err(_) => Ok(ImportStep::ProductsMoved),
        }
    }
}
