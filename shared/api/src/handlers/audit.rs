//! The audit log endpoint.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};

use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
use oms_domain::error::Error;
use oms_domain::ids::UserId;
use oms_domain::ports::AuditFilter;
use oms_domain::usecases::audit_log;

use super::{list_page, run, ListResponse};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::query;
use crate::App;

fn parse_enum<T: serde::de::DeserializeOwned>(name: &str, v: &str, options: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::from(v))
        .map_err(|_| Error::invalid(name, format!("`{v}` is not a valid {name}; use one of {options}")).into())
}

fn time(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            v.parse::<chrono::NaiveDate>()
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| Error::invalid(name, format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date")).into())
}

/// Audit entries, newest first: one entity's history (`entity` + `entity_id`), one actor's
/// (`actor`), or the company's, each narrowed by `action` and a time range. Each page is
/// one `Query`; with a filter the key cannot express, a page may hold fewer than
/// `per_page` entries while `links.next` is still set.
#[utoipa::path(
    get, path = "/api/v1/audit-log", tag = "audit", operation_id = "list_audit_log",
    params(
        ("entity" = Option<EntityKind>, Query, description = "Only entries about this kind of entity."),
        ("entity_id" = Option<String>, Query, description = "One entity's history (needs entity)."),
        ("action" = Option<AuditAction>, Query, description = "Only entries of this action."),
        ("actor" = Option<String>, Query, pattern = r"^[A-Za-z0-9._@|-]{1,64}$", description = "The user id (sub) who acted."),
        ("from" = Option<String>, Query, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$", description = "RFC 3339 time or YYYY-MM-DD, inclusive; not after to."),
        ("to" = Option<String>, Query, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$", description = "RFC 3339 time or YYYY-MM-DD (the whole day), inclusive."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page (opaque; only a cursor this list issued is accepted)."),
    ),
    responses(
        (status = 200, description = "A page of audit entries.", body = ListResponse<AuditEntry>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks audit:read.", body = ErrorBody),
        (status = 422, description = "An invalid parameter, named.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_audit_log(app: &App, req: Request) -> Response<Body> {
    run("list_audit_log", &req, async {
        let actor = actor(&req)?;
        let mut filter = AuditFilter::default();
        if let Some(e) = query(&req, "entity") {
            filter.entity = Some(parse_enum::<EntityKind>(
                "entity",
                &e,
                "order, product, customer, settings",
            )?);
        }
        filter.entity_id = query(&req, "entity_id").filter(|s| !s.is_empty());
        if let Some(a) = query(&req, "action") {
            filter.action = Some(parse_enum::<AuditAction>(
                "action",
                &a,
                "OrderPlaced, OrderStatusChanged, OrderUpdated, ProductCreated, ProductUpdated, ...",
            )?);
        }
        if let Some(a) = query(&req, "actor") {
            filter.actor = Some(UserId::parse(&a).map_err(|_| Error::invalid("actor", "actor is a user id"))?);
        }
        if let Some(t) = query(&req, "from") {
            filter.from = Some(time("from", &t)?);
        }
        if let Some(t) = query(&req, "to") {
            // A bare date means the whole day.
            let end = time("to", &t)?;
            filter.to = Some(if t.len() == 10 {
                end + chrono::Duration::days(1) - chrono::Duration::microseconds(1)
            } else {
                end
            });
        }
        let scope = format!("audit|{filter:?}");
        list_page(app, &req, &actor, &scope, |page| {
            audit_log::list_audit(&app.deps, &actor, filter, page)
        })
        .await
    })
    .await
}
