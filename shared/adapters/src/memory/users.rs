//! The users of the in-memory store (as `dynamo::users`): unique addresses per company,
//! and the "another OWNER stays" check, under the one lock.

use async_trait::async_trait;

use oms_domain::audit::AuditEntry;
use oms_domain::auth::Role;
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, UserId};
use oms_domain::notify::User;
use oms_domain::ports::{Page, PageRequest, UserStore, UserWrite};

use super::{MemoryStore, State};

impl State {
    /// Another user of the company with this address (compared case-insensitively).
    fn email_taken(&self, u: &User) -> bool {
        let email = u.email.to_lowercase();
        self.users
            .values()
            .any(|o| o.company_id == u.company_id && o.id != u.id && o.email.to_lowercase() == email)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, u: &User, audit: &AuditEntry) -> Result<(), Error> {
        let mut s = self.lock();
        if s.users.contains_key(&(u.company_id.clone(), u.id.clone())) {
            return Err(Error::Conflict {
                code: "duplicate_user",
                message: format!("a user with id {} exists already", u.id),
            });
        }
        if s.email_taken(u) {
            return Err(oms_domain::usecases::users::duplicate_email(&u.email));
        }
        s.users.insert((u.company_id.clone(), u.id.clone()), u.clone());
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn get_user(&self, company: &CompanyId, id: &UserId) -> Result<Option<User>, Error> {
        Ok(self.lock().users.get(&(company.clone(), id.clone())).cloned())
    }

    async fn list_users(&self, company: &CompanyId, active: bool, page: &PageRequest) -> Result<Page<User>, Error> {
        let rows = self
            .lock()
            .users
            .values()
            .filter(|u| &u.company_id == company && u.active == active)
            .map(|u| (format!("{}#{}", u.role, u.id), u.clone()))
            .collect();
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn update_user(
        &self,
        before: &User,
        after: &User,
        audit: &AuditEntry,
        owner_stays: Option<&UserId>,
    ) -> Result<UserWrite, Error> {
        let mut s = self.lock();
        let key = (after.company_id.clone(), after.id.clone());
        if s.users.get(&key).map(|u| u.version) != Some(before.version) {
            return Ok(UserWrite::Moved);
        }
        if s.email_taken(after) {
            return Ok(UserWrite::EmailTaken);
        }
        if let Some(other) = owner_stays {
            let stays = s
                .users
                .get(&(after.company_id.clone(), other.clone()))
                .is_some_and(|o| o.active && o.role == Role::Owner);
            if !stays {
                return Ok(UserWrite::OwnerGone);
            }
        }
        s.users.insert(key, after.clone());
        s.audit.push(audit.clone());
        Ok(UserWrite::Written)
    }
}
