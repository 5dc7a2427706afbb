//! The route table: every API route, the Lambda (SAM logical id, `functions/<name>`) that
//! serves it, and in-process dispatch for the local gateway and the tests. A test checks
//! that `infra/template.yaml` and the OpenAPI document list exactly these routes.

use lambda_http::{Body, Request, Response};

use crate::handlers::{
    audit, children, customers, documents, imports, integrations, inventory, order_reads, orders, products, settings,
    users,
};
use crate::App;

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// API Gateway path syntax: `{id}` for a parameter.
    pub path: &'static str,
    /// The function's crate under `functions/` (snake_case of the SAM logical id).
    pub function: &'static str,
}

const fn r(method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route { method, path, function }
}

pub const ROUTES: &[Route] = &[
    r("POST", "/api/v1/sales/orders", "create_order"),
    r("GET", "/api/v1/sales/orders", "list_orders"),
    r("GET", "/api/v1/sales/orders/search", "search_orders"),
    r("GET", "/api/v1/sales/orders/requires-attention", "requires_attention"),
    r("GET", "/api/v1/sales/orders/high-value", "high_value_orders"),
    r("GET", "/api/v1/sales/orders/{id}", "get_order"),
    r("GET", "/api/v1/sales/orders/{id}/invoice", "get_invoice"),
    r("POST", "/api/v1/sales/orders/{id}/invoice/email", "email_invoice"),
    r("POST", "/api/v1/sales/orders/{id}/children", "create_child_order"),
    r("POST", "/api/v1/sales/orders/{id}/payments", "record_payment"),
    r("PUT", "/api/v1/sales/orders/{id}", "update_order"),
    r("PATCH", "/api/v1/sales/orders/{id}", "update_order"),
    r("POST", "/api/v1/sales/orders/{id}/status", "change_order_status"),
    r("GET", "/api/v1/audit-log", "list_audit_log"),
    r("POST", "/api/v1/products", "create_product"),
    r("GET", "/api/v1/products", "list_products"),
    r("GET", "/api/v1/products/{id}", "get_product"),
    r("PATCH", "/api/v1/products/{id}", "update_product"),
    r("POST", "/api/v1/products/{id}/stock-adjustments", "adjust_stock"),
    r("POST", "/api/v1/customers", "create_customer"),
    r("GET", "/api/v1/customers/{id}", "get_customer"),
    r(
        "PUT",
        "/api/v1/customers/{id}/prices/{product_id}",
        "set_customer_price",
    ),
    r("GET", "/api/v1/settings", "get_settings"),
    r("PATCH", "/api/v1/settings", "update_settings"),
    r("POST", "/api/v1/integrations", "create_integration"),
    r("GET", "/api/v1/integrations", "list_integrations"),
    r("GET", "/api/v1/integrations/{id}", "get_integration"),
    r("DELETE", "/api/v1/integrations/{id}", "delete_integration"),
    r(
        "POST",
        "/api/v1/integrations/{id}/rotate-secret",
        "rotate_integration_secret",
    ),
    r("GET", "/api/v1/integrations/{id}/deliveries", "list_deliveries"),
    r(
        "GET",
        "/api/v1/integrations/{id}/deliveries/{delivery_id}",
        "get_delivery",
    ),
    r(
        "POST",
        "/api/v1/integrations/{id}/deliveries/{delivery_id}/retry",
        "retry_delivery",
    ),
    r("GET", "/api/v1/users", "list_users"),
    r("POST", "/api/v1/users", "create_user"),
    r("GET", "/api/v1/users/{id}", "get_user"),
    r("PATCH", "/api/v1/users/{id}", "update_user"),
    r("DELETE", "/api/v1/users/{id}", "deactivate_user"),
    r("POST", "/api/v1/products/stock/bulk", "bulk_stock"),
    r("GET", "/api/v1/customers", "list_customers"),
    r("PATCH", "/api/v1/customers/{id}", "update_customer"),
    r("GET", "/api/v1/customers/{id}/prices", "list_customer_prices"),
    r(
        "DELETE",
        "/api/v1/customers/{id}/prices/{product_id}",
        "delete_customer_price",
    ),
    r("POST", "/api/v1/products/{id}/activate", "activate_product"),
    r("POST", "/api/v1/products/{id}/deactivate", "deactivate_product"),
    r("GET", "/api/v1/inventory/health", "inventory_health"),
    r("GET", "/api/v1/inventory/low", "list_low_stock"),
    r("GET", "/api/v1/inventory/out", "list_out_of_stock"),
    r("POST", "/api/v1/products/import", "import_products"),
    r("GET", "/api/v1/imports/{id}", "get_import"),
    r("POST", "/api/v1/webhooks/{integration_id}/orders", "receive_webhook"),
];

