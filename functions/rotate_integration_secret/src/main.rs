//! Lambda `rotate_integration_secret`: wiring only; the handler is `oms_api::handlers::integrations::rotate_integration_secret`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::integrations::rotate_integration_secret).await
}
