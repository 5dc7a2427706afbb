//! Who is calling and what they may do (SPEC §3). Permissions derive from the role; a
//! customer is additionally confined to its own customer id.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::Error;
use crate::ids::{CompanyId, CustomerId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Owner,
    Admin,
    Staff,
    Finance,
    Customer,
    Integration,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, Error> {
        Ok(match s {
            "OWNER" => Role::Owner,
            "ADMIN" => Role::Admin,
            "STAFF" => Role::Staff,
            "FINANCE" => Role::Finance,
            "CUSTOMER" => Role::Customer,
            "INTEGRATION" => Role::Integration,
            other => return Err(Error::invalid("role", format!("unknown role `{other}`"))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Staff => "STAFF",
            Role::Finance => "FINANCE",
            Role::Customer => "CUSTOMER",
            Role::Integration => "INTEGRATION",
        }
    }

    /// Staff work the dashboard: OWNER, ADMIN, STAFF.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Owner | Role::Admin | Role::Staff)
    }

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => &[
                OrdersCreate,
                OrdersRead,
                OrdersUpdate,
                OrdersStatus,
                OrdersPriceOverride,
                InvoicesSend,
                PaymentsRecord,
                ProductsRead,
                ProductsWrite,
                CustomersRead,
                CustomersWrite,
                StockAdjust,
                InventoryRead,
                AuditRead,
                SettingsRead,
                SettingsWrite,
                IntegrationsWrite,
                UsersManage,
            ],
            Role::Admin => &[
                OrdersCreate,
                OrdersRead,
                OrdersUpdate,
                OrdersStatus,
                OrdersPriceOverride,
                InvoicesSend,
                PaymentsRecord,
                ProductsRead,
                ProductsWrite,
                CustomersRead,
                CustomersWrite,
                StockAdjust,
                InventoryRead,
                AuditRead,
                SettingsRead,
                IntegrationsWrite,
                UsersManage,
            ],
            Role::Staff => &[
                OrdersCreate,
                OrdersRead,
                OrdersUpdate,
                OrdersStatus,
                InvoicesSend,
                ProductsRead,
                CustomersRead,
                CustomersWrite,
                StockAdjust,
                InventoryRead,
                SettingsRead,
            ],
            Role::Finance => &[
                OrdersRead,
                InvoicesSend,
                PaymentsRecord,
                ProductsRead,
                CustomersRead,
                AuditRead,
                SettingsRead,
            ],
            Role::Customer => &[OrdersCreate, OrdersRead, ProductsRead],
            Role::Integration => &[OrdersCreate, OrdersRead, ProductsRead, CustomersRead, CustomersWrite],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    OrdersCreate,
    OrdersRead,
    OrdersUpdate,
    OrdersStatus,
    OrdersPriceOverride,
    /// E-mail an order's invoice (to its customer, or to addresses the caller names).
    InvoicesSend,
    /// Record payments and refunds on invoice orders.
    PaymentsRecord,
    ProductsRead,
    ProductsWrite,
    CustomersRead,
    CustomersWrite,
    StockAdjust,
    InventoryRead,
    AuditRead,
    SettingsRead,
    SettingsWrite,
    IntegrationsWrite,
    UsersManage,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Permission::*;
        f.write_str(match self {
            OrdersCreate => "orders:create",
            OrdersRead => "orders:read",
            OrdersUpdate => "orders:update",
            OrdersStatus => "orders:status",
            OrdersPriceOverride => "orders:price_override",
            InvoicesSend => "invoices:send",
            PaymentsRecord => "payments:record",
            ProductsRead => "products:read",
            ProductsWrite => "products:write",
            CustomersRead => "customers:read",
            CustomersWrite => "customers:write",
            StockAdjust => "stock:adjust",
            InventoryRead => "inventory:read",
            AuditRead => "audit:read",
            SettingsRead => "settings:read",
            SettingsWrite => "settings:write",
            IntegrationsWrite => "integrations:write",
            UsersManage => "users:manage",
        })
    }
}

/// The authenticated caller, from verified JWT claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: UserId,
    pub company_id: CompanyId,
    pub role: Role,
    /// Set for CUSTOMER callers: the customer they buy for.
    pub customer_id: Option<CustomerId>,
}

impl Actor {
    /// Builds an actor from claims, refusing combinations that make no sense.
    pub fn from_claims(sub: &str, company_id: &str, role: &str, customer_id: Option<&str>) -> Result<Actor, Error> {
        let role = Role::parse(role)?;
        let customer_id = customer_id
            .filter(|s| !s.is_empty())
            .map(CustomerId::parse)
            .transpose()?;
        if role == Role::Customer && customer_id.is_none() {
            return Err(Error::invalid("customer_id", "a CUSTOMER token must carry customer_id"));
        }
        Ok(Actor {
            user_id: UserId::parse(sub)?,
            company_id: CompanyId::parse(company_id)?,
            role,
            customer_id: if role == Role::Customer { customer_id } else { None },
        })
    }

    pub fn can(&self, p: Permission) -> bool {
        self.role.permissions().contains(&p)
    }

    pub fn require(&self, p: Permission) -> Result<(), Error> {
        if self.can(p) {
            Ok(())
        } else {
            Err(Error::Permission(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_cannot_override_prices_or_adjust_stock() {
        let a =
            Actor::from_claims("u1", "acme", "CUSTOMER", Some("8a0f3a56-7f3c-4c38-9d51-64c1b1a3c1aa")).expect("actor");
        assert!(a.can(Permission::OrdersCreate));
        assert!(!a.can(Permission::OrdersPriceOverride));
        assert!(!a.can(Permission::StockAdjust));
    }

    #[test]
    fn a_customer_token_without_customer_id_is_refused() {
        assert!(Actor::from_claims("u1", "acme", "CUSTOMER", None).is_err());
    }

    #[test]
    fn staff_tokens_drop_a_stray_customer_id() {
        let a = Actor::from_claims("u1", "acme", "STAFF", Some("8a0f3a56-7f3c-4c38-9d51-64c1b1a3c1aa")).expect("actor");
        assert_eq!(a.customer_id, None);
    }

    #[test]
    fn unknown_roles_and_unsafe_tenant_ids_are_refused() {
        assert!(Actor::from_claims("u1", "acme", "ROOT", None).is_err());
        assert!(Actor::from_claims("u1", "acme#other", "OWNER", None).is_err());
    }
}
