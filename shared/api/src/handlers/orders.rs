//! Order endpoints.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::ids::OrderId;
use oms_domain::order::Order;
use oms_domain::usecases::orders::get_order as get_order_uc;
use oms_domain::usecases::place_order::{place_order, CreateOrderRequest, PlaceOrder, Placement};
use oms_domain::usecases::request_fingerprint;

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{idempotency_key, json_body, path_id};
use crate::App;

/// Place an order (storefront, dashboard or API, decided by the token and `customer_id`).
#[utoipa::path(
    post, path = "/api/v1/sales/orders", tag = "orders", operation_id = "create_order",
    request_body = CreateOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body returns the first response; a different body answers 422.")),
    responses(
        (status = 201, description = "The order was placed (or this is the first response to a retried Idempotency-Key).", body = Data<Order>),
        (status = 200, description = "An integration resent an origin_order_id it already placed: the existing order.", body = Data<Order>),
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
        let mut resp = ok(status, &order);
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
    params(("id" = String, Path, description = "Order id (UUID)")),
    responses(
        (status = 200, description = "The order.", body = Data<Order>),
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
        Ok(ok(StatusCode::OK, &order))
    })
    .await
}
