//! Lambda `receipts_worker`: the `Receipts` notification worker, SQS-triggered (see
//! `oms_domain::usecases::notifications`), which also sends invoices (with the PDF
//! renderer); wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oms_api::lambda::serve_receipts_worker().await
}
