//! One async fn per operation, each over a `lambda_http::Request`: parse into a command,
//! call one use case, map the result. Every function's `main.rs` runs exactly one of these.

pub mod audit;
pub mod children;
pub mod customers;
pub mod documents;
pub mod imports;
pub mod integrations;
pub mod inventory;
pub mod order_reads;
pub mod orders;
pub mod products;
pub mod settings;
pub mod users;

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
        // On the heap: a handler's future is large, and a debug build copies it on every
        // move; boxed, the stack holds a pointer whatever the handler.
        let f = Box::pin(async {
            known_params_only(operation, req)?;
            f.await
        });
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

/// Each operation's query parameters, as the OpenAPI document declares them (built once
/// per process from the same `#[utoipa::path]` attributes that document it).
pub(crate) fn declared_params() -> &'static std::collections::HashMap<String, Vec<String>> {
    static PARAMS: std::sync::OnceLock<std::collections::HashMap<String, Vec<String>>> = std::sync::OnceLock::new();
    PARAMS.get_or_init(|| {
        use utoipa::openapi::path::ParameterIn;
        let doc = crate::openapi::document();
        let mut out = std::collections::HashMap::new();
        for item in doc.paths.paths.values() {
            let ops = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
            for op in ops.into_iter().flatten() {
                let Some(id) = &op.operation_id else { continue };
                let names = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter(|p| matches!(p.parameter_in, ParameterIn::Query))
                    .map(|p| p.name.clone())
                    .collect();
                out.insert(id.clone(), names);
            }
        }
        out
    })
}

/// Refuses a query parameter the operation does not declare, on every route: a typo
/// (`?staus=held`) is a 422 naming it and the accepted ones, not a silently unfiltered
/// list or an ignored option.
fn known_params_only(operation: &str, req: &Request) -> Result<(), ApiError> {
    let Some(query) = req.query_string_parameters_ref() else {
        return Ok(());
    };
    let known = declared_params().get(operation).map(Vec::as_slice).unwrap_or_default();
    for (k, _) in query.iter() {
        if !known.iter().any(|n| n == k) {
            let message = if known.is_empty() {
                format!("`{k}` is not a parameter here; this operation takes no query parameters")
            } else {
                format!("`{k}` is not a parameter here; use {}", known.join(", "))
            };
            return Err(oms_domain::Error::invalid(k, message).into());
        }
    }
    Ok(())
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
