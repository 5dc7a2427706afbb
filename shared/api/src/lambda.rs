//! What every function's `main.rs` calls: logging, production wiring from the
//! environment, and the Lambda runtime loop around one handler.

use lambda_http::{service_fn, Body, Error, Request, Response};
use std::future::Future;

use crate::App;

/// Runs `handler` as this Lambda's function until the runtime stops it.
pub async fn serve<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    crate::telemetry::init();
    // One App per container, alive as long as the process: leaking it gives handlers the
    // `&'static` borrow the runtime's service needs, without a clone per request.
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_http::run(service_fn(|req: Request| {
        let fut = handler(app, req);
        async move { Ok::<_, Error>(fut.await) }
    }))
    .await
}
