//! Lambda `deactivate_user`: wiring only; the handler is `oms_api::handlers::users::deactivate_user`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::users::deactivate_user).await
}
