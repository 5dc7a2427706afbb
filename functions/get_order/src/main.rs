//! Lambda `get_order`: wiring only; the handler is `oms_api::handlers::orders::get_order`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::orders::get_order).await
}
