//! The order reads (SPEC §6): the filtered list, search, requires-attention and high-value.
//! Each answers `{"data": [...], "meta": {...}, "links": {"next": ...}}` with an opaque,
//! signed cursor in `links.next`.

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use oms_domain::money::MAX_ORDER_TOTAL;
use rust_decimal::Decimal;
use serde::Serialize;

use oms_domain::auth::Actor;
use oms_domain::error::Error;
use oms_domain::ids::{CustomerId, OrderId, UserId};
use oms_domain::money::{Amount, Currency};
use oms_domain::order::index::Attention;
use oms_domain::order::query::{OrderFilter, OrderListQuery, OrderSort};
use oms_domain::order::{Channel, Order, OrderStatus, Priority, Source};
use oms_domain::ports::PageRequest;
use oms_domain::usecases::order_reads;

use super::{next_link, run, Links};
use crate::auth::actor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{json_response, paging, query};
use crate::App;

/// An order as lists show it: everything but the lines and addresses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    pub id: OrderId,
    pub order_number: String,
    pub status: OrderStatus,
    pub channel: Channel,
    pub source: Source,
    pub priority: Priority,
    pub customer: Option<CustomerBrief>,
    pub sales_rep_id: Option<UserId>,
    pub origin_order_id: Option<String>,
    pub order_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub total_amount: Amount,
    pub currency: Currency,
    pub item_count: usize,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerBrief {
    pub id: CustomerId,
    pub customer_number: String,
    pub company_name: String,
    pub email: Option<String>,
}

