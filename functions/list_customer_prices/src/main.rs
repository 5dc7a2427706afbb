//! Lambda `list_customer_prices`: wiring only; the handler is `oms_api::handlers::customers::list_customer_prices`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::customers::list_customer_prices).await
}
