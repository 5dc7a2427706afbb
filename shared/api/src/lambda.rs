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

/// Runs a notification worker: an SQS-triggered Lambda answering with partial batch failures.
pub async fn serve_worker(worker: oms_domain::usecases::notifications::Worker) -> Result<(), Error> {
    serve_worker_with(worker, None).await
}

/// The receipts worker: it also sends invoices, so it links the PDF renderer (the other
/// workers do not, and stay the smaller for it).
pub async fn serve_receipts_worker() -> Result<(), Error> {
    let documents: std::sync::Arc<dyn oms_domain::ports::Documents> =
        std::sync::Arc::new(oms_documents::InvoiceDocuments);
    serve_worker_with(oms_domain::usecases::notifications::Worker::Receipts, Some(documents)).await
}

async fn serve_worker_with(
    worker: oms_domain::usecases::notifications::Worker,
    documents: Option<std::sync::Arc<dyn oms_domain::ports::Documents>>,
) -> Result<(), Error> {
    use aws_lambda_events::event::sqs::SqsEvent;
    use lambda_runtime::LambdaEvent;
    use oms_domain::usecases::notifications::{email_lease_secs, NotifyDeps};
    crate::telemetry::init();
    // The template sets both from the worker's queue and function, so the lease follows them.
    let secs = |name: &str, default: i64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let notify = NotifyDeps {
        deps: crate::app::deps_from_env().await?,
        mailer: std::sync::Arc::new(crate::app::mailer_from_env().await?),
        lease_secs: email_lease_secs(secs("VISIBILITY_TIMEOUT_SECS", 60), secs("FUNCTION_TIMEOUT_SECS", 10))?,
        documents,
    };
    let notify = &notify;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<_, Error>(crate::workers::sqs_batch(notify, worker, event.payload).await)
        },
    ))
    .await
}

/// Runs the outbox relay. Woken by the table's stream, it relays the outbox events in the
/// records it is handed; woken by the schedule, it sweeps what is still pending (a failed
/// or crashed pass's events).
pub async fn serve_relay() -> Result<(), Error> {
    use lambda_runtime::LambdaEvent;
    crate::telemetry::init();
    let deps = crate::app::deps_from_env().await?;
    let publisher = crate::app::publisher_from_env().await?;
    let (deps, publisher) = (&deps, &publisher);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let from_stream = event.payload["Records"][0]["eventSource"] == "aws:dynamodb";
            if from_stream {
                let batch: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(event.payload)?;
                let r = crate::workers::relay_stream(deps, publisher, batch).await?;
                tracing::info!(
                    published = r.published,
                    failed = r.failed,
                    parked = r.parked,
                    skipped = r.skipped,
                    "stream records relayed"
                );
                return Ok::<_, Error>(
                    serde_json::json!({ "published": r.published, "failed": r.failed, "parked": r.parked }),
                );
            }
            let relayed =
                crate::workers::relay_until_empty(deps, publisher, std::time::Duration::from_secs(20)).await?;
            tracing::info!(relayed, "outbox swept");
            Ok::<_, Error>(serde_json::json!({ "relayed": relayed }))
        },
    ))
    .await
}
