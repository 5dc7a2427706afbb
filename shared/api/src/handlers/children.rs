//! Child orders (SPEC §10): returns and invoices made from a sale, and invoices' payments.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::ids::OrderId;
use oms_domain::order::Order;
use oms_domain::usecases::child_orders::{self as uc, CreateChildRequest, RecordPaymentRequest};

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::request::{json_body, path_id};
use crate::App;

/// Make a **return** (from a delivered or completed order: the lines and quantities taken
/// back, optionally restocked in the same transaction) or an **invoice** (from any placed
/// order: the lines billed) from an order's lines; without `lines`, every line not on
/// another live child of the kind, whole. The child starts `pending`; its lines remember the parent line
/// (`parent_line_no`); a parent line is on at most one live child of each kind. The
/// parent lists it in `children`, written in the same transaction. Child orders are in no
/// order list, search or count: read them by id, or from the parent.
#[utoipa::path(
    post, path = "/api/v1/sales/orders/{id}/children", tag = "orders", operation_id = "create_child_order",
    params(("id" = String, Path, format = Uuid, description = "The parent order's id (UUID); anything else is 404")),
    request_body = CreateChildRequest,
    responses(
        (status = 201, description = "The child order.", body = Data<Order>, headers(("Location" = String, description = "The child order's URL."))),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:status (or stock:adjust for restock).", body = ErrorBody),
        (status = 404, description = "No such order for this company.", body = ErrorBody),
        (status = 409, description = "child_not_allowed (the parent's status or kind, or 50 children already) or lines_in_use (every line is on a live child of the kind already).", body = ErrorBody),
        (status = 422, description = "validation_error naming each field: an unknown kind, a line the order lacks, named twice or on another child of the kind, a quantity over the line's.", body = ErrorBody),
        (status = 503, description = "contention: the parent kept changing; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_child_order(app: &App, req: Request) -> Response<Body> {
    run("create_child_order", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        let (body, _): (CreateChildRequest, _) = json_body(&req)?;
        let child = uc::create_child(&app.deps, &actor, id, body).await?;
        let mut resp = ok(StatusCode::CREATED, &child);
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/sales/orders/{}", child.id)) {
            resp.headers_mut().insert("location", loc);
        }
        Ok(resp)
    })
    .await
}

/// Record a payment (or, `kind: refund`, money given back) on an invoice order: its
/// `payments`, `paid_amount`, `is_paid` and `financial_status`, and its parent's
/// `paid_amount`, in one transaction. A payment is at most what is still owed, a refund at
/// most what was paid. While a completed order's invoices hold payments, it cannot be
/// rolled back.
#[utoipa::path(
    post, path = "/api/v1/sales/orders/{id}/payments", tag = "orders", operation_id = "record_payment",
    params(("id" = String, Path, format = Uuid, description = "The invoice order's id (UUID); anything else is 404")),
    request_body = RecordPaymentRequest,
    responses(
        (status = 201, description = "The invoice after the payment.", body = Data<Order>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks payments:record (OWNER, ADMIN, FINANCE).", body = ErrorBody),
        (status = 404, description = "No such order for this company.", body = ErrorBody),
        (status = 409, description = "not_an_open_invoice: the order is not an invoice, or is cancelled.", body = ErrorBody),
        (status = 422, description = "validation_error: an amount of 0, over what is owed (or paid, for a refund), with too many decimals; an unknown kind; a method or reference too long.", body = ErrorBody),
        (status = 503, description = "contention: the invoice or its parent kept changing; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn record_payment(app: &App, req: Request) -> Response<Body> {
    run("record_payment", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        let (body, _): (RecordPaymentRequest, _) = json_body(&req)?;
        Ok(ok(
            StatusCode::CREATED,
            uc::record_payment(&app.deps, &actor, id, body).await?,
        ))
    })
    .await
}
