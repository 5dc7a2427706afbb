//! Lambda `record_payment`: wiring only; the handler is `oms_api::handlers::children::record_payment`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::children::record_payment).await
}
