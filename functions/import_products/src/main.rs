//! Lambda `import_products`: wiring only; the handler is `oms_api::handlers::imports::import_products`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::imports::import_products).await
}
