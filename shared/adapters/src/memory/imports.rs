//! Product imports in the in-memory store (as `dynamo::imports`): a step checks the job's
//! position and every product it writes before it changes anything, under the one lock.

use async_trait::async_trait;

use oms_domain::audit::AuditEntry;
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, ImportId};
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{ImportStep, ImportStore, ImportWrite};
use oms_domain::usecases::import::{ImportJob, ImportRow};

use super::MemoryStore;

#[async_trait]
impl ImportStore for MemoryStore {
    async fn create_import(&self, job: &ImportJob, rows: &[ImportRow], event: &OutboxEvent) -> Result<(), Error> {
        let mut s = self.lock();
        s.imports
            .insert((job.company_id.clone(), job.id), (job.clone(), rows.to_vec()));
        s.push_outbox(event.clone());
        Ok(())
    }

    async fn get_import(&self, c: &CompanyId, id: ImportId) -> Result<Option<ImportJob>, Error> {
        Ok(self.lock().imports.get(&(c.clone(), id)).map(|(j, _)| j.clone()))
    }

    async fn import_rows(&self, c: &CompanyId, id: ImportId, from: u64, limit: usize) -> Result<Vec<ImportRow>, Error> {
        let s = self.lock();
        let Some((_, rows)) = s.imports.get(&(c.clone(), id)) else {
            return Ok(Vec::new());
        };
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        Ok(rows.iter().skip(from).take(limit).cloned().collect())
    }

    async fn apply_import_step(
        &self,
        before: &ImportJob,
        after: &ImportJob,
        writes: &[ImportWrite],
        audit: Option<&AuditEntry>,
    ) -> Result<ImportStep, Error> {
        let mut s = self.lock();
        let c = &before.company_id;
        match s.imports.get(&(c.clone(), before.id)) {
            Some((job, _)) if job.applied_rows == before.applied_rows => {}
            _ => return Ok(ImportStep::JobMoved),
        }
        for w in writes {
            let fresh = match w {
                ImportWrite::Create(p) => !s.skus.contains_key(&(c.clone(), p.sku.key())),
                ImportWrite::Update { before, .. } => s
                    .products
                    .get(&(c.clone(), before.id))
                    .is_some_and(|p| p.version == before.version && p.stock == before.stock),
            };
            if !fresh {
                return Ok(ImportStep::ProductsMoved);
            }
        }
        for w in writes {
            let p = match w {
                ImportWrite::Create(p) => {
                    s.skus.insert((c.clone(), p.sku.key()), p.id);
                    p
                }
                ImportWrite::Update { after, .. } => after,
            };
            s.products.insert((c.clone(), p.id), p.clone());
        }
        if let Some((job, _)) = s.imports.get_mut(&(c.clone(), before.id)) {
            *job = after.clone();
        }
        s.audit.extend(audit.cloned());
        Ok(ImportStep::Applied)
    }
}
