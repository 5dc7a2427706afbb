//! Customers and their negotiated prices (SPEC §4).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::{parse_email, Address, Customer, PriceOverride};
use crate::error::{Error, FieldErrors};
use crate::ids::{CustomerId, EventId, ProductId};
use crate::money::Amount;
use crate::ports::{Deps, Page, PageRequest};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomerRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub company_name: String,
    #[schema(max_length = 200)]
    pub contact_name: Option<String>,
    /// An RFC 5322 address.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPriceRequest {
    pub price: DecimalInput,
}

/// A customer with its price list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    #[serde(flatten)]
    pub customer: Customer,
    pub price_overrides: Vec<PriceOverride>,
}

pub async fn create_customer(deps: &Deps, actor: &Actor, req: CreateCustomerRequest) -> Result<Customer, Error> {
    actor.require(Permission::CustomersWrite)?;
    let mut errors = FieldErrors::default();
    let company_name = text(&mut errors, "company_name", Some(req.company_name), 200);
    if company_name.is_none() {
        errors.push("company_name", "company_name is required");
    }
    let contact_name = text(&mut errors, "contact_name", req.contact_name, 200);
    let email = req.email.as_deref().and_then(|e| errors.take("email", parse_email(e)));
    let phone = text(&mut errors, "phone", req.phone, 40);
    for (f, a) in [
        ("billing_address", &req.billing_address),
        ("shipping_address", &req.shipping_address),
    ] {
        if let Some(a) = a {
            errors.take(f, a.validate());
        }
    }
    errors.finish()?;
    let now = deps.clock.now();
    let customer = Customer {
        id: CustomerId::new(deps.ids.uuid()),
        company_id: actor.company_id.clone(),
        customer_number: String::new(),
        company_name: company_name.unwrap_or_default(),
        contact_name,
        email,
        phone,
        billing_address: req.billing_address,
        shipping_address: req.shipping_address,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::CustomerCreated,
        EntityKind::Customer,
        customer.id,
        None,
        None,
        json!({ "company_name": customer.company_name }),
    );
    deps.store.create_customer(customer, &audit).await
}

pub async fn get_customer(deps: &Deps, actor: &Actor, id: CustomerId) -> Result<CustomerView, Error> {
    // A customer may read itself; everyone else needs customers:read.
    if actor.customer_id != Some(id) {
        actor.require(Permission::CustomersRead)?;
    }
    let customer = deps
        .store
        .get_customer(&actor.company_id, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    let price_overrides = deps.store.price_overrides(&actor.company_id, id).await?;
    Ok(CustomerView {
        customer,
        price_overrides,
    })
}

pub async fn set_price_override(
    deps: &Deps,
    actor: &Actor,
    customer_id: CustomerId,
    product_id: ProductId,
    req: SetPriceRequest,
) -> Result<PriceOverride, Error> {
    actor.require(Permission::OrdersPriceOverride)?;
    let product = deps
        .store
        .get_product(&actor.company_id, product_id)
        .await?
        .ok_or_else(|| Error::not_found("product", product_id))?;
    let price = Amount::parse_in(req.price.0, product.currency).map_err(|e| Error::invalid("price", e.to_string()))?;
    let now = deps.clock.now();
    let o = PriceOverride {
        customer_id,
        product_id,
        price,
        updated_at: now,
    };
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::CustomerPriceSet,
        EntityKind::Customer,
        customer_id,
        None,
        Some(json!(o)),
        json!({ "product_id": product_id, "sku": product.sku, "price": price, "catalog_price": product.price }),
    );
    deps.store.put_price_override(&actor.company_id, &o, &audit).await?;
    Ok(o)
}

/// A partial change: absent fields stay; `null` clears the optional ones.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerRequest {
    #[serde(default, deserialize_with = "super::present")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]",
        nullable = false
    )]
    pub company_name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub contact_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>, max_length = 40)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<Address>)]
    pub billing_address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<Address>)]
    pub shipping_address: Option<Option<Address>>,
}

