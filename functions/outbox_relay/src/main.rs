//! Lambda `outbox_relay`: woken by the table's stream and by a schedule, it moves pending
//! outbox events to the workers' queues; wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve_relay().await
}
