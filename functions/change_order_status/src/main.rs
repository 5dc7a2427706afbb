//! Lambda `change_order_status`: wiring only; the handler is `oms_api::handlers::orders::change_order_status`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::orders::change_order_status).await
}
