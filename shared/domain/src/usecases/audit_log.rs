//! Reading the audit log (SPEC §9): by entity, action, actor and time, newest first.

use crate::audit::AuditEntry;
use crate::auth::{Actor, Permission};
use crate::error::Error;
use crate::ports::{AuditFilter, Deps, Page, PageRequest};

pub async fn list_audit(
    deps: &Deps,
    actor: &Actor,
    filter: AuditFilter,
    page: PageRequest,
) -> Result<Page<AuditEntry>, Error> {
    actor.require(Permission::AuditRead)?;
    if filter.entity_id.is_some() && filter.entity.is_none() {
        return Err(Error::invalid(
            "entity_id",
            "entity_id needs entity (order, product, customer, settings)",
        ));
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(Error::invalid("from", "from must not be after to"));
        }
    }
    deps.store.list_audit(&actor.company_id, &filter, &page).await
}
