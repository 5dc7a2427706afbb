//! Lambda `list_integrations`: wiring only; the handler is `oms_api::handlers::integrations::list_integrations`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::integrations::list_integrations).await
}
