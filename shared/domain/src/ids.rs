//! Identifier newtypes. They are built only by parsing, so a value of one of these types
//! is always safe to embed in a storage key (no `#`, bounded length).

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::error::Error;

/// Characters allowed in tenant and user ids: they become parts of storage keys.
fn is_key_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == '@' || c == '|')
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, Error> {
                if is_key_safe(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(Error::invalid(
                        $what,
                        concat!($what, " must be 1-64 characters of letters, digits, '-', '_', '.', '@' or '|'"),
                    ))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// The tenant: every record belongs to exactly one company.
    CompanyId,
    "company_id"
);
text_id!(
    /// A user (the JWT `sub`): staff, customer login or integration.
    UserId,
    "user_id"
);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new(id: Uuid) -> Self {
                Self(id)
            }
            pub fn parse(s: &str) -> Result<Self, Error> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::invalid($what, concat!($what, " must be a UUID")))
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A catalog product.
    ProductId,
    "product_id"
);
uuid_id!(
    /// A customer (the buying business).
    CustomerId,
    "customer_id"
);
uuid_id!(
    /// An order.
    OrderId,
    "order_id"
);
uuid_id!(
    /// An audit-log entry or outbox event.
    EventId,
    "event_id"
);
uuid_id!(
    /// An integration: a shop platform, marketplace or ERP that posts signed webhooks.
    IntegrationId,
    "integration_id"
);
uuid_id!(
    /// One product import (a CSV file being applied).
    ImportId,
    "import_id"
);
uuid_id!(
    /// One webhook delivery received from an integration.
    DeliveryId,
    "delivery_id"
);
