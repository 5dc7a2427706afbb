//! Lambda `list_audit_log`: wiring only; the handler is `oms_api::handlers::audit::list_audit_log`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve(oms_api::handlers::audit::list_audit_log).await
}
