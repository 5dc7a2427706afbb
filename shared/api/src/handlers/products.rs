//! Product endpoints.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::catalog::Product;
use oms_domain::ids::ProductId;
use oms_domain::ports::ProductFilter;
use oms_domain::usecases::catalog as uc;
use oms_domain::usecases::catalog::{
    AdjustStockRequest, BulkStockBody, BulkStockRequest, BulkStockResult, CreateProductRequest, StockAdjustment,
    UpdateProductRequest,
};

use super::{list_page, ok, run, Data, ListResponse};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::request::{bool_query, json_body, path_id, query};
use crate::App;

#[utoipa::path(
    post, path = "/api/v1/products", tag = "products", operation_id = "create_product",
    request_body = CreateProductRequest,
    responses(
        (status = 201, description = "Created.", body = Data<Product>, headers(("Location" = String, description = "The product's URL."))),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks products:write.", body = ErrorBody),
        (status = 409, description = "duplicate_sku: the SKU (case-insensitive) is taken.", body = ErrorBody),
        (status = 422, description = "validation_error naming each field.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_product(app: &App, req: Request) -> Response<Body> {
    run("create_product", &req, async {
        let actor = actor(&req)?;
        let (body, _): (CreateProductRequest, _) = json_body(&req)?;
        let p = uc::create_product(&app.deps, &actor, body).await?;
        let mut resp = ok(StatusCode::CREATED, &p);
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/products/{}", p.id)) {
            resp.headers_mut().insert("location", loc);
        }
        Ok(resp)
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/products/{id}", tag = "products", operation_id = "get_product",
    params(("id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The product.", body = Data<Product>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 404, description = "No such product for this company (customers see active products only).", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_product(app: &App, req: Request) -> Response<Body> {
    run("get_product", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "product", ProductId::parse)?;
        Ok(ok(StatusCode::OK, uc::get_product(&app.deps, &actor, id).await?))
    })
    .await
}

/// Products in SKU order, or one category's; optionally only active / in-stock ones, or
/// those `q` finds (the order form's product browser). Each page is one `Query`:
/// `active=true` reads the active products' own index (full pages); `in_stock`, and any
/// filter with `q`, is applied to the page read, so such a page may hold fewer than
/// `per_page` items while `links.next` is still set.
#[utoipa::path(
    get, path = "/api/v1/products", tag = "products", operation_id = "list_products",
    params(
        ("q" = Option<String>, Query, min_length = 1, max_length = 100, description = "A prefix (case-insensitive) of the SKU, the name or the category, or of a word of them."),
        ("category" = Option<String>, Query, description = "Only this category (case-insensitive)."),
        ("active" = Option<bool>, Query, description = "true: only active products (an index: every page is full)."),
        ("in_stock" = Option<bool>, Query, description = "true: only products in stock (stock > 0, or not tracking inventory). Served by an index: every page is full."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page (opaque; only a cursor this list issued is accepted)."),
    ),
    responses(
        (status = 200, description = "A page of products.", body = ListResponse<Product>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 422, description = "An invalid parameter, named.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_products(app: &App, req: Request) -> Response<Body> {
    run("list_products", &req, async {
        let actor = actor(&req)?;
        let filter = ProductFilter {
            q: query(&req, "q"),
            category: query(&req, "category").filter(|c| !c.trim().is_empty()),
            active_only: bool_query(&req, "active")?.unwrap_or(false),
            in_stock_only: bool_query(&req, "in_stock")?.unwrap_or(false),
        };
        let scope = format!(
            "products|{:?}|{:?}|{}|{}",
            filter.q.as_deref().map(str::to_lowercase),
            filter.category.as_deref().map(str::to_lowercase),
            filter.active_only,
            filter.in_stock_only
        );
        list_page(app, &req, &actor, &scope, |page| {
            uc::list_products(&app.deps, &actor, filter, page)
        })
        .await
    })
    .await
}

/// Edit a product: any subset of fields. `stock` needs `stock:adjust` and
/// `expected_stock` (the level the new value is based on; a sale since is never erased),
/// the rest `products:write`; only the fields sent are written.
#[utoipa::path(
    patch, path = "/api/v1/products/{id}", tag = "products", operation_id = "update_product",
    params(("id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, description = "The product after the edit.", body = Data<Product>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks products:write or stock:adjust.", body = ErrorBody),
        (status = 404, description = "No such product for this company.", body = ErrorBody),
        (status = 409, description = "duplicate_sku, version_conflict, or stock_changed: the stock is no longer expected_stock (details.current_stock has it now).", body = ErrorBody),
        (status = 422, description = "validation_error naming each field.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_product(app: &App, req: Request) -> Response<Body> {
    run("update_product", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "product", ProductId::parse)?;
        let (body, _): (UpdateProductRequest, _) = json_body(&req)?;
        Ok(ok(
            StatusCode::OK,
            uc::update_product(&app.deps, &actor, id, body).await?,
        ))
    })
    .await
}

/// Add or remove stock by a difference, with a reason: one conditional `ADD`, so a sale
/// landing at the same moment is never erased. Removing more than there is leaves 0 (and
/// says `clamped`). The audit log keeps who, how much and why.
#[utoipa::path(
    post, path = "/api/v1/products/{id}/stock-adjustments", tag = "products", operation_id = "adjust_stock",
    params(("id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    request_body = AdjustStockRequest,
    responses(
        (status = 201, description = "The adjustment (what was applied), and the product after it.", body = Data<StockAdjustment>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks stock:adjust.", body = ErrorBody),
        (status = 404, description = "No such product for this company.", body = ErrorBody),
        (status = 409, description = "stock_limit_exceeded: adding delta would pass the maximum stock (1,000,000,000); nothing changed.", body = ErrorBody),
        (status = 422, description = "validation_error: delta 0 or out of range, or no reason.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn adjust_stock(app: &App, req: Request) -> Response<Body> {
    run("adjust_stock", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "product", ProductId::parse)?;
        let (body, _): (AdjustStockRequest, _) = json_body(&req)?;
        Ok(ok(
            StatusCode::CREATED,
            uc::adjust_stock(&app.deps, &actor, id, body).await?,
        ))
    })
    .await
}

/// Set or shift the stock of up to 99 products at once, all or nothing, audited as one
/// `ProductBulkUpdated` entry with every product's before and after.
#[utoipa::path(
    post, path = "/api/v1/products/stock/bulk", tag = "products", operation_id = "bulk_stock",
    request_body = BulkStockBody,
    responses(
        (status = 200, description = "Applied: each product's before and after (a delta below 0 leaves 0 and says clamped).", body = Data<BulkStockResult>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 403, description = "The role lacks stock:adjust.", body = ErrorBody),
        (status = 404, description = "A product id that is not this company's; nothing changed.", body = ErrorBody),
        (status = 409, description = "stock_limit_exceeded: a delta would pass the maximum stock; nothing changed.", body = ErrorBody),
        (status = 422, description = "validation_error (no ids, a repeated id, a value out of range, no reason) or too_many_products (more than 99: send several requests).", body = ErrorBody),
        (status = 503, description = "contention: orders kept moving the stock; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn bulk_stock(app: &App, req: Request) -> Response<Body> {
    run("bulk_stock", &req, async {
        let actor = actor(&req)?;
        let (body, _): (BulkStockRequest, _) = json_body(&req)?;
        Ok(ok(StatusCode::OK, uc::bulk_stock(&app.deps, &actor, body).await?))
    })
    .await
}

/// Put a product on sale again: listed to buyers, orderable.
#[utoipa::path(
    post, path = "/api/v1/products/{id}/activate", tag = "products", operation_id = "activate_product",
    params(("id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The product, active.", body = Data<Product>),
        (status = 403, description = "The role lacks products:write.", body = ErrorBody),
        (status = 404, description = "No such product for this company.", body = ErrorBody),
        (status = 409, description = "version_conflict: changed meanwhile; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn activate_product(app: &App, req: Request) -> Response<Body> {
    run("activate_product", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "product", ProductId::parse)?;
        Ok(ok(StatusCode::OK, uc::set_active(&app.deps, &actor, id, true).await?))
    })
    .await
}

/// Take a product off sale: hidden from buyers; orders already placed keep it; a new
/// order for it is refused.
#[utoipa::path(
    post, path = "/api/v1/products/{id}/deactivate", tag = "products", operation_id = "deactivate_product",
    params(("id" = String, Path, format = Uuid, description = "Product id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The product, inactive.", body = Data<Product>),
        (status = 403, description = "The role lacks products:write.", body = ErrorBody),
        (status = 404, description = "No such product for this company.", body = ErrorBody),
        (status = 409, description = "version_conflict: changed meanwhile; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn deactivate_product(app: &App, req: Request) -> Response<Body> {
    run("deactivate_product", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "product", ProductId::parse)?;
        Ok(ok(StatusCode::OK, uc::set_active(&app.deps, &actor, id, false).await?))
    })
    .await
}
