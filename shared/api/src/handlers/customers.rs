//! Customer endpoints and negotiated prices.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::catalog::{Customer, PriceOverride};
use oms_domain::ids::{CustomerId, ProductId};
use oms_domain::usecases::customers as uc;
use oms_domain::usecases::customers::{CreateCustomerRequest, CustomerView, SetPriceRequest, UpdateCustomerRequest};

use super::{list_page, ok, run, Data, ListResponse};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::request::{json_body, path_id, query};
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

/// The company's customers by customer number, or those found by `q`.
#[utoipa::path(
    get, path = "/api/v1/customers", tag = "customers", operation_id = "list_customers",
    params(
        ("q" = Option<String>, Query, min_length = 1, max_length = 100, description = "A prefix (case-insensitive) of the company name or one of its words, the contact's name, the customer number or the e-mail address."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "From links.next."),
    ),
    responses(
        (status = 200, description = "A page of customers: by number, or with `q` in the order of the matching term.", body = ListResponse<Customer>),
        (status = 403, description = "The role lacks customers:read.", body = ErrorBody),
        (status = 422, description = "An empty or over-long q, a bad per_page or cursor, or an unknown parameter.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_customers(app: &App, req: Request) -> Response<Body> {
    run("list_customers", &req, async {
        let actor = actor(&req)?;
        let q = query(&req, "q");
        let scope = format!("customers:{}", q.as_deref().unwrap_or_default().trim().to_lowercase());
        list_page(app, &req, &actor, &scope, |page| {
            let (deps, actor, q) = (&app.deps, &actor, q.as_deref());
            async move { uc::list_customers(deps, actor, q, &page).await }
        })
        .await
    })
    .await
}

/// Change a customer: absent fields stay, `null` clears the optional ones.
#[utoipa::path(
    patch, path = "/api/v1/customers/{id}", tag = "customers", operation_id = "update_customer",
    params(("id" = String, Path, format = Uuid, description = "Customer id (UUID); anything else is 404")),
    request_body = UpdateCustomerRequest,
    responses(
        (status = 200, description = "The customer after the change.", body = Data<Customer>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 403, description = "The role lacks customers:write.", body = ErrorBody),
        (status = 404, description = "No such customer for this company.", body = ErrorBody),
        (status = 409, description = "version_conflict: changed meanwhile; reload and retry.", body = ErrorBody),
        (status = 422, description = "validation_error: names every bad field; nothing changed.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_customer(app: &App, req: Request) -> Response<Body> {
    run("update_customer", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "customer", CustomerId::parse)?;
        let (body, _): (UpdateCustomerRequest, _) = json_body(&req)?;
        Ok(ok(
            StatusCode::OK,
            uc::update_customer(&app.deps, &actor, id, body).await?,
        ))
    })
    .await
}

/// The customer's negotiated prices, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/prices", tag = "customers", operation_id = "list_customer_prices",
    params(
        ("id" = String, Path, format = Uuid, description = "Customer id (UUID); anything else is 404"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "From links.next."),
    ),
    responses(
        (status = 200, description = "A page of negotiated prices, by product id.", body = ListResponse<PriceOverride>),
        (status = 403, description = "The role lacks customers:read (a customer reads its own).", body = ErrorBody),
        (status = 404, description = "No such customer for this company.", body = ErrorBody),
        (status = 422, description = "A bad per_page or cursor, or an unknown parameter.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_customer_prices(app: &App, req: Request) -> Response<Body> {
    run("list_customer_prices", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "customer", CustomerId::parse)?;
        list_page(app, &req, &actor, &format!("prices:{id}"), |page| {
            let (deps, actor) = (&app.deps, &actor);
            async move { uc::price_list(deps, actor, id, &page).await }
        })
        .await
    })
    .await
}

/// Remove a negotiated price: the catalog price applies again.
#[utoipa::path(
    delete, path = "/api/v1/customers/{id}/prices/{product_id}", tag = "customers", operation_id = "delete_customer_price",
    params(("id" = String, Path, format = Uuid, description = "Customer id (UUID); anything else is 404"), ("product_id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    responses(
        (status = 204, description = "Removed."),
        (status = 403, description = "The role lacks orders:price_override.", body = ErrorBody),
        (status = 404, description = "No such customer, or no negotiated price for this product.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_customer_price(app: &App, req: Request) -> Response<Body> {
    run("delete_customer_price", &req, async {
        let actor = actor(&req)?;
        let customer = path_id(&req, "id", "customer", CustomerId::parse)?;
        let product = path_id(&req, "product_id", "product", ProductId::parse)?;
        uc::delete_price_override(&app.deps, &actor, customer, product).await?;
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::NO_CONTENT;
        Ok(resp)
    })
    .await
}
