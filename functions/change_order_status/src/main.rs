//! Lambda `change_order_status`: wiring only; the handler is `oms_api::handlers::orders::change_order_status`.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    oms_api::telemetry::init();
    let app = oms_api::App::from_env().await?;
    run(service_fn(|req: Request| {
        let app = &app;
        async move { Ok::<_, Error>(oms_api::handlers::orders::change_order_status(app, req).await) }
    }))
    .await
}
