//! Lambda `requires_attention`: wiring only; the handler is `oms_api::handlers::order_reads::requires_attention`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::order_reads::requires_attention).await
}
