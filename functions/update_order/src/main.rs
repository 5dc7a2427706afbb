//! Lambda `update_order`: wiring only; the handler is `oms_api::handlers::orders::update_order`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::orders::update_order).await
}
