//! The one domain error type. The HTTP edge maps each variant to a status and a stable
//! `code`; nothing here knows about HTTP.

use serde::Serialize;

use crate::auth::Permission;

/// One invalid field of a request, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// One bad cell (or row, or header) of an imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The file's line number (1 is the header row).
    pub line: u64,
    /// The column's header (`row` for the row as a whole).
    pub column: String,
    /// The cell as sent.
    pub value: String,
    pub message: String,
}

/// A line that could not be filled from stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShortLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub requested: u32,
    pub available: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well-formed JSON but breaks a rule; every broken field is listed.
    #[error("{message}")]
    Validation { message: String, fields: Vec<FieldError> },
    /// The entity does not exist for this tenant (another tenant's ids land here too).
    #[error("{entity} {id} was not found")]
    NotFound { entity: &'static str, id: String },
    #[error("this action needs the `{0}` permission")]
    Permission(Permission),
    /// The caller holds the permission, but a rule about the target refuses it (an ADMIN
    /// changing an OWNER): 403.
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{}", short_stock_message(.0))]
    InsufficientStock(Vec<ShortLine>),
    /// A business conflict with a stable code (`duplicate_sku`, `monthly_limit_reached`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A request that would have to be split to fit one transaction, and so is refused whole.
    #[error("{message}")]
    LimitExceeded { code: &'static str, message: String },
    /// An absolute stock set was based on a stock level that has changed since (a sale or
    /// another edit landed): refused, with the stock as it is now.
    #[error("the stock changed since you read it: it is now {current_stock}; set it again from that, or adjust it by a difference instead")]
    StockChanged { current_stock: u32 },
    /// A request that proves no identity (a webhook with a bad signature, for an unknown
    /// integration): 401.
    #[error("{message}")]
    Unauthenticated { message: String },
    /// The target existed and was disabled (a deleted integration's webhook URL): 410.
    #[error("{message}")]
    Gone { message: String },
    /// `If-Match` named a version the entity has moved past.
    #[error("{message}")]
    PreconditionFailed { message: String },
    /// The same `Idempotency-Key` was used before with a different request body.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// A CSV file with bad rows: every one, by line and column, with what the file would
    /// otherwise do (`Value`: the counts). Nothing was applied.
    #[error("{} problem(s) in the file; nothing was imported", .0.len())]
    InvalidRows(Vec<RowError>, serde_json::Value),
    /// Write contention that outlasted our retries; the caller may retry.
    #[error("the system is busy with conflicting writes; retry the request")]
    Contention,
    /// Anything unexpected (storage outage, corrupt item). Logged with its cause, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn short_stock_message(lines: &[ShortLine]) -> String {
    lines
        .iter()
        .map(|l| format!("Not enough stock for {}. Only {} available.", l.name, l.available))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        Error::Validation {
            message: message.clone(),
            fields: vec![FieldError { field, message }],
        }
    }

    /// Several field errors at once, so a client can fix a form in one round trip.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            _ => format!("{} fields are invalid", fields.len()),
        };
        Error::Validation { message, fields }
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(e.into())
    }
}

/// Collects field errors while a command is parsed, then fails once with all of them.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Whether an error is recorded for `field`.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Runs a parse, recording its validation errors under `field`.
    pub fn take<T>(&mut self, field: &str, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::Validation { fields, message }) => {
                if fields.is_empty() {
                    self.push(field, message);
                }
                for f in fields {
                    let name = if f.field == field || field.is_empty() {
                        f.field
                    } else {
                        field.to_owned()
                    };
                    self.push(name, f.message);
                }
                None
            }
            Err(other) => {
                self.push(field, other.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(self.0))
        }
    }
}
