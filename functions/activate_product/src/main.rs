//! Lambda `activate_product`: wiring only; the handler is `oms_api::handlers::products::activate_product`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::products::activate_product).await
}
