//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the request/response types, so it cannot drift from the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::handlers;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Order management API",
        description = "Orders, products, customers and stock for B2B distributors. Amounts are decimal strings in the order's currency. Errors are always {\"error\": {\"code\", \"message\", \"details\"}}."
    ),
    paths(
        handlers::orders::create_order,
        handlers::orders::get_order,
        handlers::order_reads::list_orders,
        handlers::order_reads::search_orders,
        handlers::order_reads::requires_attention,
        handlers::order_reads::high_value_orders,
        handlers::orders::update_order,
        handlers::orders::change_order_status,
        handlers::audit::list_audit_log,
        handlers::products::create_product,
        handlers::products::list_products,
        handlers::products::get_product,
        handlers::products::update_product,
        handlers::customers::create_customer,
        handlers::customers::get_customer,
        handlers::customers::set_customer_price,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
