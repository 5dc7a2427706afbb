//! Lambda `receipts_worker`: the `Receipts` notification worker, SQS-triggered (see
//! `oms_domain::usecases::notifications`); wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve_worker(oms_domain::usecases::notifications::Worker::Receipts).await
}
