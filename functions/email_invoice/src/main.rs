//! Lambda `email_invoice`: wiring only; the handler is `oms_api::handlers::documents::email_invoice`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::documents::email_invoice).await
}
