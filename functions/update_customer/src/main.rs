//! Lambda `update_customer`: wiring only; the handler is `oms_api::handlers::customers::update_customer`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::customers::update_customer).await
}
