//! The company's settings (SPEC §3, §9): read by staff and finance (`settings:read`),
//! changed by the OWNER (`settings:write`). A change is a partial update applied to the
//! settings as they are now, written conditionally on their version with its
//! `SettingsUpdated` audit entry (before and after) in one transaction.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::{nullable, text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::parse_email;
use crate::error::{Error, FieldErrors};
use crate::ids::EventId;
use crate::money::{Amount, Currency, MAX_AMOUNT};
use crate::outbox::{DomainEvent, HighValueRecount, OutboxEvent};
use crate::ports::Deps;
use crate::settings::{CompanySettings, StockPolicy};

/// How often a change is re-applied when another change landed between its read and its
/// write (each attempt re-reads, so a field the other change did not touch is kept).
/// Every round lets at least one of the competing changes through, and a short random
/// pause spreads the rest, so a dozen people saving at once all succeed.
const ATTEMPTS: u32 = 12;
/// The most the monthly cap can be (orders per month).
pub const MAX_MONTHLY_LIMIT: u32 = 1_000_000;
const MAX_THRESHOLD: u32 = 1_000_000_000;

/// `v` trimmed, if it is 1-`max` characters without control characters; else the field's
/// error, recorded. The document's pattern for such a field (one line of visible text;
/// `(?![\s\S])` is the end of the string in every regex dialect, where Python's `$` also
/// matches before "\n") says the same; utoipa takes it only as a literal, so it is
/// written out on each field.
fn one_line(errors: &mut FieldErrors, field: &str, v: &str, max: usize, what: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        errors.push(field, format!("{field} is 1-{max} characters without {what}"));
        return None;
    }
    Some(v.to_owned())
}

/// A partial change: absent fields stay as they are; `null` clears a field that may be
/// empty (`monthly_order_limit`, `discount_approval_threshold`, the e-mail fields).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettingsRequest {
    /// The company's name, as e-mails show it.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]",
        nullable = false
    )]
    #[serde(default, deserialize_with = "super::present")]
    pub name: Option<String>,
    /// ISO 4217: the currency of new products and orders that name none.
    #[schema(schema_with = crate::money::required_currency_code_schema)]
    #[serde(default, deserialize_with = "super::present")]
    pub default_currency: Option<String>,
    /// Customer orders allowed per calendar month (UTC); `null` for no cap.
    #[serde(default, deserialize_with = "crate::whole::de_nullable")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000)]
    pub monthly_order_limit: Option<Option<u32>>,
    /// Products without their own threshold are low at or below this.
    #[serde(default, deserialize_with = "crate::whole::de_present")]
    #[schema(minimum = 0, maximum = 1_000_000_000, nullable = false)]
    pub low_stock_threshold: Option<u32>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub restock_on_cancel: Option<bool>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub dashboard_orders_decrement_stock: Option<bool>,
    /// `at_placement` (orders take stock when placed) or `reserve_on_confirm` (confirming
    /// reserves, shipping takes, cancelling releases). Orders already placed keep the stock
    /// state they are in: a switch applies from each order's next confirm or ship.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<StockPolicy>, nullable = false)]
    pub stock_policy: Option<String>,
    /// Orders at or above this total alert finance and count as high-value (more than 0).
    #[schema(schema_with = positive_amount_schema)]
    #[serde(default, deserialize_with = "super::present")]
    pub high_value_threshold: Option<DecimalInput>,
    /// Orders whose discount exceeds this wait for approval; `null` for never.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DecimalInput>)]
    pub discount_approval_threshold: Option<Option<DecimalInput>>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub storefront: Option<StorefrontPatch>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub email: Option<EmailPatch>,
    /// The company's postal address, printed on invoices and at the foot of its e-mails;
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<crate::catalog::Address>)]
    pub address: Option<Option<crate::catalog::Address>>,
    /// The company's tax or VAT number, printed on invoices (1-50 characters, no control
    /// characters); `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(
        value_type = Option<String>,
        min_length = 1,
        max_length = 50,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*(?![\\s\\S])"
    )]
    pub tax_id: Option<Option<String>>,
}

