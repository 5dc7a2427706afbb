//! Lambda `list_deliveries`: wiring only; the handler is `oms_api::handlers::integrations::list_deliveries`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::integrations::list_deliveries).await
}
