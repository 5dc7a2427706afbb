//! The company's users (`users:manage`: OWNER and ADMIN).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use oms_domain::ids::UserId;
use oms_domain::notify::User;
use oms_domain::usecases::users::{self as uc, CreateUserRequest, UpdateUserRequest};

use super::{list_page, ok, run, Data, ListResponse};
use crate::auth::actor;
use crate::error::ErrorBody;
use crate::request::{bool_query, json_body, path_id};
use crate::App;

/// The company's users, by role then id.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    params(
        ("active" = Option<bool>, Query, description = "false: the deactivated users instead (default true)."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "From links.next."),
    ),
    responses(
        (status = 200, description = "A page of users.", body = ListResponse<User>),
        (status = 403, description = "The role lacks users:manage (OWNER and ADMIN have it).", body = ErrorBody),
        (status = 422, description = "A bad `active`, `per_page` or cursor, or an unknown parameter.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_users(app: &App, req: Request) -> Response<Body> {
    run("list_users", &req, async {
        let actor = actor(&req)?;
        let active = bool_query(&req, "active")?.unwrap_or(true);
        list_page(app, &req, &actor, &format!("users:{active}"), |page| {
            let deps = &app.deps;
            let actor = &actor;
            async move { uc::list_users(deps, actor, active, &page).await }
        })
        .await
    })
    .await
}

/// Add a user: they receive the e-mails of their role from now on.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users", operation_id = "create_user",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The user.", body = Data<User>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 403, description = "The role lacks users:manage, or an ADMIN asked for an OWNER.", body = ErrorBody),
        (status = 409, description = "duplicate_email (another user has the address) or duplicate_user (the id is taken).", body = ErrorBody),
        (status = 422, description = "validation_error: names every bad field.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_user(app: &App, req: Request) -> Response<Body> {
    run("create_user", &req, async {
        let actor = actor(&req)?;
        let (body, _): (CreateUserRequest, _) = json_body(&req)?;
        Ok(ok(StatusCode::CREATED, uc::create_user(&app.deps, &actor, body).await?))
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = String, Path, description = "User id (the identity provider's `sub`)")),
    responses(
        (status = 200, description = "The user.", body = Data<User>),
        (status = 403, description = "The role lacks users:manage.", body = ErrorBody),
        (status = 404, description = "No such user in this company.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_user(app: &App, req: Request) -> Response<Body> {
    run("get_user", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "user", UserId::parse)?;
        Ok(ok(StatusCode::OK, uc::get_user(&app.deps, &actor, &id).await?))
    })
    .await
}

/// Change a user's name, e-mail, role, or `active`. The company keeps an active OWNER.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "update_user",
    params(("id" = String, Path, description = "User id (the identity provider's `sub`)")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user after the change.", body = Data<User>),
        (status = 400, description = "Malformed JSON.", body = ErrorBody),
        (status = 403, description = "The role lacks users:manage, or an ADMIN asked for OWNER or to change an OWNER.", body = ErrorBody),
        (status = 404, description = "No such user in this company.", body = ErrorBody),
        (status = 409, description = "last_owner (it would leave no active OWNER) or duplicate_email.", body = ErrorBody),
        (status = 422, description = "validation_error: names every bad field.", body = ErrorBody),
        (status = 503, description = "contention: other changes kept landing first; retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_user(app: &App, req: Request) -> Response<Body> {
    run("update_user", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "user", UserId::parse)?;
        let (body, _): (UpdateUserRequest, _) = json_body(&req)?;
        Ok(ok(StatusCode::OK, uc::update_user(&app.deps, &actor, &id, body).await?))
    })
    .await
}

/// Deactivate a user: no more e-mails; the history stays.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users", operation_id = "deactivate_user",
    params(("id" = String, Path, description = "User id (the identity provider's `sub`)")),
    responses(
        (status = 200, description = "The user, deactivated.", body = Data<User>),
        (status = 403, description = "The role lacks users:manage, or an ADMIN asked to deactivate an OWNER.", body = ErrorBody),
        (status = 404, description = "No such user in this company.", body = ErrorBody),
        (status = 409, description = "last_owner: the company's only active OWNER.", body = ErrorBody),
        (status = 503, description = "contention: retry.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn deactivate_user(app: &App, req: Request) -> Response<Body> {
    run("deactivate_user", &req, async {
        let actor = actor(&req)?;
        let id = path_id(&req, "id", "user", UserId::parse)?;
        Ok(ok(StatusCode::OK, uc::deactivate_user(&app.deps, &actor, &id).await?))
    })
    .await
}
