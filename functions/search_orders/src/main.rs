//! Lambda `search_orders`: wiring only; the handler is `oms_api::handlers::order_reads::search_orders`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::order_reads::search_orders).await
}
