//! Lambda `create_child_order`: wiring only; the handler is `oms_api::handlers::children::create_child_order`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::children::create_child_order).await
}
