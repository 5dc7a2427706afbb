//! One async fn per operation, each over a `lambda_http::Request`: parse into a command,
//! call one use case, map the result. Every function's `main.rs` runs exactly one of these.

pub mod audit;
pub mod customers;
pub mod integrations;
pub mod order_reads;
pub mod orders;
pub mod products;
pub mod settings;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;

use oms_domain::auth::Actor;
use oms_domain::ports::{Page, PageRequest};

use crate::error::ApiError;
use crate::App;

/// `{"data": ...}`: every single-resource response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": [...], "meta": {...}, "links": {...}}`: every list response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub meta: ListMeta,
    pub links: Links,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListMeta {
    pub per_page: u32,
    /// Items on this page.
    pub count: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Links {
    /// The next page (`?cursor=...`), or null on the last page.
    pub next: Option<String>,
}

pub(crate) fn ok<T: Serialize>(status: StatusCode, data: T) -> Response<Body> {
    crate::request::json_response(status, &Data { data })
}

/// Runs one request inside a span with its id and operation, logs the outcome, and turns
/// any error into the one error shape.
pub(crate) async fn run<F>(operation: &'static str, req: &Request, f: F) -> Response<Body>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| match req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => c.request_id.clone().unwrap_or_default(),
            _ => String::new(),
        });
    let span = tracing::info_span!(
        "request",
        operation,
        request_id = %request_id,
        company_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
        status = tracing::field::Empty
    );
    let started = Instant::now();
    async move {
        let resp = match crate::unwind::catch(f).await {
            Ok(result) => result.unwrap_or_else(ApiError::into_response),
            Err(panicked) => ApiError::from(panicked).into_response(),
        };
        let status = resp.status().as_u16();
        tracing::Span::current().record("status", status);
        tracing::info!(status, elapsed_ms = started.elapsed().as_millis() as u64, "handled");
        resp
    }
    .instrument(span)
    .await
}

/// Answers one page of a list: opens the `cursor` (sealed to the tenant and to `scope`, the
/// list and its filters), fetches the page, and seals the next one into `links.next`.
pub(crate) async fn list_page<T, F, Fut>(
    app: &App,
    req: &Request,
    actor: &Actor,
    scope: &str,
    fetch: F,
) -> Result<Response<Body>, ApiError>
where
    T: Serialize,
    F: FnOnce(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, oms_domain::Error>>,
{
    let (per_page, cursor) = crate::request::paging(req)?;
    let after = cursor
        .map(|c| app.cursors.open(&actor.company_id, scope, &c))
        .transpose()?;
    let page = fetch(PageRequest { limit: per_page, after }).await?;
    let next = page.next.map(|t| app.cursors.seal(&actor.company_id, scope, &t));
    let count = page.items.len();
    let links = Links {
        next: next_link(req, next),
    };
    Ok(crate::request::json_response(
        StatusCode::OK,
        &ListResponse {
            data: page.items,
            meta: ListMeta { per_page, count },
            links,
        },
    ))
}

/// The URL of the next page: this request's path and filters with the new cursor.
pub(crate) fn next_link(req: &Request, cursor: Option<String>) -> Option<String> {
    let cursor = cursor?;
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(params) = req.query_string_parameters_ref() {
        let mut pairs: Vec<(&str, &str)> = params.iter().filter(|(k, _)| *k != "cursor").collect();
        pairs.sort();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    q.append_pair("cursor", &cursor);
    Some(format!("{}?{}", req.raw_http_path(), q.finish()))
}
