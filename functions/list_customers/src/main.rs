//! Lambda `list_customers`: wiring only; the handler is `oms_api::handlers::customers::list_customers`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::customers::list_customers).await
}
