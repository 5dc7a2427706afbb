//! A local stand-in for API Gateway (HTTP API) and its JWT authorizer. It matches the same
//! routes, verifies the bearer token, and hands the handler the same API Gateway v2 event
//! a Lambda receives (converted by `lambda_http` itself), so local calls and tests run the
//! production code path.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::StatusCode;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Response};
use serde_json::{json, Map, Value};

use crate::auth::{Claims, LocalJwt};
use crate::error::ApiError;
use crate::routes::{dispatch, Route, ROUTES};
use crate::App;

/// An HTTP request as the local server received it.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// Path plus optional `?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Gateway {
    app: App,
    jwt: LocalJwt,
    router: matchit::Router<Vec<Route>>,
}

impl Gateway {
    pub fn new(app: App, jwt: LocalJwt) -> Gateway {
        let mut by_path: Vec<(&str, Vec<Route>)> = Vec::new();
        for r in ROUTES {
            match by_path.iter_mut().find(|(p, _)| *p == r.path) {
                Some((_, v)) => v.push(*r),
                None => by_path.push((r.path, vec![*r])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, routes) in by_path {
            // The table is static and its paths distinct, so insertion cannot fail.
            router
                .insert(path, routes)
                .unwrap_or_else(|e| panic!("route table: {e}"));
        }
        Gateway { app, jwt, router }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Serves one request; a panic anywhere in it (routing and authorization included)
    /// is a logged 500 in the one error shape.
    pub async fn handle(&self, req: HttpRequest) -> Response<Body> {
        match crate::unwind::catch(self.route(req)).await {
            Ok(resp) => resp,
            Err(panicked) => ApiError::from(panicked).into_response(),
        }
    }

    async fn route(&self, req: HttpRequest) -> Response<Body> {
        let (path, query) = match req.target.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (req.target.clone(), String::new()),
        };
        if req.method == "GET" && path == "/openapi.json" {
            let doc = crate::openapi::document();
            return crate::request::json_response(StatusCode::OK, &doc);
        }
        let Ok(matched) = self.router.at(&path) else {
            return ApiError::http(StatusCode::NOT_FOUND, "not_found", format!("no route for {path}")).into_response();
        };
        let Some(route) = matched.value.iter().find(|r| r.method == req.method) else {
            let allowed: Vec<&str> = matched.value.iter().map(|r| r.method).collect();
            let mut resp = ApiError::http(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed on {path}; use {}", req.method, allowed.join(", ")),
            )
            .into_response();
            // RFC 9110: a 405 lists the methods the resource has.
            if let Ok(v) = lambda_http::http::HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert("allow", v);
            }
            return resp;
        };
        let params: Map<String, Value> = matched.params.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
        // The JWT authorizer runs before the function, as in API Gateway (not on the
        // webhook intake, which checks the integration's signature itself).
        let claims = if crate::routes::PUBLIC_FUNCTIONS.contains(&route.function) {
            None
        } else {
            match self.authorize(&req.headers) {
                Ok(c) => Some(c),
                Err(e) => return e.into_response(),
            }
        };
        let event = api_gateway_event(route, &req, &path, &query, params, claims.as_ref());
        let lambda_req: LambdaRequest = match serde_json::from_value(event) {
            Ok(r) => r,
            Err(e) => {
                return ApiError::http(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("unreadable request: {e}"),
                )
                .into_response()
            }
        };
        match dispatch(&self.app, route.function, lambda_req.into()).await {
            Some(resp) => resp,
            None => ApiError::http(StatusCode::NOT_FOUND, "not_found", "no such function").into_response(),
        }
    }

    fn authorize(&self, headers: &[(String, String)]) -> Result<Claims, ApiError> {
        let auth = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
        self.jwt
            .verify(token.trim())
            .map_err(|e| ApiError::unauthorized(format!("invalid token: {e}")))
    }
}

/// The API Gateway HTTP API (payload v2.0) event for this request.
fn api_gateway_event(
    route: &Route,
    req: &HttpRequest,
    path: &str,
    query: &str,
    params: Map<String, Value>,
    claims: Option<&Claims>,
) -> Value {
    let mut headers = Map::new();
    for (k, v) in &req.headers {
        let k = k.to_ascii_lowercase();
        let joined = match headers.get(&k).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v.clone(),
        };
        headers.insert(k, json!(joined));
    }
    let mut qs = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let joined = match qs.get(k.as_ref()).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v.into_owned(),
        };
        qs.insert(k.into_owned(), json!(joined));
    }
    let mut claim_map = Map::new();
    if let Some(claims) = claims {
        for (k, v) in [
            ("sub", &claims.sub),
            ("company_id", &claims.company_id),
            ("role", &claims.role),
            ("iss", &claims.iss),
        ] {
            claim_map.insert(k.into(), json!(v));
        }
        if let Some(c) = &claims.customer_id {
            claim_map.insert("customer_id".into(), json!(c));
        }
    }
    let authorizer = match claims {
        Some(_) => json!({"jwt": {"claims": claim_map, "scopes": null}}),
        None => Value::Null,
    };
    let (body, is_b64) = match std::str::from_utf8(&req.body) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (STANDARD.encode(&req.body), true),
    };
    let now = chrono::Utc::now();
    json!({
        "version": "2.0",
        "routeKey": format!("{} {}", route.method, route.path),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": if qs.is_empty() { Value::Null } else { Value::Object(qs) },
        "pathParameters": if params.is_empty() { Value::Null } else { Value::Object(params) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": req.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local"},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("{} {}", route.method, route.path),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "authorizer": authorizer
        },
        "body": if req.body.is_empty() { Value::Null } else { json!(body) },
        "isBase64Encoded": is_b64
    })
}