impl From<&Order> for OrderSummary {
    fn from(o: &Order) -> Self {
        OrderSummary {
            id: o.id,
            order_number: o.order_number.as_str().to_owned(),
            status: o.status,
            channel: o.channel,
            source: o.source,
            priority: o.priority,
            customer: o.customer.as_ref().map(|c| CustomerBrief {
                id: c.id,
                customer_number: c.customer_number.clone(),
                company_name: c.company_name.clone(),
                email: c.email.clone(),
            }),
            sales_rep_id: o.sales_rep_id.clone(),
            origin_order_id: o.origin_order_id.clone(),
            order_date: o.order_date,
            due_date: o.due_date,
            total_amount: o.total_amount,
            currency: o.currency,
            item_count: o.items.len(),
            confirmed_at: o.confirmed_at,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderListMeta {
    pub per_page: u32,
    /// Orders on this page. A page can hold fewer than `per_page` while `links.next` is set
    /// when filters no index serves left it short (see the README).
    pub count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_direction: Option<&'static str>,
    /// The search, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderListResponse {
    pub data: Vec<OrderSummary>,
    pub meta: OrderListMeta,
    pub links: Links,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttentionItem {
    #[serde(flatten)]
    pub order: OrderSummary,
    /// Whole days from today (UTC) to the due date; negative once overdue.
    pub days_until_due: Option<i64>,
    pub is_overdue: bool,
    pub is_urgent: bool,
    /// The most pressing reason, for people.
    pub reason: String,
    /// Every reason: overdue, due_soon, pending_approval, on_hold.
    pub reasons: Vec<&'static str>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttentionMeta {
    pub per_page: u32,
    pub count: usize,
    /// Every order that needs attention now, not just this page (a customer: its own).
    pub total_attention_required: u64,
    pub overdue_count: u64,
    pub urgent_count: u64,
    /// True when more than 2,000 orders need attention: the counts then cover the first
    /// 2,000 (most overdue first) and are lower bounds. Counting never reads more.
    pub counts_partial: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttentionResponse {
    pub data: Vec<AttentionItem>,
    pub meta: AttentionMeta,
    pub links: Links,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HighValueItem {
    #[serde(flatten)]
    pub order: OrderSummary,
    pub is_high_value: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HighValueMeta {
    pub per_page: u32,
    pub count: usize,
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub minimum_amount: Decimal,
    /// Every matching order, not just this page.
    pub total: u64,
    /// Exact sum of their totals.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub total_value: Decimal,
    /// True when summing over the orders stopped after the 2,000 largest at or above the
    /// minimum: `total` and `total_value` then cover those and are lower bounds. Never set
    /// when the totals come from the counters.
    pub totals_partial: bool,
    /// `total_value / total`, rounded half away from zero to 2 decimals.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub average_value: Decimal,
    /// `counters` (kept with every order, for the company's threshold without dates) or
    /// `orders` (summed over the matching orders' index entries).
    pub totals_from: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HighValueResponse {
    pub data: Vec<HighValueItem>,
    pub meta: HighValueMeta,
    pub links: Links,
}

fn enum_param<T>(req: &Request, name: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<Option<T>, ApiError> {
    match query(req, name) {
        None => Ok(None),
        Some(v) => parse(&v).map(Some).ok_or_else(|| {
            Error::invalid(
                name,
                format!("`{v}` is not a valid {name}; use one of {}", all.join(", ")),
            )
            .into()
        }),
    }
}

fn date_param(req: &Request, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    query(req, name)
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| Error::invalid(name, format!("{name} must be a date like 2026-01-31, not `{v}`")).into())
        })
        .transpose()
}

fn decimal_param(req: &Request, name: &str) -> Result<Option<Decimal>, ApiError> {
    query(req, name)
        .map(|v| {
            v.trim()
                .parse::<Decimal>()
                .ok()
                .filter(|d| (!d.is_sign_negative() || d.is_zero()) && *d <= MAX_ORDER_TOTAL)
                .ok_or_else(|| {
                    Error::invalid(
                        name,
                        format!("{name} must be an amount from 0 to 1000000000000000, like 1000.00"),
                    )
                    .into()
                })
        })
        .transpose()
}

fn names<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|x| f(*x)).collect()
}

fn status_param(req: &Request) -> Result<Option<OrderStatus>, ApiError> {
    enum_param(
        req,
        "status",
        OrderStatus::parse,
        &names(OrderStatus::ALL, OrderStatus::as_str),
    )
}

/// The filters every order list shares.
fn filter_of(req: &Request, dates: (&str, &str)) -> Result<OrderFilter, ApiError> {
    let mut f = OrderFilter {
        status: status_param(req)?,
        from_date: date_param(req, dates.0)?,
        to_date: date_param(req, dates.1)?,
        ..OrderFilter::default()
    };
    if let (Some(a), Some(b)) = (f.from_date, f.to_date) {
        if a > b {
            return Err(Error::invalid(dates.0, format!("{} must not be after {}", dates.0, dates.1)).into());
        }
    }
    f.customer_id = query(req, "customer_id")
        .map(|v| {
            CustomerId::parse(&v).map_err(|_| Error::invalid("customer_id", "customer_id is a customer id (UUID)"))
        })
        .transpose()?;
    f.sales_rep_id = query(req, "sales_rep_id")
        .map(|v| UserId::parse(&v).map_err(|_| Error::invalid("sales_rep_id", "sales_rep_id is a user id")))
        .transpose()?;
    Ok(f)
}

/// Opens the cursor (sealed to the tenant and to this list with these parameters).
fn open_page(app: &App, req: &Request, actor: &Actor, scope: &str) -> Result<(u32, PageRequest), ApiError> {
    let (per_page, cursor) = paging(req)?;
    let after = cursor
        .map(|c| app.cursors.open(&actor.company_id, scope, &c))
        .transpose()?;
    Ok((per_page, PageRequest { limit: per_page, after }))
}

fn links(app: &App, req: &Request, actor: &Actor, scope: &str, next: Option<String>) -> Links {
    let next = next.map(|t| app.cursors.seal(&actor.company_id, scope, &t));
    Links {
        next: next_link(req, next),
    }
}

/// The cursor's scope: the endpoint and every parameter but the cursor and page size.
fn scope_of(req: &Request, endpoint: &str) -> String {
    let mut pairs: Vec<(String, String)> = req
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .filter(|(k, _)| *k != "cursor" && *k != "per_page")
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    format!("{endpoint}|{pairs:?}")
}

/// List orders: every filter of SPEC §6, four sorts, newest first by default.
#[utoipa::path(
    get, path = "/api/v1/sales/orders", tag = "orders", operation_id = "list_orders",
    params(
        ("status" = Option<OrderStatus>, Query, description = "Only orders in this status."),
        ("customer_id" = Option<String>, Query, format = Uuid, description = "One customer's orders (a customer's own token always gets only its own; another customer's id answers 404)."),
        ("sales_rep_id" = Option<String>, Query, pattern = r"^[A-Za-z0-9._@|-]{1,64}$", description = "One sales rep's orders (a user id)."),
        ("source" = Option<Source>, Query, description = "Only orders from this source."),
        ("channel" = Option<Channel>, Query, description = "Only orders through this channel."),
        ("priority" = Option<Priority>, Query, description = "Only orders of this priority."),
        ("from_date" = Option<NaiveDate>, Query, description = "order_date on or after (YYYY-MM-DD); not after to_date."),
        ("to_date" = Option<NaiveDate>, Query, description = "order_date on or before (YYYY-MM-DD)."),
        ("min_total" = Option<String>, Query, pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$", description = "total_amount at least (a decimal from 0 to 10^15); not above max_total."),
        ("max_total" = Option<String>, Query, pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$", description = "total_amount at most (a decimal from 0 to 10^15)."),
        ("origin_order_id" = Option<String>, Query, min_length = 1, max_length = 128, description = "The integration's own order id (1-128 bytes)."),
        ("search" = Option<String>, Query, min_length = 1, description = "Word-prefix search, as /search: 1-8 words, each a run of letters or digits (cannot be combined with sort_by or sort_direction)."),
        ("sort_by" = Option<String>, Query, pattern = "^(order_date|total_amount|status|due_date)$", description = "order_date (default), total_amount, status (lifecycle order), due_date"),
        ("sort_direction" = Option<String>, Query, pattern = "^(asc|desc)$", description = "desc (default) or asc"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page (opaque; only a cursor this list issued is accepted)."),
    ),
    responses(
        (status = 200, description = "A page of orders.", body = OrderListResponse),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:read.", body = ErrorBody),
        (status = 404, description = "A customer token asked for another customer's orders.", body = ErrorBody),
        (status = 422, description = "An invalid parameter, named.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_orders(app: &App, req: Request) -> Response<Body> {
    run("list_orders", &req, async {
        let actor = actor(&req)?;
        let mut filter = filter_of(&req, ("from_date", "to_date"))?;
        filter.source = enum_param(&req, "source", Source::parse, &names(Source::ALL, Source::as_str))?;
        filter.channel = enum_param(&req, "channel", Channel::parse, &names(Channel::ALL, Channel::as_str))?;
        filter.priority = enum_param(&req, "priority", Priority::parse, &names(Priority::ALL, Priority::as_str))?;
        filter.min_total = decimal_param(&req, "min_total")?;
        filter.max_total = decimal_param(&req, "max_total")?;
        filter.origin_order_id = query(&req, "origin_order_id");
        if filter.origin_order_id.as_ref().is_some_and(|o| o.is_empty() || o.len() > 128) {
            return Err(Error::invalid("origin_order_id", "origin_order_id is 1-128 characters").into());
        }
        let sort_by = query(&req, "sort_by");
        let sort = match &sort_by {
            None => OrderSort::OrderDate,
            Some(s) => OrderSort::parse(s).ok_or_else(|| {
                Error::invalid(
                    "sort_by",
                    format!("`{s}` is not a sort; use order_date, total_amount, status or due_date"),
                )
            })?,
        };
        let descending = match query(&req, "sort_direction").as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(other) => {
                return Err(Error::invalid("sort_direction", format!("`{other}` is not asc or desc")).into());
            }
        };
        let search = query(&req, "search");
        if search.is_some() && (sort_by.is_some() || query(&req, "sort_direction").is_some()) {
            return Err(Error::invalid(
                "sort_by",
                "search results come by matched word, newest first; sort_by and sort_direction cannot be combined with search",
            )
            .into());
        }
        let scope = scope_of(&req, "orders");
        let (per_page, page) = open_page(app, &req, &actor, &scope)?;
        let q = OrderListQuery {
            filter,
            sort,
            descending,
        };
        let found = order_reads::list_orders(&app.deps, &actor, q, search.as_deref(), page).await?;
        let sort_name = match sort {
            OrderSort::OrderDate => "order_date",
            OrderSort::TotalAmount => "total_amount",
            OrderSort::Status => "status",
            OrderSort::DueDate => "due_date",
        };
        Ok(json_response(
            StatusCode::OK,
            &OrderListResponse {
                meta: OrderListMeta {
                    per_page,
                    count: found.items.len(),
                    sort_by: search.is_none().then_some(sort_name),
                    sort_direction: search.is_none().then_some(if descending { "desc" } else { "asc" }),
                    query: search,
                },
                data: found.items.iter().map(OrderSummary::from).collect(),
                links: links(app, &req, &actor, &scope, found.next),
            },
        ))
    })
    .await
}

/// Search orders by the beginnings of words in the order number, customer name, e-mail,
/// company name, customer number and notes; every word of `q` must match.
#[utoipa::path(
    get, path = "/api/v1/sales/orders/search", tag = "orders", operation_id = "search_orders",
    params(
        ("q" = String, Query, min_length = 1, description = "1-8 words to find, each a run of letters or digits; each matches the beginning of a word, case-insensitively (`acm corp` finds Acme Corporation)."),
        ("status" = Option<OrderStatus>, Query, description = "Only orders in this status."),
        ("date_from" = Option<NaiveDate>, Query, description = "order_date on or after (YYYY-MM-DD); not after date_to."),
        ("date_to" = Option<NaiveDate>, Query, description = "order_date on or before (YYYY-MM-DD)."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page (opaque; only a cursor this list issued is accepted)."),
    ),
    responses(
        (status = 200, description = "Matching orders, by matched word, newest first.", body = OrderListResponse),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:read.", body = ErrorBody),
        (status = 422, description = "q missing or without letters or digits; another invalid parameter, named.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_orders(app: &App, req: Request) -> Response<Body> {
    run("search_orders", &req, async {
        let actor = actor(&req)?;
        let q = query(&req, "q").ok_or_else(|| Error::invalid("q", "q is required: the words to search for"))?;
        let filter = filter_of(&req, ("date_from", "date_to"))?;
        let scope = scope_of(&req, "orders/search");
        let (per_page, page) = open_page(app, &req, &actor, &scope)?;
        let found = order_reads::search_orders(&app.deps, &actor, &q, filter, page).await?;
        Ok(json_response(
            StatusCode::OK,
            &OrderListResponse {
                meta: OrderListMeta {
                    per_page,
                    count: found.items.len(),
                    sort_by: None,
                    sort_direction: None,
                    query: Some(q),
                },
                data: found.items.iter().map(OrderSummary::from).collect(),
                links: links(app, &req, &actor, &scope, found.next),
            },
        ))
    })
    .await
}

/// Open orders that need someone now: overdue, due within a day (most overdue first), then
/// pending approval and on hold.
#[utoipa::path(
    get, path = "/api/v1/sales/orders/requires-attention", tag = "orders", operation_id = "requires_attention",
    params(
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page (opaque; only a cursor this list issued is accepted)."),
    ),
    responses(
        (status = 200, description = "A page of orders with why each needs attention, and the counts over all of them.", body = AttentionResponse),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:read.", body = ErrorBody),
        (status = 422, description = "An invalid parameter, named.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn requires_attention(app: &App, req: Request) -> Response<Body> {
    run("requires_attention", &req, async {
        let actor = actor(&req)?;
        let scope = scope_of(&req, "orders/requires-attention");
        let (per_page, page) = open_page(app, &req, &actor, &scope)?;
        let found = order_reads::requires_attention(&app.deps, &actor, page).await?;
        let data: Vec<AttentionItem> = found
            .items
            .iter()
            .map(|(o, a): &(Order, Attention)| AttentionItem {
                order: OrderSummary::from(o),
                days_until_due: a.days_until_due,
                is_overdue: a.is_overdue,
                is_urgent: a.is_urgent,
                reason: a.reason.clone(),
                reasons: a.reasons.clone(),
            })
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &AttentionResponse {
                meta: AttentionMeta {
                    per_page,
                    count: data.len(),
                    total_attention_required: found.counts.total,
                    overdue_count: found.counts.overdue,
                    counts_partial: found.counts.partial,
                    urgent_count: found.counts.urgent,
                },
                data,
                links: links(app, &req, &actor, &scope, found.next),
            },
        ))
    })
    .await
}

/// Orders at or above `minimum_amount` (default: the company's high-value threshold),
/// largest first, with the exact count, sum and average of all of them.
#[utoipa::path(
    get, path = "/api/v1/sales/orders/high-value", tag = "orders", operation_id = "high_value_orders",
    params(
        ("minimum_amount" = Option<String>, Query, pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$", description = "A decimal from 0 to 10^15. Default: the company's high_value_threshold (10000 unless set)."),
        ("status" = Option<OrderStatus>, Query, description = "Only orders in this status."),
        ("from_date" = Option<NaiveDate>, Query, description = "order_date on or after (YYYY-MM-DD); not after to_date."),
        ("to_date" = Option<NaiveDate>, Query, description = "order_date on or before (YYYY-MM-DD)."),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 25."),
        ("cursor" = Option<String>, Query, description = "links.next of the previous page (opaque; only a cursor this list issued is accepted)."),
    ),
    responses(
        (status = 200, description = "A page of high-value orders and the totals over all of them.", body = HighValueResponse),
        (status = 401, description = "Missing, expired or forged token.", body = ErrorBody),
        (status = 403, description = "The role lacks orders:read.", body = ErrorBody),
        (status = 422, description = "An invalid parameter, named.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn high_value_orders(app: &App, req: Request) -> Response<Body> {
    run("high_value_orders", &req, async {
        let actor = actor(&req)?;
        let minimum = decimal_param(&req, "minimum_amount")?;
        let filter = filter_of(&req, ("from_date", "to_date"))?;
        let scope = scope_of(&req, "orders/high-value");
        let (per_page, page) = open_page(app, &req, &actor, &scope)?;
        let found = order_reads::high_value(&app.deps, &actor, minimum, filter, page).await?;
        let t = found.totals;
        let data: Vec<HighValueItem> = found
            .items
            .iter()
            .map(|o| HighValueItem {
                order: OrderSummary::from(o),
                is_high_value: true,
            })
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &HighValueResponse {
                meta: HighValueMeta {
                    per_page,
                    count: data.len(),
                    minimum_amount: found.minimum,
                    total: t.count,
                    total_value: t.total_value,
                    totals_partial: t.partial,
                    average_value: t.average(),
                    totals_from: if found.from_counters { "counters" } else { "orders" },
                },
                data,
                links: links(app, &req, &actor, &scope, found.next),
            },
        ))
    })
    .await
}
