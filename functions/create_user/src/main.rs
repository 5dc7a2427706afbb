//! Lambda `create_user`: wiring only; the handler is `oms_api::handlers::users::create_user`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::users::create_user).await
}
