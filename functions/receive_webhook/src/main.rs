//! Lambda `receive_webhook`: wiring only; the handler is `oms_api::handlers::integrations::receive_webhook`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::integrations::receive_webhook).await
}
