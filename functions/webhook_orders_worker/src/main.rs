//! Lambda `webhook_orders_worker`: places verified webhook deliveries, SQS-triggered (see
//! `oms_domain::usecases::webhooks::process_delivery`); wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve_worker(oms_domain::usecases::notifications::Worker::WebhookOrders).await
}
