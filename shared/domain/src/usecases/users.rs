//! The company's users (SPEC §3, §9), managed by OWNER and ADMIN (`users:manage`): a
//! name, an e-mail and a role, and the recipients of the e-mails of that role. Two rules
//! hold under any concurrency:
//! - a company always keeps at least one active OWNER: a change that takes an OWNER away
//!   (demotion or deactivation) is written only together with a check that another user
//!   is still an active OWNER, in one transaction. Two owners removing each other at the
//!   same moment cannot both succeed (each transaction reads the other's item).
//! - an ADMIN cannot make anyone OWNER, nor change or deactivate an OWNER.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::text;
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission, Role};
use crate::catalog::parse_email;
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, UserId};
use crate::notify::User;
use crate::ports::{Deps, Page, PageRequest, UserWrite};

/// Attempts of a change that lost a race (the user, or the OWNER it relied on, moved).
const ATTEMPTS: u32 = 8;
/// How many owners are tried as the one that stays, per attempt.
const OWNER_CANDIDATES: u32 = 10;

/// The roles a user can have: the people of the company. (CUSTOMER logins and
/// INTEGRATION principals are not users.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserRole {
    Owner,
    Admin,
    Staff,
    Finance,
}

impl From<UserRole> for Role {
    fn from(r: UserRole) -> Role {
        match r {
            UserRole::Owner => Role::Owner,
            UserRole::Admin => Role::Admin,
            UserRole::Staff => Role::Staff,
            UserRole::Finance => Role::Finance,
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The user's `sub` at the identity provider (what its tokens carry); generated when
    /// absent.
    #[schema(pattern = "^[A-Za-z0-9._@|-]{1,64}$")]
    pub id: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub role: UserRole,
}

/// A partial change: absent fields stay. `active: true` reactivates a deactivated user.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]",
        nullable = false
    )]
    #[serde(default, deserialize_with = "super::present")]
    pub name: Option<String>,
    #[schema(format = Email, max_length = 254, nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub role: Option<UserRole>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

fn audit(
    deps: &Deps,
    actor: &Actor,
    action: AuditAction,
    before: Option<&User>,
    after: &User,
) -> Result<AuditEntry, Error> {
    let value = |u: &User| serde_json::to_value(u).map_err(Error::internal);
    Ok(AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        deps.clock.now(),
        actor,
        action,
        EntityKind::User,
        after.id.as_str(),
        before.map(value).transpose()?,
        Some(value(after)?),
        json!({}),
    ))
}

fn not_found(id: &UserId) -> Error {
    Error::not_found("user", id.as_str())
}

pub async fn list_users(deps: &Deps, actor: &Actor, active: bool, page: &PageRequest) -> Result<Page<User>, Error> {
    actor.require(Permission::UsersManage)?;
    deps.store.list_users(&actor.company_id, active, page).await
}

pub async fn get_user(deps: &Deps, actor: &Actor, id: &UserId) -> Result<User, Error> {
    actor.require(Permission::UsersManage)?;
    deps.store
        .get_user(&actor.company_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn create_user(deps: &Deps, actor: &Actor, req: CreateUserRequest) -> Result<User, Error> {
    actor.require(Permission::UsersManage)?;
    let mut errors = FieldErrors::default();
    let id = match &req.id {
        Some(id) => errors.take("id", UserId::parse(id)),
        None => UserId::parse(&deps.ids.uuid().to_string()).ok(),
    };
    let name = text(&mut errors, "name", Some(req.name.clone()), 200);
    if name.is_none() && !errors.has("name") {
        errors.push("name", "name must not be empty");
    }
    let email = errors.take("email", parse_email(&req.email));
    errors.finish()?;
    let (Some(id), Some(name), Some(email)) = (id, name, email) else {
        return Err(Error::internal("validated user fields missing"));
    };
    let role = Role::from(req.role);
    may_grant(actor, role)?;
    let now = deps.clock.now();
    let user = User {
        id,
        company_id: actor.company_id.clone(),
        name,
        email,
        role,
        active: true,
        version: 0,
        created_at: Some(now),
        updated_at: Some(now),
    };
    let entry = audit(deps, actor, AuditAction::UserCreated, None, &user)?;
    deps.store.create_user(&user, &entry).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "user created");
    Ok(user)
}

pub async fn update_user(deps: &Deps, actor: &Actor, id: &UserId, req: UpdateUserRequest) -> Result<User, Error> {
    change_user(deps, actor, id, |u| {
        let mut errors = FieldErrors::default();
        if let Some(n) = &req.name {
            match text(&mut errors, "name", Some(n.clone()), 200) {
                Some(n) => u.name = n,
                None if !errors.has("name") => errors.push("name", "name must not be empty"),
                None => {}
            }
        }
        if let Some(e) = &req.email {
            if let Some(e) = errors.take("email", parse_email(e)) {
                u.email = e;
            }
        }
        if let Some(r) = req.role {
            u.role = r.into();
        }
        if let Some(a) = req.active {
            u.active = a;
        }
        errors.finish()
    })
    .await
}

/// `DELETE`: deactivates (the user's history stays; `PATCH {"active": true}` restores it).
pub async fn deactivate_user(deps: &Deps, actor: &Actor, id: &UserId) -> Result<User, Error> {
    change_user(deps, actor, id, |u| {
        u.active = false;
        Ok(())
    })
    .await
}

/// An ADMIN may not hand out OWNER.
fn may_grant(actor: &Actor, role: Role) -> Result<(), Error> {
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(Error::Forbidden {
            message: "only an OWNER can make someone OWNER".into(),
        });
    }
    Ok(())
}