/// The storefront's tax and shipping rule; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorefrontPatch {
    /// Percent, 0 to 100, at most 4 decimals (`8.25`).
    #[schema(schema_with = percent_schema)]
    #[serde(default, deserialize_with = "super::present")]
    pub tax_rate: Option<DecimalInput>,
    /// A flat shipping charge per order.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub shipping_amount: Option<DecimalInput>,
    /// Orders whose subtotal reaches this ship free; 0 for never free.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub free_shipping_threshold: Option<DecimalInput>,
}

/// The e-mails' sender name and reply-to address; `null` clears either.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPatch {
    #[serde(default, deserialize_with = "nullable")]
    // A header value: one line (no header injection).
    #[schema(
        value_type = Option<String>,
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*(?![\\s\\S])"
    )]
    pub sender_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub reply_to: Option<Option<String>>,
    /// The dashboard's address: `https://` and a host (or `http://localhost`), an optional
    /// port and path, no query; order e-mails link to `<dashboard_url>/orders/<id>`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^(https://[A-Za-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$")]
    pub dashboard_url: Option<Option<String>>,
}

/// A dashboard URL as [`EmailPatch::dashboard_url`]'s pattern says (checked by hand, so the
/// document and the code agree): it goes into e-mails' links, so nothing else.
fn parse_dashboard_url(u: &str) -> Result<String, String> {
    let bad = || {
        "email.dashboard_url is https:// and a host (or http://localhost), an optional port and path, at most 200 characters"
            .to_owned()
    };
    if u.len() > 200 {
        return Err(bad());
    }
    let rest = if let Some(r) = u.strip_prefix("https://") {
        let host_len = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(r.len());
        if host_len == 0 {
            return Err(bad());
        }
        &r[host_len..]
    } else if let Some(r) = u
        .strip_prefix("http://localhost")
        .or_else(|| u.strip_prefix("http://127.0.0.1"))
    {
        r
    } else {
        return Err(bad());
    };
    let rest = match rest.strip_prefix(':') {
        Some(p) => {
            let digits = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            if !(1..=5).contains(&digits) {
                return Err(bad());
            }
            &p[digits..]
        }
        None => rest,
    };
    let path_ok = rest.is_empty()
        || (rest.starts_with('/')
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '%' | '/' | '-')));
    if !path_ok {
        return Err(bad());
    }
    Ok(u.to_owned())
}

/// A decimal (string or number) more than 0 and at most 10^12, 2 decimals at most.
pub(crate) fn positive_amount_schema() -> utoipa::openapi::schema::Schema {
    decimal_schema(
        r"^(?!0*(\.0*)?$)[0-9]{1,12}(\.[0-9]{1,2})?$",
        "More than 0 and at most 1000000000000, with at most the currency's decimal places.",
        1_000_000_000_000,
        true,
    )
}

/// A percent: a decimal (string or number) from 0 to 100 with at most 4 decimals.
fn percent_schema() -> utoipa::openapi::schema::Schema {
    decimal_schema(
        r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$",
        "A percent from 0 to 100, at most 4 decimals (\"8.25\").",
        100,
        false,
    )
}

/// Like `DecimalInput` (see `oms-api`'s `openapi.rs`): a string with the pattern, or a JSON
/// number in range. "At most N decimals" cannot be stated for a number in JSON Schema.
fn decimal_schema(pattern: &str, description: &str, max: i64, positive: bool) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let b = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .pattern(Some(pattern))
        .description(Some(description))
        .maximum(Some(max));
    let b = if positive {
        b.exclusive_minimum(Some(0))
    } else {
        b.minimum(Some(0))
    };
    b.build().into()
}

pub async fn get_settings(deps: &Deps, actor: &Actor) -> Result<CompanySettings, Error> {
    actor.require(Permission::SettingsRead)?;
    deps.store.get_settings(&actor.company_id).await
}

