//! Documents: the invoice PDF of an order, and sending it by e-mail.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_documents::invoice::{self, Issuer};
use oms_domain::ids::OrderId;
use oms_domain::usecases::invoices::{self as invoices_uc, EmailInvoiceRequest, InvoiceEmailQueued};
use oms_domain::usecases::orders::get_order as get_order_uc;

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{json_body, path_id};
use crate::App;

/// The order's invoice as a PDF: the company, the customer and its addresses, the order's
/// number and dates, every line, the charges, the totals, the notes and the payment
/// terms; as many A4 pages as the lines need, each with the header repeated. Readable by
/// whoever may read the order (a customer, its own orders only).
#[utoipa::path(
    get, path = "/api/v1/sales/orders/{id}/invoice", tag = "orders", operation_id = "get_invoice",
    params(("id" = String, Path, format = Uuid, description = "Order id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The invoice.", content_type = "application/pdf", body = Vec<u8>,
            headers(("Content-Disposition" = String, description = "`inline; filename=\"invoice-ORD-XXXXXXXX.pdf\"`"))),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:read.", body = ErrorBody),
        (status = 404, description = "No such order for this company (or customer).", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_invoice(app: &App, req: Request) -> Response<Body> {
    run("get_invoice", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        let order = get_order_uc(&app.deps, &actor, id).await?;
        let settings = app.deps.store.get_settings(&actor.company_id).await?;
        let issuer = Issuer::of(&settings);
        let started = std::time::Instant::now();
        let pdf = invoice::render(&order, &issuer)?;
        tracing::info!(
            lines = order.items.len(),
            bytes = pdf.len(),
            render_ms = started.elapsed().as_secs_f64() * 1000.0,
            "invoice rendered"
        );
        let mut resp = Response::new(Body::Binary(pdf));
        *resp.status_mut() = StatusCode::OK;
        let headers = resp.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/pdf"));
        if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"invoice-{}.pdf\"", order.order_number)) {
            headers.insert("content-disposition", v);
        }
        headers.insert("cache-control", HeaderValue::from_static("private, no-store"));
        Ok::<_, ApiError>(resp)
    })
    .await
}

/// E-mail the order's invoice: the PDF (as `GET …/invoice` renders it when the e-mail
/// goes) attached to a cover e-mail in the company's layout, to the customer's address or
/// to the 1-10 addresses in `to`. The request is recorded with an `InvoiceSent` audit
/// entry and answered at once (202); the receipts worker sends the e-mail within seconds,
/// once per request, retrying and dead-lettering as every e-mail does. Drafts and cancelled
/// orders have none to send (409).
#[utoipa::path(
    post, path = "/api/v1/sales/orders/{id}/invoice/email", tag = "orders", operation_id = "email_invoice",
    params(("id" = String, Path, format = Uuid, description = "Order id (UUID); anything else is 404")),
    request_body(content = Option<EmailInvoiceRequest>, description = "Optional: no body sends it to the customer."),
    responses(
        (status = 202, description = "Recorded; the e-mail follows.", body = Data<InvoiceEmailQueued>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks invoices:send (OWNER, ADMIN, STAFF and FINANCE have it).", body = ErrorBody),
        (status = 404, description = "No such order for this company.", body = ErrorBody),
        (status = 409, description = "invoice_unavailable: the order is a draft or cancelled.", body = ErrorBody),
        (status = 422, description = "validation_error: a bad address, more than 10, or no `to` for a customer without an e-mail.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn email_invoice(app: &App, req: Request) -> Response<Body> {
    run("email_invoice", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "order", OrderId::parse)?;
        // No body, or JSON `null`: no options (the document's body is optional and nullable).
        let raw: &[u8] = req.body().as_ref();
        let body = match raw.trim_ascii() {
            b"" | b"null" => EmailInvoiceRequest::default(),
            _ => json_body::<EmailInvoiceRequest>(&req)?.0,
        };
        let queued = invoices_uc::email_invoice(&app.deps, &actor, id, body).await?;
        Ok::<_, ApiError>(ok(StatusCode::ACCEPTED, queued))
    })
    .await
}
