//! Who is calling. In AWS, API Gateway's JWT authorizer verifies the bearer token and puts
//! its claims in the request context; locally, [`LocalJwt`] verifies the token and the
//! gateway puts the same claims in the same place. Handlers read only the context, so
//! there is one code path.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};

use oms_domain::auth::Actor;

use crate::error::ApiError;

pub const LOCAL_ISSUER: &str = "oms-local";
pub const AUDIENCE: &str = "oms-api";

/// The caller, from the authorizer's claims; 401 if there are none or they make no sense.
pub fn actor(req: &Request) -> Result<Actor, ApiError> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| &j.claims)
        }
        _ => None,
    }
    .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let get = |k: &str| claims.get(k).map(String::as_str);
    let (Some(sub), Some(company), Some(role)) = (get("sub"), get("company_id"), get("role")) else {
        return Err(ApiError::unauthorized("token lacks sub, company_id or role"));
    };
    let actor = Actor::from_claims(sub, company, role, get("customer_id"))
        .map_err(|e| ApiError::unauthorized(format!("token claims are invalid: {e}")))?;
    // The request's span (handlers::run) carries the tenant and caller from here on.
    let span = tracing::Span::current();
    span.record("company_id", actor.company_id.as_str());
    span.record("user_id", actor.user_id.as_str());
    Ok(actor)
}

/// The claims of a local token (and of the production identity provider's tokens).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub company_id: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
}

/// HS256 tokens signed with a local key: what the local server accepts and what `oms-local
/// token` and the tests mint.
#[derive(Clone)]
pub struct LocalJwt {
    secret: Vec<u8>,
}

impl LocalJwt {
    /// The key every local process agrees on unless `OMS_LOCAL_JWT_SECRET` says otherwise.
    pub fn from_env() -> LocalJwt {
        LocalJwt::new(
            std::env::var("OMS_LOCAL_JWT_SECRET")
                .unwrap_or_else(|_| "oms-local-development-signing-key".into())
                .as_bytes(),
        )
    }

    pub fn new(secret: &[u8]) -> LocalJwt {
        LocalJwt {
            secret: secret.to_vec(),
        }
    }

    pub fn mint(&self, sub: &str, company_id: &str, role: &str, customer_id: Option<&str>, ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.into(),
            company_id: company_id.into(),
            role: role.into(),
            customer_id: customer_id.map(Into::into),
            iss: LOCAL_ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + ttl_secs,
            iat: now,
        };
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .unwrap_or_default()
    }

    /// Verifies signature, expiry (no leeway), issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[LOCAL_ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Claims>(token, &DecodingKey::from_secret(&self.secret), &v)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_same_key_and_before_expiry() {
        let jwt = LocalJwt::new(b"one");
        let t = jwt.mint("u1", "acme", "OWNER", None, 60);
        assert_eq!(jwt.verify(&t).expect("valid").company_id, "acme");
        assert!(LocalJwt::new(b"two").verify(&t).is_err());
        let expired = jwt.mint("u1", "acme", "OWNER", None, -5);
        assert!(jwt.verify(&expired).is_err());
        assert!(jwt.verify("not.a.token").is_err());
    }
}
