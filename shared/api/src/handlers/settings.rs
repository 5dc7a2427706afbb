//! The company's settings.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use oms_domain::settings::CompanySettings;
use oms_domain::usecases::settings::{self as uc, UpdateSettingsRequest};

use super::{ok, run, Data};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::request::json_body;
use crate::App;

/// The company's settings.
#[utoipa::path(
    get, path = "/api/v1/settings", tag = "settings", operation_id = "get_settings",
    responses(
        (status = 200, description = "The settings (defaults until first changed), with their `version`.", body = Data<CompanySettings>),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks settings:read (OWNER, ADMIN, STAFF and FINANCE have it).", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_settings(app: &App, req: Request) -> Response<Body> {
    run("get_settings", &req, async {
        let actor = actor(&req)?;
        Ok(ok(StatusCode::OK, uc::get_settings(&app.deps, &actor).await?))
    })
    .await
}

/// Change some settings: absent fields stay as they are, `null` clears the ones that may
/// be empty. Applied to the settings as they are now (a concurrent change to other fields
/// is kept), audited `SettingsUpdated` with before and after.
#[utoipa::path(
    patch, path = "/api/v1/settings", tag = "settings", operation_id = "update_settings",
    request_body = UpdateSettingsRequest,
    responses(
        (status = 200, description = "The settings after the change.", body = Data<CompanySettings>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks settings:write (only OWNER has it).", body = ErrorBody),
        (status = 422, description = "validation_error: names every bad field; nothing changed.", body = ErrorBody),
        (status = 503, description = "contention: other changes kept landing first; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_settings(app: &App, req: Request) -> Response<Body> {
    run("update_settings", &req, async {
        let actor = actor(&req)?;
        let (body, _): (UpdateSettingsRequest, _) = json_body(&req)?;
        Ok(ok(StatusCode::OK, uc::update_settings(&app.deps, &actor, body).await?))
    })
    .await
}
