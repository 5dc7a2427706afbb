//! Lambda `create_customer`: wiring only; the handler is `oms_api::handlers::customers::create_customer`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::customers::create_customer).await
}