pub async fn update_settings(deps: &Deps, actor: &Actor, req: UpdateSettingsRequest) -> Result<CompanySettings, Error> {
    actor.require(Permission::SettingsWrite)?;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            // A random 1-8 ms, times the attempt (at most 4): losers do not collide again.
            let jitter = rand::random_range(1..=8u64);
            tokio::time::sleep(std::time::Duration::from_millis(jitter * u64::from(attempt.min(4)))).await;
        }
        let before = deps.store.get_settings(&actor.company_id).await?;
        let mut after = apply(&before, &req)?;
        if after == before {
            return Ok(before);
        }
        let now = deps.clock.now();
        // A new threshold starts a new generation of the high-value counters, recounted by
        // the jobs worker (see `usecases::high_value`); the event is written with the change.
        let recount = (after.high_value_threshold != before.high_value_threshold).then(|| {
            after.high_value_generation = before.high_value_generation + 1;
            OutboxEvent {
                id: EventId::new(deps.ids.uuid()),
                company_id: actor.company_id.clone(),
                subject: format!("high_value:{}", after.high_value_generation),
                occurred_at: now,
                event: DomainEvent::HighValueRecount(HighValueRecount {
                    generation: after.high_value_generation,
                }),
            }
        });
        let audit = AuditEntry::new(
            EventId::new(deps.ids.uuid()),
            now,
            actor,
            AuditAction::SettingsUpdated,
            EntityKind::Settings,
            actor.company_id.as_str(),
            Some(serde_json::to_value(&before).map_err(Error::internal)?),
            Some(serde_json::to_value(&after).map_err(Error::internal)?),
            json!({ "changed": changed(&before, &after) }),
        );
        if deps
            .store
            .update_settings(&actor.company_id, &after, &audit, recount.as_ref())
            .await?
        {
            tracing::info!(changed = ?changed(&before, &after), version = after.version, "settings updated");
            return Ok(after);
        }
    }
    Err(Error::Contention)
}