async fn change_user(
    deps: &Deps,
    actor: &Actor,
    id: &UserId,
    edit: impl Fn(&mut User) -> Result<(), Error>,
) -> Result<User, Error> {
    actor.require(Permission::UsersManage)?;
    for _ in 0..ATTEMPTS {
        let before = deps
            .store
            .get_user(&actor.company_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let mut after = before.clone();
        edit(&mut after)?;
        if after == before {
            return Ok(before);
        }
        if before.role == Role::Owner && actor.role != Role::Owner {
            return Err(Error::Forbidden {
                message: "only an OWNER can change or deactivate an OWNER".into(),
            });
        }
        if after.role != before.role {
            may_grant(actor, after.role)?;
        }
        after.version = before.version + 1;
        after.updated_at = Some(deps.clock.now());
        let action = if before.active && !after.active {
            AuditAction::UserDeactivated
        } else {
            AuditAction::UserUpdated
        };
        let entry = audit(deps, actor, action, Some(&before), &after)?;
        let loses_owner = is_active_owner(&before) && !is_active_owner(&after);
        let written = if loses_owner {
            match keep_an_owner(deps, &before, &after, &entry).await? {
                Some(w) => w,
                None => {
                    return Err(Error::Conflict {
                        code: "last_owner",
                        message: format!(
                            "{} is the company's only active OWNER; make someone else OWNER first",
                            before.id
                        ),
                    })
                }
            }
        } else {
            deps.store.update_user(&before, &after, &entry, None).await?
        };
        match written {
            UserWrite::Written => {
                tracing::info!(user_id = %after.id, role = %after.role, active = after.active, "user changed");
                return Ok(after);
            }
            UserWrite::EmailTaken => return Err(duplicate_email(&after.email)),
            UserWrite::Moved | UserWrite::OwnerGone => continue,
        }
    }
    Err(Error::Contention)
}

fn is_active_owner(u: &User) -> bool {
    u.active && u.role == Role::Owner
}

pub fn duplicate_email(email: &str) -> Error {
    Error::Conflict {
        code: "duplicate_email",
        message: format!("another user of this company has the e-mail address {email}"),
    }
}

/// Writes a change that removes an active OWNER, conditional on another active OWNER
/// staying. `None` when there is no other (the last owner).
async fn keep_an_owner(
    deps: &Deps,
    before: &User,
    after: &User,
    entry: &AuditEntry,
) -> Result<Option<UserWrite>, Error> {
    let owners = deps.store.users_with_roles(&before.company_id, &[Role::Owner]).await?;
    let others: Vec<&User> = owners
        .iter()
        .filter(|o| o.id != before.id && o.active)
        .take(OWNER_CANDIDATES as usize)
        .collect();
    for other in &others {
        match deps.store.update_user(before, after, entry, Some(&other.id)).await? {
            // That one left meanwhile: try the next.
            UserWrite::OwnerGone => continue,
            w => return Ok(Some(w)),
        }
    }
    if others.is_empty() {
        return Ok(None);
    }
    // Every candidate left meanwhile: the caller re-reads and tries again.
    Ok(Some(UserWrite::OwnerGone))
}
