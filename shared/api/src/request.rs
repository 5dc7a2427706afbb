//! Turning a request into typed input, and typed output into a response. Parse, don't
//! validate: malformed JSON is 400, well-formed JSON of the wrong shape is 422 naming the
//! field, and a body over the limit is 413, before any handler logic runs.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use oms_domain::error::Error;

use crate::error::ApiError;

/// Request bodies larger than this are refused whole (a 250-line order is ~60 KB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Parses a JSON body into `T`; also returns the JSON value (for idempotency fingerprints).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<(T, Value), ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::http(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is {} bytes; the limit is {MAX_BODY_BYTES}", bytes.len()),
        ));
    }
    if let Some(ct) = req.headers().get("content-type").and_then(|v| v.to_str().ok()) {
        if !ct.to_ascii_lowercase().starts_with("application/json") {
            return Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send JSON with Content-Type: application/json, not `{ct}`"),
            ));
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::http(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the request body is empty; send a JSON object",
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::http(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(Error::invalid("body", "the request body must be a JSON object").into());
    }
    // Strict: a struct is a JSON object (serde's derive would also take an array).
    let parsed = serde_path_to_error::deserialize(oms_domain::strict_json::Strict(&value)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        let missing = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(m)) => m.to_owned(),
            (p, Some(m)) => format!("{p}.{m}"),
            (".", None) => "body".to_owned(),
            (p, None) => p.to_owned(),
        };
        Error::invalid(field.clone(), format!("{field}: {inner}"))
    })?;
    Ok((parsed, value))
}

/// A path parameter parsed into an id; an id that cannot exist is simply not found.
pub fn path_id<T>(
    req: &Request,
    name: &str,
    entity: &'static str,
    parse: fn(&str) -> Result<T, Error>,
) -> Result<T, ApiError> {
    let params = req.path_parameters();
    let raw = params.first(name).unwrap_or_default();
    // A path segment arrives percent-encoded (`auth0%7Cpriya`); ids never hold `%`, so
    // decoding a value that was already decoded changes nothing.
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    parse(&decoded).map_err(|_| Error::not_found(entity, &*decoded).into())
}

pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// `If-Match: "3"` (the version from an `ETag`), or absent. `*` matches any version.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(v) = req.headers().get("if-match") else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or_default().trim();
    if s == "*" {
        return Ok(None);
    }
    let digits = s.trim_start_matches("W/").trim_matches('"');
    digits
        .parse::<u64>()
        .map(Some)
        .map_err(|_| Error::invalid("If-Match", "If-Match must be the ETag of the order, e.g. \"3\"").into())
}

/// `Idempotency-Key`: 1-255 visible ASCII characters, or absent.
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or_default();
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1-255 visible ASCII characters",
        )
        .into());
    }
    Ok(Some(s.to_owned()))
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// `per_page` (1-100, default 25) and the raw `cursor`.
pub fn paging(req: &Request) -> Result<(u32, Option<String>), ApiError> {
    let per_page = match query(req, "per_page") {
        None => 25,
        Some(s) => match s.parse::<u32>() {
            Ok(n @ 1..=100) => n,
            _ => return Err(Error::invalid("per_page", "per_page must be a whole number from 1 to 100").into()),
        },
    };
    Ok((per_page, query(req, "cursor")))
}

pub fn bool_query(req: &Request, name: &str) -> Result<Option<bool>, ApiError> {
    match query(req, name).as_deref() {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(_) => Err(Error::invalid(name, format!("{name} must be true or false")).into()),
    }
}