/// The settings after the change, every field checked (all errors at once).
fn apply(before: &CompanySettings, req: &UpdateSettingsRequest) -> Result<CompanySettings, Error> {
    let mut errors = FieldErrors::default();
    let mut s = before.clone();
    if let Some(name) = &req.name {
        match text(&mut errors, "name", Some(name.clone()), 200) {
            Some(n) => s.name = n,
            None if !errors.has("name") => errors.push("name", "name must not be empty"),
            None => {}
        }
    }
    match &req.address {
        Some(Some(a)) if errors.take("address", a.validate()).is_some() => s.address = Some(a.clone()),
        Some(Some(_)) | None => {}
        Some(None) => s.address = None,
    }
    match &req.tax_id {
        Some(Some(t)) => {
            if let Some(t) = one_line(&mut errors, "tax_id", t, 50, "control characters") {
                s.tax_id = Some(t);
            }
        }
        Some(None) => s.tax_id = None,
        None => {}
    }
    if let Some(c) = &req.default_currency {
        if let Some(c) = errors.take("default_currency", Currency::parse(c)) {
            s.default_currency = c;
        }
    }
    let currency = s.default_currency;
    match req.monthly_order_limit {
        Some(Some(n)) if !(1..=MAX_MONTHLY_LIMIT).contains(&n) => errors.push(
            "monthly_order_limit",
            format!("monthly_order_limit is 1 to {MAX_MONTHLY_LIMIT}, or null for no cap"),
        ),
        Some(v) => s.monthly_order_limit = v,
        None => {}
    }
    match req.low_stock_threshold {
        Some(n) if n > MAX_THRESHOLD => errors.push(
            "low_stock_threshold",
            format!("low_stock_threshold is 0 to {MAX_THRESHOLD}"),
        ),
        Some(n) => s.low_stock_threshold = n,
        None => {}
    }
    if let Some(v) = req.restock_on_cancel {
        s.restock_on_cancel = v;
    }
    if let Some(v) = req.dashboard_orders_decrement_stock {
        s.dashboard_orders_decrement_stock = v;
    }
    if let Some(v) = &req.stock_policy {
        match StockPolicy::ALL.into_iter().find(|p| p.as_str() == v) {
            Some(p) => s.stock_policy = p,
            None => errors.push(
                "stock_policy",
                format!("`{v}` is not a stock policy; use at_placement or reserve_on_confirm"),
            ),
        }
    }
    if let Some(v) = req.high_value_threshold {
        match amount(&mut errors, "high_value_threshold", v.0, currency) {
            Some(a) if a.is_zero() => errors.push("high_value_threshold", "high_value_threshold must be more than 0"),
            Some(a) => s.high_value_threshold = a,
            None => {}
        }
    }
    match req.discount_approval_threshold {
        Some(Some(v)) => {
            if let Some(a) = amount(&mut errors, "discount_approval_threshold", v.0, currency) {
                s.discount_approval_threshold = Some(a);
            }
        }
        Some(None) => s.discount_approval_threshold = None,
        None => {}
    }
    if let Some(p) = &req.storefront {
        if let Some(r) = p.tax_rate {
            let r = r.0.normalize();
            if r.is_sign_negative() && !r.is_zero() || r > Decimal::ONE_HUNDRED || r.scale() > 4 {
                errors.push(
                    "storefront.tax_rate",
                    "storefront.tax_rate is a percent from 0 to 100 with at most 4 decimals",
                );
            } else {
                s.storefront.tax_rate = r;
            }
        }
        if let Some(v) = p.shipping_amount {
            if let Some(a) = amount(&mut errors, "storefront.shipping_amount", v.0, currency) {
                s.storefront.shipping_amount = a;
            }
        }
        if let Some(v) = p.free_shipping_threshold {
            if let Some(a) = amount(&mut errors, "storefront.free_shipping_threshold", v.0, currency) {
                s.storefront.free_shipping_threshold = a;
            }
        }
    }
    if let Some(e) = &req.email {
        match &e.sender_name {
            // A header value: no line breaks (header injection), printable, bounded.
            Some(Some(n)) => {
                let what = "line breaks or control characters";
                if let Some(n) = one_line(&mut errors, "email.sender_name", n, 100, what) {
                    s.email.sender_name = Some(n);
                }
            }
            Some(None) => s.email.sender_name = None,
            None => {}
        }
        match &e.reply_to {
            Some(Some(a)) => {
                if let Some(a) = errors.take("email.reply_to", parse_email(a)) {
                    s.email.reply_to = Some(a);
                }
            }
            Some(None) => s.email.reply_to = None,
            None => {}
        }
        match &e.dashboard_url {
            Some(Some(u)) => match parse_dashboard_url(u) {
                Ok(u) => s.email.dashboard_url = Some(u),
                Err(m) => errors.push("email.dashboard_url", m),
            },
            Some(None) => s.email.dashboard_url = None,
            None => {}
        }
    }
    // A new currency must fit every amount the settings keep (12.50 cannot stay in JPY):
    // the caller sends new values for those in the same change.
    if s.default_currency != before.default_currency && !errors.has("default_currency") {
        let kept = [
            ("high_value_threshold", Some(s.high_value_threshold)),
            ("discount_approval_threshold", s.discount_approval_threshold),
            ("storefront.shipping_amount", Some(s.storefront.shipping_amount)),
            (
                "storefront.free_shipping_threshold",
                Some(s.storefront.free_shipping_threshold),
            ),
        ];
        for (field, value) in kept {
            if let Some(v) = value.filter(|v| !errors.has(field) && Amount::parse_in(*v, currency).is_err()) {
                errors.push(
                    field,
                    format!(
                        "{field} is {v}, which {} cannot hold ({} decimals); send a new {field} with the currency change",
                        currency.code(),
                        currency.minor_units()
                    ),
                );
            }
        }
    }
    errors.finish()?;
    if s != *before {
        s.version = before.version + 1;
    }
    Ok(s)
}

/// A threshold or charge in the company's currency: at least 0, at most the largest
/// amount, no more decimals than the currency has.
fn amount(errors: &mut FieldErrors, field: &str, v: Decimal, currency: Currency) -> Option<Decimal> {
    if v > MAX_AMOUNT {
        errors.push(field, format!("{field} must be at most 1,000,000,000,000"));
        return None;
    }
    match Amount::parse_in(v, currency) {
        Ok(a) => Some(a.value()),
        Err(e) => {
            let message = match e {
                Error::Validation { message, .. } => message.replacen("amount", field, 1),
                other => other.to_string(),
            };
            errors.push(field, message);
            None
        }
    }
}

/// The names of the top-level settings a change moved, for the audit summary.
fn changed(before: &CompanySettings, after: &CompanySettings) -> Vec<String> {
    let (b, a) = (
        serde_json::to_value(before).unwrap_or_default(),
        serde_json::to_value(after).unwrap_or_default(),
    );
    let (Some(b), Some(a)) = (b.as_object(), a.as_object()) else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| k.as_str() != "version" && b.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}
