//! One error shape for every endpoint: `{"error": {"code", "message", "details"}}`, with a
//! stable `code`. Every domain error maps here, in one place; a 5xx logs its cause chain
//! and shows the caller nothing of it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{json, Value};

use oms_domain::error::Error;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `validation_error`, `malformed_json`, `not_found`,
    /// `unauthorized`, `permission_error`, `insufficient_stock`, `duplicate_sku`, ...
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

#[derive(Debug)]
pub enum ApiError {
    Domain(Error),
    /// An edge-level refusal (bad JSON, too large, no token, unknown route).
    Http {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Domain(e)
    }
}

impl ApiError {
    pub fn http(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Http {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::http(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn status_and_body(&self) -> (StatusCode, ErrorBody) {
        let (status, code, message, details) = match self {
            ApiError::Http {
                status,
                code,
                message,
                details,
            } => (*status, *code, message.clone(), details.clone()),
            ApiError::Domain(e) => {
                let message = e.to_string();
                match e {
                    Error::Validation { fields, .. } => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "validation_error",
                        message,
                        Some(json!({ "fields": fields })),
                    ),
                    Error::NotFound { entity, id } => (
                        StatusCode::NOT_FOUND,
                        "not_found",
                        message,
                        Some(json!({ "entity": entity, "id": id })),
                    ),
                    Error::Permission(p) => (
                        StatusCode::FORBIDDEN,
                        "permission_error",
                        message,
                        Some(json!({ "permission": p.to_string() })),
                    ),
                    Error::InsufficientStock(lines) => (
                        StatusCode::CONFLICT,
                        "insufficient_stock",
                        message,
                        Some(json!({ "lines": lines })),
                    ),
                    Error::Conflict { code, .. } => (StatusCode::CONFLICT, *code, message, None),
                    Error::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, "unauthorized", message, None),
                    Error::Forbidden { .. } => (StatusCode::FORBIDDEN, "permission_error", message, None),
                    Error::Gone { .. } => (StatusCode::GONE, "integration_disabled", message, None),
                    Error::StockChanged { current_stock } => (
                        StatusCode::CONFLICT,
                        "stock_changed",
                        message,
                        Some(json!({ "current_stock": current_stock })),
                    ),
                    Error::LimitExceeded { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code, message, None),
                    Error::InvalidRows(rows, counts) => {
                        let mut details = json!({ "errors": rows });
                        if let (Some(d), Some(c)) = (details.as_object_mut(), counts.as_object()) {
                            d.extend(c.clone());
                        }
                        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv", message, Some(details))
                    }
                    Error::PreconditionFailed { .. } => {
                        (StatusCode::PRECONDITION_FAILED, "precondition_failed", message, None)
                    }
                    Error::IdempotencyKeyReused => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency_key_reused",
                        message,
                        None,
                    ),
                    Error::Contention => (StatusCode::SERVICE_UNAVAILABLE, "contention", message, None),
                    Error::Internal(_) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        "internal error".to_owned(),
                        None,
                    ),
                }
            }
        };
        (
            status,
            ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
                    message,
                    details,
                },
            },
        )
    }

    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Domain(Error::Internal(cause)) = &self {
            let mut chain = vec![cause.to_string()];
            let mut src = cause.source();
            while let Some(s) = src {
                chain.push(s.to_string());
                src = s.source();
            }
            tracing::error!(cause = %chain.join(": "), "request failed");
        }
        let (status, body) = self.status_and_body();
        let mut resp = crate::request::json_response(status, &body);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert("retry-after", lambda_http::http::HeaderValue::from_static("1"));
        }
        resp
    }
}