/// Functions reached without a bearer token: the webhook intake authenticates by the
/// integration's signature (API Gateway route without the JWT authorizer).
pub const PUBLIC_FUNCTIONS: &[&str] = &["receive_webhook"];

/// Runs the handler of `function`, as its Lambda would.
pub async fn dispatch(app: &App, function: &str, req: Request) -> Option<Response<Body>> {
    Some(match function {
        "create_order" => orders::create_order(app, req).await,
        "get_order" => orders::get_order(app, req).await,
        "get_invoice" => documents::get_invoice(app, req).await,
        "email_invoice" => documents::email_invoice(app, req).await,
        "create_child_order" => children::create_child_order(app, req).await,
        "record_payment" => children::record_payment(app, req).await,
        "list_orders" => order_reads::list_orders(app, req).await,
        "search_orders" => order_reads::search_orders(app, req).await,
        "requires_attention" => order_reads::requires_attention(app, req).await,
        "high_value_orders" => order_reads::high_value_orders(app, req).await,
        "update_order" => orders::update_order(app, req).await,
        "change_order_status" => orders::change_order_status(app, req).await,
        "list_audit_log" => audit::list_audit_log(app, req).await,
        "create_product" => products::create_product(app, req).await,
        "list_products" => products::list_products(app, req).await,
        "get_product" => products::get_product(app, req).await,
        "update_product" => products::update_product(app, req).await,
        "adjust_stock" => products::adjust_stock(app, req).await,
        "create_customer" => customers::create_customer(app, req).await,
        "get_customer" => customers::get_customer(app, req).await,
        "set_customer_price" => customers::set_customer_price(app, req).await,
        "get_settings" => settings::get_settings(app, req).await,
        "update_settings" => settings::update_settings(app, req).await,
        "create_integration" => integrations::create_integration(app, req).await,
        "list_integrations" => integrations::list_integrations(app, req).await,
        "get_integration" => integrations::get_integration(app, req).await,
        "delete_integration" => integrations::delete_integration(app, req).await,
        "rotate_integration_secret" => integrations::rotate_integration_secret(app, req).await,
        "list_deliveries" => integrations::list_deliveries(app, req).await,
        "get_delivery" => integrations::get_delivery(app, req).await,
        "retry_delivery" => integrations::retry_delivery(app, req).await,
        "list_users" => users::list_users(app, req).await,
        "create_user" => users::create_user(app, req).await,
        "get_user" => users::get_user(app, req).await,
        "update_user" => users::update_user(app, req).await,
        "deactivate_user" => users::deactivate_user(app, req).await,
        "bulk_stock" => products::bulk_stock(app, req).await,
        "list_customers" => customers::list_customers(app, req).await,
        "update_customer" => customers::update_customer(app, req).await,
        "list_customer_prices" => customers::list_customer_prices(app, req).await,
        "delete_customer_price" => customers::delete_customer_price(app, req).await,
        "activate_product" => products::activate_product(app, req).await,
        "deactivate_product" => products::deactivate_product(app, req).await,
        "inventory_health" => inventory::inventory_health(app, req).await,
        "list_low_stock" => inventory::list_low_stock(app, req).await,
        "list_out_of_stock" => inventory::list_out_of_stock(app, req).await,
        "import_products" => imports::import_products(app, req).await,
        "get_import" => imports::get_import(app, req).await,
        "receive_webhook" => integrations::receive_webhook(app, req).await,
        _ => return None,
    })
}
