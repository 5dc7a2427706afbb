//! Integrations (`integrations:write`), their delivery log, and the webhook intake (no JWT:
//! the integration's signature over the raw body is the authentication).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use oms_domain::ids::{DeliveryId, IntegrationId};
use oms_domain::integration::{Delivery, DeliveryDetail, DeliveryStatus, IntegrationView};
use oms_domain::usecases::webhooks::{
    self as uc, CreateIntegrationRequest, Intake, IntegrationWithSecret, NewIntegration, WebhookOrder,
};

use super::{list_page, ok, run, Data, ListResponse};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{body_bytes, json_body, path_id, query, MAX_BODY_BYTES};
use crate::App;

/// Create an integration: its webhook URL and secret (shown only here and on rotation).
#[utoipa::path(
    post, path = "/api/v1/integrations", tag = "integrations", operation_id = "create_integration",
    request_body = NewIntegration,
    responses(
        (status = 201, description = "Created: the webhook URL to configure, and the secret (shown only now).", body = Data<IntegrationWithSecret>),
        (status = 403, description = "The role lacks integrations:write (OWNER and ADMIN have it).", body = ErrorBody),
        (status = 422, description = "validation_error: a missing name or kind, a secret for a standard integration, or a platform secret out of bounds.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_integration(app: &App, req: Request) -> Response<Body> {
    run("create_integration", &req, async {
        let actor = actor(&req)?;
        let (body, _): (CreateIntegrationRequest, _) = json_body(&req)?;
        let created = uc::create_integration(&app.deps, &actor, body, &app.base_url).await?;
        Ok(ok(StatusCode::CREATED, created))
    })
    .await
}

/// The company's integrations (never a secret).
#[utoipa::path(
    get, path = "/api/v1/integrations", tag = "integrations", operation_id = "list_integrations",
    responses(
        (status = 200, description = "Every integration of the company, oldest first.", body = Data<Vec<IntegrationView>>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_integrations(app: &App, req: Request) -> Response<Body> {
    run("list_integrations", &req, async {
        let actor = actor(&req)?;
        Ok(ok(
            StatusCode::OK,
            uc::list_integrations(&app.deps, &actor, &app.base_url).await?,
        ))
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/integrations/{id}", tag = "integrations", operation_id = "get_integration",
    params(("id" = String, Path, format = Uuid, description = "Integration id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The integration (never its secret).", body = Data<IntegrationView>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
        (status = 404, description = "No such integration for this company.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_integration(app: &App, req: Request) -> Response<Body> {
    run("get_integration", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "integration", IntegrationId::parse)?;
        Ok(ok(
            StatusCode::OK,
            uc::get_integration(&app.deps, &actor, id, &app.base_url).await?,
        ))
    })
    .await
}

/// A new secret; the previous one keeps verifying for 24 hours.
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/rotate-secret", tag = "integrations", operation_id = "rotate_integration_secret",
    params(("id" = String, Path, format = Uuid, description = "Integration id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The new secret (shown only now); the old one verifies until previous_secret_expires_at.", body = Data<IntegrationWithSecret>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
        (status = 404, description = "No such integration for this company.", body = ErrorBody),
        (status = 409, description = "version_conflict: changed meanwhile.", body = ErrorBody),
        (status = 410, description = "integration_disabled.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_integration_secret(app: &App, req: Request) -> Response<Body> {
    run("rotate_integration_secret", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "integration", IntegrationId::parse)?;
        Ok(ok(
            StatusCode::OK,
            uc::rotate_secret(&app.deps, &actor, id, &app.base_url).await?,
        ))
    })
    .await
}

/// Disable the integration: its deliveries answer 410 from now on (its history stays).
#[utoipa::path(
    delete, path = "/api/v1/integrations/{id}", tag = "integrations", operation_id = "delete_integration",
    params(("id" = String, Path, format = Uuid, description = "Integration id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The integration, disabled.", body = Data<IntegrationView>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
        (status = 404, description = "No such integration for this company.", body = ErrorBody),
        (status = 409, description = "version_conflict: changed meanwhile.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_integration(app: &App, req: Request) -> Response<Body> {
    run("delete_integration", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "integration", IntegrationId::parse)?;
        Ok(ok(
            StatusCode::OK,
            uc::disable_integration(&app.deps, &actor, id, &app.base_url).await?,
        ))
    })
    .await
}

/// What the intake answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryReceipt {
    pub delivery_id: Option<DeliveryId>,
    /// `received` (new, 202), the earlier delivery's status for a replay (200), or `ping`.
    pub status: String,
}

/// Receive an order webhook from an integration. No bearer token: the request is
/// authenticated by the integration's signature over the raw body (Standard Webhooks
/// headers, `X-Shopify-Hmac-Sha256`, or `X-WC-Webhook-Signature`). A verified delivery is
/// stored with its raw body before the answer, and placed by a worker; a replayed webhook
/// id answers the earlier delivery. The `standard` body is `WebhookOrder`.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{integration_id}/orders", tag = "integrations", operation_id = "receive_webhook",
    params(
        ("integration_id" = String, Path, format = Uuid, description = "The integration's id (in its webhook URL)"),
        ("webhook-id" = Option<String>, Header, description = "Standard Webhooks: the delivery's id."),
        ("webhook-timestamp" = Option<String>, Header, description = "Standard Webhooks: seconds since the epoch, within 5 minutes."),
        ("webhook-signature" = Option<String>, Header, description = "Standard Webhooks: `v1,<base64>`, space-separated during a rotation."),
        ("X-Shopify-Hmac-Sha256" = Option<String>, Header, description = "Shopify: base64 HMAC-SHA256 of the body."),
        ("X-WC-Webhook-Signature" = Option<String>, Header, description = "WooCommerce: base64 HMAC-SHA256 of the body."),
    ),
    request_body(content = WebhookOrder, description = "A `standard` integration's order; Shopify's and WooCommerce's own order payloads for theirs."),
    responses(
        (status = 202, description = "Verified and recorded; a worker places it.", body = Data<DeliveryReceipt>),
        (status = 200, description = "A replayed webhook id (the earlier delivery), or WooCommerce's set-up ping.", body = Data<DeliveryReceipt>),
        (status = 401, description = "unauthorized: a missing or bad signature, a stale timestamp, or an unknown integration. Nothing stored.", body = ErrorBody),
        (status = 410, description = "integration_disabled: the integration was deleted. Nothing stored.", body = ErrorBody),
        (status = 413, description = "Body over 256 KiB.", body = ErrorBody),
    ),
    security(())
)]
pub async fn receive_webhook(app: &App, req: Request) -> Response<Body> {
    run("receive_webhook", &req, async {
        let body = body_bytes(&req);
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::http(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body is {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
            ));
        }
        let id = req
            .path_parameters_ref()
            .and_then(|p| p.first("integration_id"))
            .and_then(|s| IntegrationId::parse(s).ok())
            .ok_or_else(|| ApiError::unauthorized("no such integration, or a bad signature"))?;
        // A header sent twice (Standard Webhooks signatures during a rotation) is read as
        // one space-separated list.
        let headers = req.headers();
        let header = |name: &str| -> Option<String> {
            let joined = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        };
        Ok(match uc::receive(&app.deps, id, &header, body).await? {
            Intake::Accepted(d) => ok(
                StatusCode::ACCEPTED,
                DeliveryReceipt {
                    delivery_id: Some(d.id),
                    status: d.status.as_str().to_owned(),
                },
            ),
            Intake::Replayed(d) => ok(
                StatusCode::OK,
                DeliveryReceipt {
                    delivery_id: Some(d.id),
                    status: d.status.as_str().to_owned(),
                },
            ),
            Intake::Ping => ok(
                StatusCode::OK,
                DeliveryReceipt {
                    delivery_id: None,
                    status: "ping".into(),
                },
            ),
        })
    })
    .await
}

/// The integration's deliveries, newest first.
#[utoipa::path(
    get, path = "/api/v1/integrations/{id}/deliveries", tag = "integrations", operation_id = "list_deliveries",
    params(
        ("id" = String, Path, format = Uuid, description = "Integration id (UUID)"),
        ("status" = Option<DeliveryStatus>, Query, description = "Only deliveries in this status, newest first."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "From links.next."),
    ),
    responses(
        (status = 200, description = "A page of deliveries, each with its status, order, alerts or error, and attempts.", body = ListResponse<Delivery>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
        (status = 404, description = "No such integration for this company.", body = ErrorBody),
        (status = 422, description = "An unknown status or a bad cursor.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_deliveries(app: &App, req: Request) -> Response<Body> {
    run("list_deliveries", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "integration", IntegrationId::parse)?;
        let status = match query(&req, "status") {
            None => None,
            Some(s) => Some(DeliveryStatus::parse(&s).ok_or_else(|| {
                oms_domain::Error::invalid("status", "status is received, placed, held, failed or duplicate")
            })?),
        };
        let scope = format!("deliveries:{id}:{}", status.map_or("", |s| s.as_str()));
        list_page(app, &req, &actor, &scope, |page| {
            uc::list_deliveries(&app.deps, &actor, id, status, page)
        })
        .await
    })
    .await
}

/// One delivery, with its payload as received.
#[utoipa::path(
    get, path = "/api/v1/integrations/{id}/deliveries/{delivery_id}", tag = "integrations", operation_id = "get_delivery",
    params(
        ("id" = String, Path, format = Uuid, description = "Integration id (UUID)"),
        ("delivery_id" = String, Path, format = Uuid, description = "Delivery id (UUID)"),
    ),
    responses(
        (status = 200, description = "The delivery, with its body exactly as received and the headers kept with it.", body = Data<DeliveryDetail>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
        (status = 404, description = "No such integration or delivery for this company.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_delivery(app: &App, req: Request) -> Response<Body> {
    run("get_delivery", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "integration", IntegrationId::parse)?;
        let delivery = path_id(&req, "delivery_id", "delivery", DeliveryId::parse)?;
        Ok(ok(
            StatusCode::OK,
            uc::get_delivery(&app.deps, &actor, id, delivery).await?,
        ))
    })
    .await
}

/// Run a failed delivery again (e.g. after adding the SKU it named).
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/deliveries/{delivery_id}/retry", tag = "integrations", operation_id = "retry_delivery",
    params(
        ("id" = String, Path, format = Uuid, description = "Integration id (UUID)"),
        ("delivery_id" = String, Path, format = Uuid, description = "Delivery id (UUID)"),
    ),
    responses(
        (status = 202, description = "Back to received; the worker places it again.", body = Data<Delivery>),
        (status = 403, description = "The role lacks integrations:write.", body = ErrorBody),
        (status = 404, description = "No such integration or delivery for this company.", body = ErrorBody),
        (status = 409, description = "delivery_not_failed: only a failed delivery is retried.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry_delivery(app: &App, req: Request) -> Response<Body> {
    run("retry_delivery", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "integration", IntegrationId::parse)?;
        let delivery = path_id(&req, "delivery_id", "delivery", DeliveryId::parse)?;
        Ok(ok(
            StatusCode::ACCEPTED,
            uc::retry_delivery(&app.deps, &actor, id, delivery).await?,
        ))
    })
    .await
}
