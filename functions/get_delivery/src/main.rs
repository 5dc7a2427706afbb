//! Lambda `get_delivery`: wiring only; the handler is `oms_api::handlers::integrations::get_delivery`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::integrations::get_delivery).await
}
