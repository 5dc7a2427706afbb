//! The demo tenant the local server seeds: a company with products (one low on stock, one
//! out of stock, one not stock-tracked, one inactive), two customers (one with a
//! negotiated price), users for each role, and one integration of each kind (Standard
//! Webhooks, Shopify, WooCommerce). Ids, and the integrations' secrets, are fixed so seeding
//! twice (e.g. into a persistent DynamoDB) changes nothing and printed examples (and the
//! signed sample events in `events/`) stay valid. The secrets are public: the demo tenant
//! is for a local server, never for a deployed stack.

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
use oms_domain::auth::{Actor, Role};
use oms_domain::catalog::{Address, Customer, Fulfillment, PriceOverride, Product, Sku};
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, EventId, IntegrationId, ProductId, UserId};
use oms_domain::integration::{Integration, IntegrationKind, Secret};
use oms_domain::money::{Amount, Currency};
use oms_domain::notify::User;
use oms_domain::settings::CompanySettings;

use crate::App;

pub const COMPANY: &str = "demo";

pub struct DemoUser {
    pub sub: &'static str,
    pub role: &'static str,
    pub customer_id: Option<CustomerId>,
}

pub struct DemoTenant {
    pub company: CompanyId,
    pub users: Vec<DemoUser>,
    pub acme: CustomerId,
    pub globex: CustomerId,
    /// (sku, id)
    pub products: Vec<(&'static str, ProductId)>,
    /// One integration of each kind, with its (public, demo-only) secret.
    pub integrations: Vec<DemoIntegration>,
}

impl DemoTenant {
    pub fn product(&self, sku: &str) -> Option<ProductId> {
        self.products.iter().find(|(s, _)| *s == sku).map(|(_, id)| *id)
    }
}

/// A seeded integration and the secret it verifies with.
pub struct DemoIntegration {
    pub id: IntegrationId,
    pub kind: IntegrationKind,
    pub name: &'static str,
    pub secret: &'static str,
}

/// The demo Standard Webhooks secret: `whsec_` and the base64 of 32 bytes.
pub const DEMO_STANDARD_SECRET: &str = "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQtMzI=";
pub const DEMO_SHOPIFY_SECRET: &str = "demo-shopify-webhook-secret";
pub const DEMO_WOOCOMMERCE_SECRET: &str = "demo-woocommerce-webhook-secret";

impl DemoTenant {
    pub fn integration(&self, kind: IntegrationKind) -> Option<&DemoIntegration> {
        self.integrations.iter().find(|i| i.kind == kind)
    }
}

fn fixed(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 + n)
}

fn amount(s: &str) -> Amount {
    Amount::from_decimal(s.parse::<Decimal>().unwrap_or_default())
}

pub fn tenant() -> Result<DemoTenant, Error> {
    let acme = CustomerId::new(fixed(0x101));
    Ok(DemoTenant {
        company: CompanyId::parse(COMPANY)?,
        users: vec![
            DemoUser {
                sub: "user-owner",
                role: "OWNER",
                customer_id: None,
            },
            DemoUser {
                sub: "user-staff",
                role: "STAFF",
                customer_id: None,
            },
            DemoUser {
                sub: "user-finance",
                role: "FINANCE",
                customer_id: None,
            },
            DemoUser {
                sub: "user-acme-buyer",
                role: "CUSTOMER",
                customer_id: Some(acme),
            },
            DemoUser {
                sub: "integration-shop",
                role: "INTEGRATION",
                customer_id: None,
            },
        ],
        acme,
        globex: CustomerId::new(fixed(0x102)),
        products: vec![
            ("WIDGET-001", ProductId::new(fixed(1))),
            ("GADGET-002", ProductId::new(fixed(2))),
            ("BOLT-M8", ProductId::new(fixed(3))),
            ("CABLE-CAT6", ProductId::new(fixed(4))),
            ("PALLET-JACK", ProductId::new(fixed(5))),
            ("OLD-GIZMO", ProductId::new(fixed(6))),
        ],
        integrations: vec![
            DemoIntegration {
                id: IntegrationId::new(fixed(0xb01)),
                kind: IntegrationKind::Standard,
                name: "Demo ERP (Standard Webhooks)",
                secret: DEMO_STANDARD_SECRET,
            },
            DemoIntegration {
                id: IntegrationId::new(fixed(0xb02)),
                kind: IntegrationKind::Shopify,
                name: "Demo Shopify store",
                secret: DEMO_SHOPIFY_SECRET,
            },
            DemoIntegration {
                id: IntegrationId::new(fixed(0xb03)),
                kind: IntegrationKind::Woocommerce,
                name: "Demo WooCommerce store",
                secret: DEMO_WOOCOMMERCE_SECRET,
            },
        ],
    })
}

