//! Lambda `get_import`: wiring only; the handler is `oms_api::handlers::imports::get_import`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::imports::get_import).await
}
