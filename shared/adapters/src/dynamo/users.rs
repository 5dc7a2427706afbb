//! Users: one item each, under the company's user index (GSI1, by role then id) while
//! active and under a separate partition once deactivated, so the e-mail recipients of a
//! role are one query that never reads a deactivated user. Each user's e-mail address is
//! claimed by its own item, so two users cannot share one. An active OWNER carries the
//! `active_owner` flag, which the "another OWNER stays" condition checks.

use async_trait::async_trait;

use oms_domain::audit::AuditEntry;
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, UserId};
use oms_domain::notify::User;
use oms_domain::ports::{Page, PageRequest, UserStore, UserWrite};
use oms_domain::usecases::users::duplicate_email;

use super::keys::*;
use super::tx::{n, Guard, Tx};
use super::{av_s, from_item, to_item, values, DynamoStore, Item, NOT_EXISTS};

/// Which condition of a user write failed.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    User,
    Email,
    Owner,
}

impl DynamoStore {
    pub(super) fn user_item(u: &User) -> Result<Item, Error> {
        let mut item = to_item(u)?;
        item.insert(TYPE.into(), av_s("USER"));
        let partition = if u.active {
            users_by_role(&u.company_id)
        } else {
            inactive_users(&u.company_id)
        };
        item.insert(GSI1PK.into(), av_s(partition));
        item.insert(GSI1SK.into(), av_s(format!("{}#{}", u.role, u.id)));
        if u.active && u.role == oms_domain::auth::Role::Owner {
            item.insert("active_owner".into(), av_s("1"));
        }
        Ok(item)
    }

    pub(super) fn email_claim(u: &User) -> Item {
        values([(TYPE, av_s("USEREMAIL")), ("user_id", av_s(u.id.as_str()))])
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, u: &User, audit: &AuditEntry) -> Result<(), Error> {
        let mut tx = Tx::new(&self.table);
        tx.put(
            user(&u.company_id, u.id.as_str()),
            Self::user_item(u)?,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(Rule::User),
        )?;
        tx.put(
            user_email(&u.company_id, &u.email),
            Self::email_claim(u),
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(Rule::Email),
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.iter().any(|f| f.guard == Rule::User) => Err(Error::Conflict {
                code: "duplicate_user",
                message: format!("a user with id {} exists already", u.id),
            }),
            Err(_) => Err(duplicate_email(&u.email)),
        }
    }

    async fn get_user(&self, c: &CompanyId, id: &UserId) -> Result<Option<User>, Error> {
        self.get(user(c, id.as_str())).await?.map(from_item).transpose()
    }

    async fn list_users(&self, c: &CompanyId, active: bool, page: &PageRequest) -> Result<Page<User>, Error> {
        let partition = if active { users_by_role(c) } else { inactive_users(c) };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression(format!("{GSI1PK} = :pk"))
            .expression_attribute_values(":pk", av_s(partition));
        self.one_page(c, query, page).await
    }

    async fn update_user(
        &self,
        before: &User,
        after: &User,
        audit: &AuditEntry,
        owner_stays: Option<&UserId>,
    ) -> Result<UserWrite, Error> {
        let c = &after.company_id;
        let mut tx = Tx::new(&self.table);
        tx.put(
            user(c, after.id.as_str()),
            Self::user_item(after)?,
            Some(("version = :v", values([(":v", n(before.version))]))),
            Guard::Rule(Rule::User),
        )?;
        if before.email.to_lowercase() != after.email.to_lowercase() {
            tx.delete(
                user_email(c, &before.email),
                "user_id = :u",
                values([(":u", av_s(before.id.as_str()))]),
                Guard::Rule(Rule::User),
            )?;
            tx.put(
                user_email(c, &after.email),
                Self::email_claim(after),
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(Rule::Email),
            )?;
        }
        if let Some(other) = owner_stays {
            tx.check(
                user(c, other.as_str()),
                "attribute_exists(active_owner)",
                Guard::Rule(Rule::Owner),
            )?;
        }
        Self::audit_put(&mut tx, audit)?;
        Ok(match tx.commit(&self.client).await? {
            Ok(()) => UserWrite::Written,
            Err(failed) => {
                let has = |r: Rule| failed.iter().any(|f| f.guard == r);
                if has(Rule::User) {
                    UserWrite::Moved
                } else if has(Rule::Email) {
                    UserWrite::EmailTaken
                } else {
                    UserWrite::OwnerGone
                }
            }
        })
    }
}
