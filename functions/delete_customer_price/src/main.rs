//! Lambda `delete_customer_price`: wiring only; the handler is `oms_api::handlers::customers::delete_customer_price`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::customers::delete_customer_price).await
}
