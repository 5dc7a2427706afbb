//! Lambda `delete_integration`: wiring only; the handler is `oms_api::handlers::integrations::delete_integration`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::integrations::delete_integration).await
}
