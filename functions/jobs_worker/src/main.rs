//! Lambda `jobs_worker`: the outbox-driven background jobs, SQS-triggered (see
//! `oms_domain::usecases::jobs`); wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve_worker(oms_domain::usecases::notifications::Worker::Jobs).await
}
