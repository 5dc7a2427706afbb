//! Lambda `list_users`: wiring only; the handler is `oms_api::handlers::users::list_users`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::users::list_users).await
}
