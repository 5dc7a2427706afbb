//! CSV product import (`products:write` and `stock:adjust`: OWNER, ADMIN).

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use oms_domain::error::Error;
use oms_domain::ids::ImportId;
use oms_domain::usecases::import::{self as uc, ImportJob, ImportOutcome, ImportPreview};

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{body_bytes, bool_query, path_id};
use crate::App;

/// The largest file taken: API Gateway's and Lambda's payload limits are above it.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// Import products from a CSV file: a header row, then one product per row. Columns (any
/// order, any case): `sku`, `name`, `price` (required), `stock`, `category`, `active`,
/// `low_stock_threshold`, `description`. An existing SKU updates that product; a new one
/// creates it. The whole file is validated first: with any bad row nothing is applied and
/// every problem is listed (`422 invalid_csv`, `details.errors`: line, column, value,
/// message; `details` also has the counts of the valid rows). `dry_run=true` applies
/// nothing: `200` with the counts for a good file, the same `422` as a real run for a bad
/// one. A real run
/// is a job, applied in steps of one transaction each: `201` when it is done by the time
/// the answer is sent, else `202` while the jobs worker applies the rest (follow
/// `Location`). A `stock` is the stock when the file was sent: sales recorded since are kept.
#[utoipa::path(
    post, path = "/api/v1/products/import", tag = "products", operation_id = "import_products",
    params(("dry_run" = Option<bool>, Query, description = "true: validate and count only; nothing is applied.")),
    request_body(content = String, content_type = "text/csv", description = "UTF-8 CSV (RFC 4180; a BOM and CRLF line ends are fine), at most 5 MiB and 20,000 rows."),
    responses(
        (status = 200, description = "A dry run of a good file: the counts to create, update and leave unchanged.", body = Data<ImportPreview>),
        (status = 201, description = "Imported: the finished job.", body = Data<ImportJob>, headers(("Location" = String, description = "The import's URL."))),
        (status = 202, description = "Accepted: the job is applying the rest.", body = Data<ImportJob>, headers(("Location" = String, description = "The import's URL, to follow its progress."))),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks products:write or stock:adjust.", body = ErrorBody),
        (status = 413, description = "payload_too_large: the file is over 5 MiB.", body = ErrorBody),
        (status = 415, description = "unsupported_media_type: send Content-Type: text/csv.", body = ErrorBody),
        (status = 422, description = "invalid_csv: every bad cell, row or header as `details.errors` ({line, column, value, message}), with the counts of the rest; nothing was applied (a dry run too). Or a bad `dry_run`.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn import_products(app: &App, req: Request) -> Response<Body> {
    run("import_products", &req, async {
        let actor = actor(&req)?;
        let dry_run = bool_query(&req, "dry_run")?.unwrap_or(false);
        let bytes = csv_body(&req)?;
        match uc::import(&app.deps, &actor, bytes, dry_run).await? {
            ImportOutcome::Preview(p) => Ok(ok(StatusCode::OK, &p)),
            ImportOutcome::Job(job) => {
                let status = match job.status {
                    uc::ImportStatus::Completed => StatusCode::CREATED,
                    uc::ImportStatus::Applying => StatusCode::ACCEPTED,
                };
                let mut resp = ok(status, &job);
                if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/imports/{}", job.id)) {
                    resp.headers_mut().insert("location", loc);
                }
                Ok(resp)
            }
        }
    })
    .await
}

/// An import: its progress while it applies, and what it did.
#[utoipa::path(
    get, path = "/api/v1/imports/{id}", tag = "products", operation_id = "get_import",
    params(("id" = String, Path, format = Uuid, description = "Import id (UUID); anything else is 404")),
    responses(
        (status = 200, description = "The job.", body = Data<ImportJob>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "Staff only.", body = ErrorBody),
        (status = 404, description = "No such import for this company.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_import(app: &App, req: Request) -> Response<Body> {
    run("get_import", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "import", ImportId::parse)?;
        Ok(ok(StatusCode::OK, uc::get_import(&app.deps, &actor, id).await?))
    })
    .await
}

/// The CSV body: `text/csv` (or `application/csv`), at most [`MAX_IMPORT_BYTES`].
fn csv_body(req: &Request) -> Result<&[u8], ApiError> {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(ct.starts_with("text/csv") || ct.starts_with("application/csv")) {
        return Err(ApiError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the file with Content-Type: text/csv, not `{ct}`"),
        ));
    }
    let bytes = body_bytes(req);
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ApiError::http(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the file is {} bytes; the limit is {MAX_IMPORT_BYTES}", bytes.len()),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidRows(
            vec![oms_domain::error::RowError {
                line: 1,
                column: "row".into(),
                value: String::new(),
                message: "the file is empty; send a header row and rows".into(),
            }],
            serde_json::Value::Null,
        )
        .into());
    }
    Ok(bytes)
}