/// `q`: a prefix of a customer's name (or a word of it, or of the contact's name), number
/// or e-mail address, case-insensitive.
pub async fn list_customers(
    deps: &Deps,
    actor: &Actor,
    q: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Customer>, Error> {
    actor.require(Permission::CustomersRead)?;
    let prefix = match q.map(|q| q.trim().to_lowercase().replace('#', "")) {
        Some(p) if p.is_empty() || p.chars().count() > 100 => {
            return Err(Error::invalid("q", "q is 1-100 characters"));
        }
        p => p,
    };
    deps.store
        .list_customers(&actor.company_id, prefix.as_deref(), page)
        .await
}

pub async fn update_customer(
    deps: &Deps,
    actor: &Actor,
    id: CustomerId,
    req: UpdateCustomerRequest,
) -> Result<Customer, Error> {
    actor.require(Permission::CustomersWrite)?;
    let before = deps
        .store
        .get_customer(&actor.company_id, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    let mut after = before.clone();
    let mut errors = FieldErrors::default();
    if let Some(n) = req.company_name {
        match text(&mut errors, "company_name", Some(n), 200) {
            Some(n) => after.company_name = n,
            None if !errors.has("company_name") => errors.push("company_name", "company_name must not be empty"),
            None => {}
        }
    }
    if let Some(v) = req.contact_name {
        after.contact_name = text(&mut errors, "contact_name", v, 200);
    }
    if let Some(v) = req.email {
        after.email = v.as_deref().and_then(|e| errors.take("email", parse_email(e)));
    }
    if let Some(v) = req.phone {
        after.phone = text(&mut errors, "phone", v, 40);
    }
    for (f, v, slot) in [
        ("billing_address", req.billing_address, &mut after.billing_address),
        ("shipping_address", req.shipping_address, &mut after.shipping_address),
    ] {
        if let Some(v) = v {
            if let Some(a) = &v {
                errors.take(f, a.validate());
            }
            *slot = v;
        }
    }
    errors.finish()?;
    if after == before {
        return Ok(before);
    }
    let now = deps.clock.now();
    after.version = before.version + 1;
    after.updated_at = now;
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::CustomerUpdated,
        EntityKind::Customer,
        id,
        Some(json!(before)),
        Some(json!(after)),
        json!({ "company_name": after.company_name }),
    );
    deps.store.update_customer(&before, &after, &audit).await?;
    Ok(after)
}

/// The customer's negotiated prices, a page at a time. A customer may read its own.
pub async fn price_list(
    deps: &Deps,
    actor: &Actor,
    id: CustomerId,
    page: &PageRequest,
) -> Result<Page<PriceOverride>, Error> {
    if actor.customer_id != Some(id) {
        actor.require(Permission::CustomersRead)?;
    }
    if deps.store.get_customer(&actor.company_id, id).await?.is_none() {
        return Err(Error::not_found("customer", id));
    }
    deps.store.price_list(&actor.company_id, id, page).await
}

/// Removes a negotiated price: the customer pays the catalog price again.
pub async fn delete_price_override(
    deps: &Deps,
    actor: &Actor,
    customer_id: CustomerId,
    product_id: ProductId,
) -> Result<(), Error> {
    actor.require(Permission::OrdersPriceOverride)?;
    let c = &actor.company_id;
    if deps.store.get_customer(c, customer_id).await?.is_none() {
        return Err(Error::not_found("customer", customer_id));
    }
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        deps.clock.now(),
        actor,
        AuditAction::CustomerPriceDeleted,
        EntityKind::Customer,
        customer_id,
        None,
        None,
        json!({ "product_id": product_id }),
    );
    if deps
        .store
        .delete_price_override(c, customer_id, product_id, &audit)
        .await?
    {
        Ok(())
    } else {
        Err(Error::not_found("price override", product_id))
    }
}
