//! Every key of the single table, in one place. Each starts with the tenant (`C#<company>`),
//! so no key built here can reach another company's items. See `DATA_MODEL.md`.

use oms_domain::ids::{CompanyId, CustomerId, DeliveryId, ImportId, IntegrationId, OrderId, ProductId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// Orders by status, date-sorted: `C#c#ORDERS#<status>` / date key.
pub const BY_STATUS: &str = "ByStatus";
pub const BY_STATUS_PK: &str = "BY_STATUS_PK";
pub const BY_STATUS_SK: &str = "BY_STATUS_SK";
/// Orders by sales rep, date-sorted (sparse: orders with a rep).
pub const BY_REP: &str = "ByRep";
pub const BY_REP_PK: &str = "BY_REP_PK";
pub const BY_REP_SK: &str = "BY_REP_SK";
/// Orders by zero-padded total (high-value, min/max total, `sort_by=total_amount`).
pub const BY_TOTAL: &str = "ByTotal";
pub const BY_TOTAL_PK: &str = "BY_TOTAL_PK";
pub const BY_TOTAL_SK: &str = "BY_TOTAL_SK";
/// Orders by due date (`sort_by=due_date`).
pub const BY_DUE: &str = "ByDue";
pub const BY_DUE_PK: &str = "BY_DUE_PK";
pub const BY_DUE_SK: &str = "BY_DUE_SK";
/// Sparse: only open orders that can need attention (see `order::index::attention_key`).
pub const ATTENTION: &str = "Attention";
pub const ATTENTION_PK: &str = "ATTENTION_PK";
pub const ATTENTION_SK: &str = "ATTENTION_SK";
/// One customer's orders by zero-padded total (sparse: orders with a customer), so a
/// customer's high-value list and totals read that customer's orders only.
pub const CU_TOTAL: &str = "CustomerByTotal";
pub const CU_TOTAL_PK: &str = "CU_TOTAL_PK";
pub const CU_TOTAL_SK: &str = "CU_TOTAL_SK";
/// One customer's part of the attention index (sparse, as `Attention`).
pub const CU_ATTENTION: &str = "CustomerAttention";
pub const CU_ATTENTION_PK: &str = "CU_ATTENTION_PK";
pub const CU_ATTENTION_SK: &str = "CU_ATTENTION_SK";
pub const OUTBOX_INDEX: &str = "Outbox";
pub const OUTBOX_PK: &str = "OUTBOX_PK";
pub const OUTBOX_SK: &str = "OUTBOX_SK";
/// Pending outbox records are spread over this many index partitions.
pub const OUTBOX_SHARDS: u32 = 8;
/// The item type, for humans reading the table and for the stream relay.
pub const TYPE: &str = "_type";
pub const EXPIRES_AT: &str = "expires_at";
/// An order's high-value counters generation (absent: 0).
pub const HV_GENERATION: &str = "hv_generation";

pub fn tenant(c: &CompanyId) -> String {
    format!("C#{c}")
}

pub fn settings(c: &CompanyId) -> (String, String) {
    (tenant(c), "SETTINGS".into())
}

/// The high-value counters (per status: count and summed totals) of the company, or of one
/// customer (in the customer's partition).
/// The high-value counters of a generation (0: the first, `STATS#HIGH_VALUE`; a later one
/// `STATS#HIGH_VALUE#<n>`): the company's, or one customer's.
pub fn high_value_stats(c: &CompanyId, customer: Option<CustomerId>, generation: u32) -> (String, String) {
    let sort = match generation {
        0 => "STATS#HIGH_VALUE".to_owned(),
        g => format!("STATS#HIGH_VALUE#{g}"),
    };
    match customer {
        None => (tenant(c), sort),
        Some(cu) => (self::customer(c, cu).0, sort),
    }
}

/// The company's high-value counters of a generation are moved by orders on one of
/// [`HIGH_VALUE_SHARDS`] items (this is shard `shard`), so no item takes every high-value
/// order; the main item ([`high_value_stats`]) holds the recount's sums and progress. A
/// read adds them all up.
pub fn high_value_shard(c: &CompanyId, generation: u32, shard: u32) -> (String, String) {
    (format!("C#{c}#HV#{generation}#{shard}"), "STATS".into())
}
pub const HIGH_VALUE_SHARDS: u32 = 8;

pub fn product(c: &CompanyId, id: ProductId) -> (String, String) {
    (format!("C#{c}#P#{id}"), "PRODUCT".into())
}
/// One stock shard of a product (see [`oms_domain::catalog::Product::stock_shards`]):
/// its `stock`, its `active` flag (an order's take is refused on an inactive product
/// without reading the product) and `moves`, its write count. Each shard is its own
/// partition, so a hot product's sales spread over as many partitions; orders write
/// shards, never the product item.
pub fn stock_shard(c: &CompanyId, id: ProductId, shard: u32) -> (String, String) {
    (format!("C#{c}#P#{id}#STOCK#{shard}"), "STOCK".into())
}
pub fn products_by_sku(c: &CompanyId) -> String {
    format!("C#{c}#PRODUCTS")
}
pub fn products_in_category(c: &CompanyId, category: &str) -> String {
    format!("C#{c}#CATEGORY#{}", category.to_lowercase())
}
pub fn sku_claim(c: &CompanyId, sku_key: &str) -> (String, String) {
    (format!("C#{c}#SKU#{sku_key}"), "SKU".into())
}

pub fn customer(c: &CompanyId, id: CustomerId) -> (String, String) {
    (format!("C#{c}#CU#{id}"), "CUSTOMER".into())
}
pub fn customers_by_number(c: &CompanyId) -> String {
    format!("C#{c}#CUSTOMERS")
}
/// Customers with an e-mail (GSI2), lower-cased.
pub fn customers_by_email(c: &CompanyId, email: &str) -> String {
    format!("C#{c}#CUSTOMERS#EMAIL#{}", email.to_lowercase())
}

/// An integration, by its id alone: the webhook route knows no company. The one key that
/// does not start with the tenant; the id is a random UUID, and the item names its company.
pub fn integration(id: IntegrationId) -> (String, String) {
    (format!("INTEGRATION#{id}"), "INTEGRATION".into())
}
/// A company's integrations (GSI1).
pub fn integrations_of(c: &CompanyId) -> String {
    format!("C#{c}#INTEGRATIONS")
}
pub fn delivery(c: &CompanyId, id: DeliveryId) -> (String, String) {
    (format!("C#{c}#DELIVERY#{id}"), "DELIVERY".into())
}
/// What a delivery carried (body and headers), beside it in its partition.
pub fn delivery_payload(c: &CompanyId, id: DeliveryId) -> (String, String) {
    (format!("C#{c}#DELIVERY#{id}"), "PAYLOAD".into())
}
/// An integration's deliveries in one status, newest first (GSI2).
pub fn deliveries_in(c: &CompanyId, integration: IntegrationId, status: &str) -> String {
    format!("C#{c}#INT#{integration}#DELIVERIES#{status}")
}
/// An integration's deliveries, newest first (GSI1).
pub fn deliveries_of(c: &CompanyId, integration: IntegrationId) -> String {
    format!("C#{c}#INT#{integration}#DELIVERIES")
}
/// The claim on a platform's delivery id: one delivery per webhook id.
pub fn webhook_id_claim(c: &CompanyId, integration: IntegrationId, webhook_id: &str) -> (String, String) {
    (format!("C#{c}#INT#{integration}#WHID#{webhook_id}"), "WHID".into())
}
/// The customer an integration knows by its own id.
pub fn external_customer(c: &CompanyId, integration: IntegrationId, external: &str) -> (String, String) {
    (format!("C#{c}#INT#{integration}#CUEXT#{external}"), "CUEXT".into())
}
pub const PRICE_PREFIX: &str = "PRICE#";
pub fn price_override(c: &CompanyId, customer_id: CustomerId, product: ProductId) -> (String, String) {
    (customer(c, customer_id).0, format!("{PRICE_PREFIX}{product}"))
}
pub fn customer_sequence(c: &CompanyId) -> (String, String) {
    (tenant(c), "SEQ#CUSTOMER".into())
}

/// The company-wide index partitions every sale writes (the orders': `C#c#ORDERS` on
/// GSI1, ByTotal and ByDue, `C#c#ORDERS#<status>` on ByStatus, `C#c#ATTENTION`; the
/// products' stock levels: `C#c#STOCK#...`) are each spread over this many partitions:
/// an entry goes to the one its order's or product's id picks, so no partition takes
/// every sale of a tenant, and a read merges them (see `reads::Segment::across`).
pub const INDEX_SHARDS: u32 = 4;

/// Which of the [`INDEX_SHARDS`] partitions an order's company-wide entries are in.
pub fn order_shard(id: OrderId) -> u32 {
    u32::from(id.as_uuid().as_bytes()[15]) % INDEX_SHARDS
}

/// Which of the [`INDEX_SHARDS`] stock-level partitions a product's entry is in.
pub fn product_shard(id: ProductId) -> u32 {
    u32::from(id.as_uuid().as_bytes()[15]) % INDEX_SHARDS
}

/// A tracked, active product's stock-level entry (on the `Attention` index): an item of
/// its own beside the product, so a sale that moves the level rewrites this small item
/// and not the product item (which sits in eight catalog index partitions).
pub fn stock_level_entry(c: &CompanyId, id: ProductId) -> (String, String) {
    (format!("C#{c}#P#{id}#LEVEL"), "LEVEL".into())
}

/// Shard `k` of a write-sharded partition: shard 0 is `base` itself (where entries
/// written before the shards are), the others `base#~<k>`.
pub fn sharded(base: &str, k: u32) -> String {
    match k {
        0 => base.to_owned(),
        k => format!("{base}#~{k}"),
    }
}

pub fn order(c: &CompanyId, id: OrderId) -> (String, String) {
    (format!("C#{c}#O#{id}"), "ORDER".into())
}
pub fn orders_by_date(c: &CompanyId) -> String {
    format!("C#{c}#ORDERS")
}
pub fn customer_orders(c: &CompanyId, customer: CustomerId) -> String {
    format!("C#{c}#CU#{customer}#ORDERS")
}
pub fn orders_in_status(c: &CompanyId, status: &str) -> String {
    format!("C#{c}#ORDERS#{status}")
}
pub fn rep_orders(c: &CompanyId, rep: &str) -> String {
    format!("C#{c}#REP#{rep}#ORDERS")
}
pub fn attention_partition(c: &CompanyId) -> String {
    format!("C#{c}#ATTENTION")
}
/// Origin claims, found by origin order id alone (any integration) through GSI1.
pub fn origin_lookup(c: &CompanyId, origin: &str) -> String {
    format!("C#{c}#ORIGINS#{origin}")
}
pub fn customer_attention(c: &CompanyId, customer: CustomerId) -> String {
    format!("C#{c}#CU#{customer}#ATTENTION")
}
/// Search index entries of words starting with `first` (one partition per first letter):
/// the company's, or one customer's own (an order with a customer is indexed in both, so
/// a customer's search never reads another customer's entries).
pub fn search_partition(c: &CompanyId, customer: Option<CustomerId>, first: char) -> String {
    match customer {
        None => format!("C#{c}#SEARCH#{first}"),
        Some(cu) => format!("C#{c}#CU#{cu}#SEARCH#{first}"),
    }
}
/// Which search entries an order has, kept in the order's partition.
pub fn search_manifest(c: &CompanyId, id: OrderId) -> (String, String) {
    (order(c, id).0, "SEARCH".into())
}
pub fn order_number_claim(c: &CompanyId, number_key: &str) -> (String, String) {
    (format!("C#{c}#ORDERNO#{number_key}"), "ORDERNO".into())
}
pub fn origin_claim(c: &CompanyId, integration: &str, origin: &str) -> (String, String) {
    (format!("C#{c}#ORIGIN#{integration}#{origin}"), "ORIGIN".into())
}
pub fn idempotency(c: &CompanyId, principal: &str, key: &str) -> (String, String) {
    (format!("C#{c}#IDEM#{principal}#{key}"), "IDEM".into())
}
/// The month's usage counter as it was before it was sharded (read, no longer written).
pub fn monthly_usage(c: &CompanyId, month: &str) -> (String, String) {
    (format!("C#{c}#USAGE#{month}"), "USAGE".into())
}
/// One of the month's usage counter shards: `orders` counted on it, and with a cap, the
/// `allowance` it may count up to under `cap_limit`.
pub fn monthly_usage_shard(c: &CompanyId, month: &str, shard: u32) -> (String, String) {
    (format!("C#{c}#USAGE#{month}#{shard}"), "USAGE".into())
}

pub fn audit(c: &CompanyId, entity: &str, entity_id: &str, sort: &str) -> (String, String) {
    (format!("C#{c}#AUDIT#{entity}#{entity_id}"), sort.to_owned())
}
pub fn audit_by_time(c: &CompanyId) -> String {
    format!("C#{c}#AUDIT")
}
pub fn audit_by_actor(c: &CompanyId, actor: &str) -> String {
    format!("C#{c}#AUDIT#ACTOR#{actor}")
}

pub fn outbox(c: &CompanyId, event_id: &str) -> (String, String) {
    (format!("C#{c}#OUTBOX#{event_id}"), "OUTBOX".into())
}
pub fn outbox_shard(event_id: &uuid::Uuid) -> String {
    let shard = u32::from(event_id.as_bytes()[15]) % OUTBOX_SHARDS;
    format!("PENDING#{shard}")
}

pub fn user(c: &CompanyId, id: &str) -> (String, String) {
    (format!("C#{c}#USER#{id}"), "USER".into())
}
pub fn users_by_role(c: &CompanyId) -> String {
    format!("C#{c}#USERS")
}
pub fn mail_marker(c: &CompanyId, key: &str) -> (String, String) {
    (format!("C#{c}#MAIL#{key}"), "MAIL".into())
}
/// Deactivated users: out of the recipient index, listed on their own.
pub fn inactive_users(c: &CompanyId) -> String {
    format!("C#{c}#USERS#INACTIVE")
}
/// The claim of an e-mail address by one user of the company (addresses are unique per
/// company, compared case-insensitively).
pub fn user_email(c: &CompanyId, email: &str) -> (String, String) {
    (format!("C#{c}#USEREMAIL#{}", email.to_lowercase()), "CLAIM".into())
}
/// The company's customer search terms (GSI1), `<term>#<customer id>`.
pub fn customer_terms(c: &CompanyId) -> String {
    format!("C#{c}#CUSTOMERS#TERMS")
}
/// One search term of one customer, in the customer's partition.
pub fn customer_term(c: &CompanyId, id: CustomerId, term: &str) -> (String, String) {
    (customer(c, id).0, format!("TERM#{term}"))
}
/// The company's product search terms (GSI1), `<term>#<product id>`.
pub fn product_terms(c: &CompanyId) -> String {
    format!("C#{c}#PRODUCTS#TERMS")
}
/// One search term of one product, in the product's partition.
pub fn product_term(c: &CompanyId, id: ProductId, term: &str) -> (String, String) {
    (product(c, id).0, format!("TERM#{term}"))
}
/// Active products by SKU, on the (overloaded) `ByStatus` index: only active products
/// carry it, so `?active=true` pages are full.
pub fn products_active(c: &CompanyId) -> String {
    format!("C#{c}#PRODUCTS#ACTIVE")
}
/// One category's active products by SKU, on the (overloaded) `ByRep` index.
pub fn products_active_in_category(c: &CompanyId, category: &str) -> String {
    format!("{}#ACTIVE", products_in_category(c, category))
}
/// Products in stock by SKU (a product that does not track inventory always is): all, or
/// active only, of the company or of one category. One partition per combination, on the
/// (overloaded) `ByTotal`, `ByDue`, `CustomerByTotal` and `CustomerAttention` indexes.
pub fn products_in_stock(c: &CompanyId, category: Option<&str>, active: bool) -> String {
    let base = match category {
        Some(cat) => products_in_category(c, cat),
        None => products_by_sku(c),
    };
    match active {
        true => format!("{base}#ACTIVE#INSTOCK"),
        false => format!("{base}#INSTOCK"),
    }
}

/// The stock-level partitions of active, tracked products on the (overloaded)
/// `Attention` index. Out-of-stock products have their own; a product in stock is filed
/// by how far it is above the threshold that applies to it:
/// - `DEFAULT` (no threshold of its own): sort key = zero-padded stock, so "low" is the
///   key range 1..=the company's threshold, read at query time: changing the company's
///   threshold needs no rewrite;
/// - `OWN`: sort key = zero-padded (stock - its threshold + 10^10), so "low" is every key
///   up to 10^10 (margin <= 0).
///
/// A product at a healthy level sorts above the range a reader asks for and is never read.
/// The partition is the product's shard of it (see [`INDEX_SHARDS`]).
pub fn stock_level(
    c: &CompanyId,
    id: ProductId,
    stock: u32,
    own_threshold: Option<u32>,
    sku_key: &str,
) -> (String, String) {
    let (base, sort) = match (stock, own_threshold) {
        (0, _) => (stock_level_out(c), sku_key.to_owned()),
        (s, None) => (stock_level_default(c), format!("{}#{sku_key}", pad_stock(s))),
        (s, Some(t)) => (
            stock_level_own(c),
            format!("{}#{sku_key}", pad_margin(i64::from(s) - i64::from(t))),
        ),
    };
    (sharded(&base, product_shard(id)), sort)
}
pub fn stock_level_out(c: &CompanyId) -> String {
    format!("C#{c}#STOCK#OUT")
}
pub fn stock_level_default(c: &CompanyId) -> String {
    format!("C#{c}#STOCK#DEFAULT")
}
pub fn stock_level_own(c: &CompanyId) -> String {
    format!("C#{c}#STOCK#OWN")
}
/// Stock (at most 10^9) as ten digits, so keys sort as numbers.
pub fn pad_stock(stock: u32) -> String {
    format!("{stock:010}")
}
/// stock - threshold (each at most 10^9) plus 10^10, as eleven digits.
pub fn pad_margin(margin: i64) -> String {
    format!("{:011}", margin.saturating_add(10_000_000_000))
}
/// The company's catalog counters: `counted`, how many products inventory health counts
/// (active and tracked). Written by product writes only, never by an order.
pub fn catalog_counts(c: &CompanyId) -> (String, String) {
    (format!("C#{c}#CATALOG"), "COUNTS".into())
}
/// A product import's job item, and its rows' items beside it.
pub fn import_job(c: &CompanyId, id: ImportId) -> (String, String) {
    (format!("C#{c}#IMPORT#{id}"), "JOB".into())
}
/// Rows `ROWS_PER_ITEM * n ..` of an import, as one item.
pub fn import_rows(c: &CompanyId, id: ImportId, n: u64) -> (String, String) {
    (format!("C#{c}#IMPORT#{id}"), format!("ROWS#{n:06}"))
}