/// Seeds the demo tenant unless it is already there.
pub async fn seed(app: &App) -> Result<DemoTenant, Error> {
    let t = tenant()?;
    let store = &app.deps.store;
    if store.get_customer(&t.company, t.acme).await?.is_some() {
        return Ok(t);
    }
    let now = Utc::now();
    for (id, name, email, role) in [
        ("user-owner", "Olivia Owner", "owner@demo.example", Role::Owner),
        ("user-admin", "Adam Admin", "ops@demo.example", Role::Admin),
        ("user-staff", "Sam Staff", "sam@demo.example", Role::Staff),
        ("user-finance", "Fiona Finance", "finance@demo.example", Role::Finance),
    ] {
        let user = User {
            id: UserId::parse(id)?,
            company_id: t.company.clone(),
            name: name.into(),
            email: email.into(),
            role,
            active: true,
            version: 0,
            created_at: Some(now),
            updated_at: Some(now),
        };
        store.put_user(&user).await?;
    }
    let seeder = Actor::from_claims("demo-seed", COMPANY, "OWNER", None)?;
    let audit = |action, entity, id: String| {
        AuditEntry::new(
            EventId::new(Uuid::new_v4()),
            now,
            &seeder,
            action,
            entity,
            id,
            None,
            None,
            json!({"seed": true}),
        )
    };
    store
        .put_settings(
            &t.company,
            &CompanySettings {
                name: "Demo Distributors".into(),
                monthly_order_limit: Some(500),
                ..Default::default()
            },
        )
        .await?;
    // (sku, name, category, price, stock, active, track_inventory, fulfillment)
    let catalog = [
        (
            "WIDGET-001",
            "Premium Widget",
            "Widgets",
            "99.99",
            120,
            true,
            true,
            Fulfillment::Local,
        ),
        (
            "GADGET-002",
            "Smart Gadget",
            "Gadgets",
            "149.99",
            40,
            true,
            true,
            Fulfillment::Local,
        ),
        (
            "BOLT-M8",
            "Hex Bolt M8, box of 100",
            "Fasteners",
            "12.50",
            3,
            true,
            true,
            Fulfillment::Local,
        ),
        (
            "CABLE-CAT6",
            "Cat6 Cable, 305 m reel",
            "Cables",
            "189.00",
            0,
            true,
            true,
            Fulfillment::Local,
        ),
        (
            "PALLET-JACK",
            "Pallet Jack (ships from supplier)",
            "Equipment",
            "899.00",
            0,
            true,
            false,
            Fulfillment::Dropship,
        ),
        (
            "OLD-GIZMO",
            "Discontinued Gizmo",
            "Gadgets",
            "5.00",
            10,
            false,
            true,
            Fulfillment::Local,
        ),
    ];
    for (sku, name, category, price, stock, active, track_inventory, fulfillment) in catalog {
        let id = t.product(sku).ok_or_else(|| Error::internal("demo product id"))?;
        let p = Product {
            id,
            company_id: t.company.clone(),
            sku: Sku::parse(sku)?,
            name: name.into(),
            category: Some(category.into()),
            description: None,
            price: Amount::parse_in(amount(price).value(), Currency::USD)?,
            currency: Currency::USD,
            stock,
            reserved: 0,
            active,
            low_stock_threshold: None,
            track_inventory,
            fulfillment,
            version: 1,
            created_at: now,
            updated_at: now,
            stock_shards: 1,
            shards: Vec::new(),
        };
        if store.get_product(&t.company, id).await?.is_none() {
            store
                .create_product(
                    &p,
                    &audit(AuditAction::ProductCreated, EntityKind::Product, id.to_string()),
                )
                .await?;
        }
    }
    let address = Address {
        address1: Some("123 Main St".into()),
        city: Some("San Francisco".into()),
        state: Some("CA".into()),
        postal_code: Some("94105".into()),
        country: Some("US".into()),
        ..Default::default()
    };
    for (id, company_name, contact, email) in [
        (t.acme, "Acme Corporation", "Alice Buyer", "orders@acme.example"),
        (
            t.globex,
            "Globex Industrial",
            "Hank Scorpio",
            "purchasing@globex.example",
        ),
    ] {
        let c = Customer {
            id,
            company_id: t.company.clone(),
            customer_number: String::new(),
            company_name: company_name.into(),
            contact_name: Some(contact.into()),
            email: Some(email.into()),
            phone: Some("+1-555-0100".into()),
            billing_address: Some(address.clone()),
            shipping_address: Some(address.clone()),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        store
            .create_customer(
                c,
                &audit(AuditAction::CustomerCreated, EntityKind::Customer, id.to_string()),
            )
            .await?;
    }
    let widget = t
        .product("WIDGET-001")
        .ok_or_else(|| Error::internal("demo product id"))?;
    let o = PriceOverride {
        customer_id: t.acme,
        product_id: widget,
        price: amount("89.99"),
        updated_at: now,
    };
    store
        .put_price_override(
            &t.company,
            &o,
            &audit(AuditAction::CustomerPriceSet, EntityKind::Customer, t.acme.to_string()),
        )
        .await?;
    for i in &t.integrations {
        if store.find_integration(i.id).await?.is_some() {
            continue;
        }
        let integration = Integration {
            id: i.id,
            company_id: t.company.clone(),
            name: i.name.into(),
            kind: i.kind,
            can_set_prices: false,
            active: true,
            secrets: vec![Secret::current(i.secret)],
            created_at: now,
            updated_at: now,
            version: 1,
        };
        store
            .create_integration(
                &integration,
                &audit(
                    AuditAction::IntegrationCreated,
                    EntityKind::Integration,
                    i.id.to_string(),
                ),
            )
            .await?;
    }
    Ok(t)
}
