//! Order endpoints.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::ids::OrderId;
use oms_domain::order::Order;
use oms_domain::usecases::lifecycle::{self, ChangeStatusRequest, UpdateOrderRequest};
use oms_domain::usecases::orders::get_order as get_order_uc;
use oms_domain::usecases::place_order::{place_order, CreateOrderRequest, PlaceOrder, Placement};
use oms_domain::usecases::request_fingerprint;

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{idempotency_key, if_match, json_body, path_id};
use crate::App;

/// Place an order (storefront, dashboard or API, decided by the token and `customer_id`).
#[utoipa::path(
    post, path = "/api/v1/sales/orders", tag = "orders", operation_id = "create_order",
    request_body = CreateOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1-255 visible ASCII characters. Retrying with the same key and body returns the first response; a different body answers 422.")),
    responses(
        (status = 201, description = "The order was placed (or this is the first response to a retried Idempotency-Key).", body = Data<Order>,
            headers(
                ("Location" = String, description = "The order's URL."),
                ("ETag" = String, description = "The order's version, quoted (`\"1\"`), for If-Match."),
                ("Idempotent-Replayed" = String, description = "`true` when this is the stored response to a retried Idempotency-Key."),
            )),
        (status = 200, description = "An integration resent an origin_order_id it already placed: the existing order.", body = Data<Order>,
            headers(
                ("Location" = String, description = "The order's URL."),
                ("ETag" = String, description = "The order's version, quoted, for If-Match."),
            )),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks a needed permission (e.g. orders:price_override).", body = ErrorBody),
        (status = 404, description = "An unknown product, SKU or customer (another company's ids included).", body = ErrorBody),
        (status = 409, description = "insufficient_stock, duplicate_order_number or monthly_limit_reached.", body = ErrorBody),
        (status = 413, description = "Body over 256 KiB.", body = ErrorBody),
        (status = 422, description = "validation_error naming each field, too_many_products, idempotency_key_reused.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_order(app: &App, req: Request) -> Response<Body> {
    run("create_order", &req, async {
        let actor = actor(&req)?;
        let (request, raw): (CreateOrderRequest, _) = json_body(&req)?;
        let cmd = PlaceOrder {
            request,
            idempotency_key: idempotency_key(&req)?,
            fingerprint: request_fingerprint(&raw),
        };
        let (status, order, replayed) = match place_order(&app.deps, &actor, cmd).await? {
            Placement::Created(o) => (StatusCode::CREATED, o, false),
            Placement::Replayed(o) => (StatusCode::CREATED, o, true),
            Placement::Existing(o) => (StatusCode::OK, o, false),
        };
        let mut resp = with_etag(ok(status, &order), &order);
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/sales/orders/{}", order.id)) {
            resp.headers_mut().insert("location", loc);
        }
        if replayed {
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok::<_, ApiError>(resp)
    })
    .await
}

/// Read one order with its lines and customer summary.
#[utoipa::path(
    get, path = "/api/v1/sales/orders/{id}", tag = "orders", operation_id = "get_order",
    params(("id" = String, Path, format = Uuid, description = "Order id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The order.", body = Data<Order>, headers(("ETag" = String, description = "The order's version, quoted (`\"3\"`), for If-Match."))),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:read.", body = ErrorBody),
        (status = 404, description = "No such order for this company (or customer).", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_order(app: &App, req: Request) -> Response<Body> {
    run("get_order", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        let order = get_order_uc(&app.deps, &actor, id).await?;
        Ok(with_etag(ok(StatusCode::OK, &order), &order))
    })
    .await
}

/// `ETag: "<version>"`, for `If-Match` on the next change.
fn with_etag(mut resp: Response<Body>, order: &Order) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", order.version)) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

/// Move an order through its lifecycle. One conditional write on the status it is in: of
/// two concurrent changes one wins and the other gets 409 `invalid_transition` naming the
/// status the order is now in. Leaving `draft` places the order (stock and monthly cap);
/// cancelling may return the units (`restock`).
#[utoipa::path(
    post, path = "/api/v1/sales/orders/{id}/status", tag = "orders", operation_id = "change_order_status",
    params(
        ("id" = String, Path, format = Uuid, description = "Order id (UUID); anything else is 404"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[0-9]{1,19}"|[0-9]{1,19})$"#, description = "The ETag you read (`\"3\"`), or `*`; a newer order answers 412, anything else 422."),
    ),
    request_body = ChangeStatusRequest,
    responses(
        (status = 200, description = "The whole order after the change.", body = Data<Order>, headers(("ETag" = String, description = "The order's version, quoted (`\"3\"`), for If-Match."))),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:status (or stock:adjust for restock).", body = ErrorBody),
        (status = 404, description = "No such order for this company.", body = ErrorBody),
        (status = 409, description = "invalid_transition (names the current status), insufficient_stock or monthly_limit_reached when leaving draft.", body = ErrorBody),
        (status = 412, description = "If-Match names an older version.", body = ErrorBody),
        (status = 422, description = "Unknown status, missing cancellation_reason, restock outside a cancel.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn change_order_status(app: &App, req: Request) -> Response<Body> {
    run("change_order_status", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        let (body, _): (ChangeStatusRequest, _) = json_body(&req)?;
        let order = lifecycle::change_status(&app.deps, &actor, id, body, if_match(&req)?).await?;
        Ok(with_etag(ok(StatusCode::OK, &order), &order))
    })
    .await
}

/// Change an order's details. Which fields may change depends on its status: a draft,
/// everything here; pending, pending_approval, confirmed and on_hold: priority, due_date,
/// shipping_info, notes, tags, custom_fields; processing, shipped and delivered: notes,
/// tags, custom_fields; completed and cancelled: nothing (409). Lines never change after
/// placement: cancel and re-create. `PATCH` is an alias.
#[utoipa::path(
    method(put, patch), path = "/api/v1/sales/orders/{id}", tag = "orders", operation_id = "update_order",
    params(
        ("id" = String, Path, format = Uuid, description = "Order id (UUID); anything else is 404"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[0-9]{1,19}"|[0-9]{1,19})$"#, description = "The ETag you read (`\"3\"`), or `*`; a newer order answers 412, anything else 422."),
    ),
    request_body = UpdateOrderRequest,
    responses(
        (status = 200, description = "The whole order after the update.", body = Data<Order>, headers(("ETag" = String, description = "The order's version, quoted (`\"3\"`), for If-Match."))),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:update.", body = ErrorBody),
        (status = 404, description = "No such order for this company.", body = ErrorBody),
        (status = 409, description = "order_closed (completed or cancelled), or version_conflict when the status changed meanwhile.", body = ErrorBody),
        (status = 412, description = "If-Match names an older version.", body = ErrorBody),
        (status = 422, description = "validation_error naming each field that may not change now or is invalid.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_order(app: &App, req: Request) -> Response<Body> {
    run("update_order", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        let (body, _): (UpdateOrderRequest, _) = json_body(&req)?;
        let order = lifecycle::update_order(&app.deps, &actor, id, body, if_match(&req)?).await?;
        Ok(with_etag(ok(StatusCode::OK, &order), &order))
    })
    .await
}
