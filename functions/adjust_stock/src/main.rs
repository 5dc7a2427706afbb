//! Lambda `adjust_stock`: wiring only; the handler is `oms_api::handlers::products::adjust_stock`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::products::adjust_stock).await
}
