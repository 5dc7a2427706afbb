//! Lambda `inventory_health`: wiring only; the handler is `oms_api::handlers::inventory::inventory_health`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::inventory::inventory_health).await
}
