//! Lambda `get_settings`: wiring only; the handler is `oms_api::handlers::settings::get_settings`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::settings::get_settings).await
}
