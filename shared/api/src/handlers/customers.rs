//! Customer endpoints and negotiated prices.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::catalog::{Customer, PriceOverride};
use oms_domain::ids::{CustomerId, ProductId};
use oms_domain::usecases::customers as uc;
use oms_domain::usecases::customers::{CreateCustomerRequest, CustomerView, SetPriceRequest};

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::request::{json_body, path_id};
use crate::App;

#[utoipa::path(
    post, path = "/api/v1/customers", tag = "customers", operation_id = "create_customer",
    request_body = CreateCustomerRequest,
    responses(
        (status = 201, description = "Created, with the next CUST- number.", body = Data<Customer>, headers(("Location" = String, description = "The customer's URL."))),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks customers:write.", body = ErrorBody),
        (status = 422, description = "validation_error naming each field.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_customer(app: &App, req: Request) -> Response<Body> {
    run("create_customer", &req, async {
        let actor = actor(&req)?;
        let (body, _): (CreateCustomerRequest, _) = json_body(&req)?;
        let c = uc::create_customer(&app.deps, &actor, body).await?;
        let mut resp = ok(StatusCode::CREATED, &c);
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/customers/{}", c.id)) {
            resp.headers_mut().insert("location", loc);
        }
        Ok(resp)
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/customers/{id}", tag = "customers", operation_id = "get_customer",
    params(("id" = String, Path, format = Uuid, description = "Customer id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The customer with its negotiated prices.", body = Data<CustomerView>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks customers:read (a customer may read itself).", body = ErrorBody),
        (status = 404, description = "No such customer for this company.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_customer(app: &App, req: Request) -> Response<Body> {
    run("get_customer", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "customer", CustomerId::parse)?;
        Ok(ok(StatusCode::OK, uc::get_customer(&app.deps, &actor, id).await?))
    })
    .await
}

/// Set this customer's price for one product (used instead of the catalog price).
#[utoipa::path(
    put, path = "/api/v1/customers/{id}/prices/{product_id}", tag = "customers", operation_id = "set_customer_price",
    params(("id" = String, Path, format = Uuid, description = "Customer id (UUID); anything else is 404"), ("product_id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    request_body = SetPriceRequest,
    responses(
        (status = 200, description = "The negotiated price.", body = Data<PriceOverride>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:price_override.", body = ErrorBody),
        (status = 404, description = "No such customer or product for this company.", body = ErrorBody),
        (status = 422, description = "validation_error (negative price, too many decimals).", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn set_customer_price(app: &App, req: Request) -> Response<Body> {
    run("set_customer_price", &req, async {
        let actor = actor(&req)?;
        let customer = path_id(&req, "id", "customer", CustomerId::parse)?;
        let product = path_id(&req, "product_id", "product", ProductId::parse)?;
        let (body, _): (SetPriceRequest, _) = json_body(&req)?;
        Ok(ok(
            StatusCode::OK,
            uc::set_price_override(&app.deps, &actor, customer, product, body).await?,
        ))
    })
    .await
}
