//! Lambda `list_low_stock`: wiring only; the handler is `oms_api::handlers::inventory::list_low_stock`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::inventory::list_low_stock).await
}
