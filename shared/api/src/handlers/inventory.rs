//! Inventory health (`inventory:read`: OWNER, ADMIN, STAFF).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use oms_domain::catalog::{Product, StockLevel};
use oms_domain::usecases::inventory::{self as uc, InventoryHealthView};

use super::{list_page, ok, run, Data, ListResponse};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::App;

/// How many active products that track inventory are healthy (above their
/// `low_stock_threshold`, else the company's), low (1 to the threshold) and out (0). Its
/// cost follows the number of low and out products, never the catalog's size. A sale shows
/// here once the jobs worker has indexed it (the relay's delay); a product edit at once.
#[utoipa::path(
    get, path = "/api/v1/inventory/health", tag = "inventory", operation_id = "inventory_health",
    responses(
        (status = 200, description = "The counts.", body = Data<InventoryHealthView>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks inventory:read (OWNER, ADMIN and STAFF have it).", body = ErrorBody),
        (status = 422, description = "An unknown parameter.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn inventory_health(app: &App, req: Request) -> Response<Body> {
    run("inventory_health", &req, async {
        let actor = actor(&req)?;
        Ok(ok(StatusCode::OK, uc::health(&app.deps, &actor).await?))
    })
    .await
}

/// The low products (1 to their threshold): those on the company's threshold lowest
/// stock first, then those with their own, lowest margin first.
#[utoipa::path(
    get, path = "/api/v1/inventory/low", tag = "inventory", operation_id = "list_low_stock",
    params(
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of products.", body = ListResponse<Product>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks inventory:read.", body = ErrorBody),
        (status = 422, description = "A bad `per_page` or cursor, or an unknown parameter.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_low_stock(app: &App, req: Request) -> Response<Body> {
    level_page(app, req, "list_low_stock", StockLevel::Low).await
}

/// The out-of-stock products (active, tracked, 0 on hand), by SKU.
#[utoipa::path(
    get, path = "/api/v1/inventory/out", tag = "inventory", operation_id = "list_out_of_stock",
    params(
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of products.", body = ListResponse<Product>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks inventory:read.", body = ErrorBody),
        (status = 422, description = "A bad `per_page` or cursor, or an unknown parameter.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_out_of_stock(app: &App, req: Request) -> Response<Body> {
    level_page(app, req, "list_out_of_stock", StockLevel::Out).await
}

async fn level_page(app: &App, req: Request, function: &'static str, level: StockLevel) -> Response<Body> {
    run(function, &req, async {
        let actor = actor(&req)?;
        list_page(app, &req, &actor, function, |page| {
            let deps = &app.deps;
            let actor = &actor;
            async move { uc::products_at(deps, actor, level, &page).await }
        })
        .await
    })
    .await
}
