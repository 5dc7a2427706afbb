//! The order reads (SPEC §6): the filtered list, search, requires-attention and high-value.
//! A customer's token sees only that customer's orders on every one of them; staff see the
//! company's.

use rust_decimal::Decimal;

use crate::auth::{Actor, Permission};
use crate::error::Error;
use crate::order::index::{self, Attention};
use crate::order::query::{AttentionCounts, HighValueTotals, OrderFilter, OrderListQuery, MAX_COUNTED};
use crate::order::Order;
use crate::ports::{Deps, Page, PageRequest};

/// Checks the filter and pins a customer's token to its own orders.
fn scope(actor: &Actor, mut f: OrderFilter) -> Result<OrderFilter, Error> {
    actor.require(Permission::OrdersRead)?;
    if let Some(own) = actor.customer_id {
        match f.customer_id {
            // Another customer's orders do not exist as far as this caller can tell.
            Some(other) if other != own => return Err(Error::not_found("customer", other)),
            _ => f.customer_id = Some(own),
        }
    }
    if let (Some(from), Some(to)) = (f.from_date, f.to_date) {
        if from > to {
            return Err(Error::invalid("from_date", "from_date must not be after to_date"));
        }
    }
    for (name, v) in [("min_total", f.min_total), ("max_total", f.max_total)] {
        if v.is_some_and(|v| v.is_sign_negative()) {
            return Err(Error::invalid(name, format!("{name} must not be negative")));
        }
    }
    if let (Some(lo), Some(hi)) = (f.min_total, f.max_total) {
        if lo > hi {
            return Err(Error::invalid("min_total", "min_total must not be above max_total"));
        }
    }
    Ok(f)
}

/// Drops anything outside the caller's scope. The adapters already filter; this keeps a
/// mistake in one of them from becoming a leak.
fn only_scoped(filter: &OrderFilter, mut page: Page<Order>) -> Page<Order> {
    page.items
        .retain(|o| filter.customer_id.is_none_or(|c| o.customer_id == Some(c)));
    page
}

fn terms_of(name: &str, q: &str) -> Result<Vec<String>, Error> {
    let terms = index::search_terms(q);
    if terms.is_empty() {
        return Err(Error::invalid(
            name,
            format!("{name} needs at least one letter or digit"),
        ));
    }
    if terms.len() > 8 {
        return Err(Error::invalid(name, format!("{name} may have at most 8 words")));
    }
    Ok(terms)
}

/// `GET /api/v1/sales/orders`: the filtered, sorted list; with `search`, the search index
/// narrowed by the same filters (in search order).
pub async fn list_orders(
    deps: &Deps,
    actor: &Actor,
    mut query: OrderListQuery,
    search: Option<&str>,
    page: PageRequest,
) -> Result<Page<Order>, Error> {
    query.filter = scope(actor, query.filter)?;
    let c = &actor.company_id;
    let found = match search {
        Some(q) => {
            let terms = terms_of("search", q)?;
            deps.store.search_orders(c, &terms, &query.filter, &page).await?
        }
        None => deps.store.list_orders(c, &query, &page).await?,
    };
    Ok(only_scoped(&query.filter, found))
}

/// `GET /api/v1/sales/orders/search`: word-prefix search, narrowed by status and dates.
pub async fn search_orders(
    deps: &Deps,
    actor: &Actor,
    q: &str,
    filter: OrderFilter,
    page: PageRequest,
) -> Result<Page<Order>, Error> {
    let filter = scope(actor, filter)?;
    let terms = terms_of("q", q)?;
    let found = deps
        .store
        .search_orders(&actor.company_id, &terms, &filter, &page)
        .await?;
    Ok(only_scoped(&filter, found))
}

/// One page of the orders that need attention now, each with why, and the counts over
/// all of them.
pub struct AttentionPage {
    pub items: Vec<(Order, Attention)>,
    pub next: Option<String>,
    pub counts: AttentionCounts,
}

/// `GET /api/v1/sales/orders/requires-attention`: held and pending-approval orders first,
/// then open orders overdue or due within a day, most overdue first.
pub async fn requires_attention(deps: &Deps, actor: &Actor, page: PageRequest) -> Result<AttentionPage, Error> {
    let filter = scope(actor, OrderFilter::default())?;
    let now = deps.clock.now();
    let c = &actor.company_id;
    let customer = filter.customer_id;
    let found = only_scoped(
        &filter,
        deps.store
            .attention_orders(c, customer, index::attention_due_bound(now), &page)
            .await?,
    );
    let items = found
        .items
        .into_iter()
        .filter_map(|o| index::attention(&o, now).map(|a| (o, a)))
        .collect();
    // Over every order that needs attention (a customer's: its own), not just this page.
    let counts = deps.store.attention_counts(c, customer, now, MAX_COUNTED).await?;
    Ok(AttentionPage {
        items,
        next: found.next,
        counts,
    })
}

pub struct HighValuePage {
    pub items: Vec<Order>,
    pub next: Option<String>,
    pub minimum: Decimal,
    pub totals: HighValueTotals,
    /// The totals came from the counters kept with each order (one read), not a sum over
    /// the matching orders.
    pub from_counters: bool,
}

/// `GET /api/v1/sales/orders/high-value`: orders at or above `minimum` (the company's
/// high-value threshold unless given), largest first, with exact count and sum.
pub async fn high_value(
    deps: &Deps,
    actor: &Actor,
    minimum: Option<Decimal>,
    filter: OrderFilter,
    page: PageRequest,
) -> Result<HighValuePage, Error> {
    let filter = scope(actor, filter)?;
    if minimum.is_some_and(|m| m.is_sign_negative()) {
        return Err(Error::invalid("minimum_amount", "minimum_amount must not be negative"));
    }
    let c = &actor.company_id;
    let settings = deps.store.get_settings(c).await?;
    let (threshold, generation) = (settings.high_value_threshold, settings.high_value_generation);
    let minimum = minimum.unwrap_or(threshold);
    let found = only_scoped(&filter, deps.store.high_value_orders(c, minimum, &filter, &page).await?);
    // The counters (the company's, or a customer's own) answer the company's threshold, by
    // status, in one read; anything else (another minimum, dates) is summed over the
    // matching orders' index entries, up to a bound. After a threshold change the new
    // generation's counters answer once its recount is done: until then, the sum.
    let countable = minimum == threshold && filter.from_date.is_none() && filter.to_date.is_none();
    let counted = match countable {
        true => counters(deps, c, filter.customer_id, generation)
            .await?
            .filter(|s| s.threshold == minimum)
            .map(|s| {
                let mut t = HighValueTotals::default();
                for (status, (n, v)) in &s.by_status {
                    if filter.status.is_none_or(|f| f.as_str() == *status) {
                        t.count = t.count.saturating_add(*n);
                        t.total_value = t.total_value.saturating_add(*v);
                    }
                }
                t
            }),
        false => None,
    };
    let from_counters = counted.is_some();
    let mut totals = match counted {
        Some(t) => t,
        None => deps.store.high_value_totals(c, minimum, &filter, MAX_COUNTED).await?,
    };
    if totals.count == 0 {
        // Counters that went up and back down hold "0.00"; nothing summed is "0".
        totals.total_value = Decimal::ZERO;
    }
    Ok(HighValuePage {
        items: found.items,
        next: found.next,
        minimum,
        totals,
        from_counters,
    })
}

/// The high-value counters the read may use: the company's or a customer's, of the current
/// generation, once that generation's recount is complete (marked on the company's item,
/// read once when the scope is the company itself).
async fn counters(
    deps: &Deps,
    c: &crate::ids::CompanyId,
    customer: Option<crate::ids::CustomerId>,
    generation: u32,
) -> Result<Option<crate::order::query::HighValueStats>, Error> {
    let stats = deps.store.high_value_stats(c, customer, generation).await?;
    let complete = match (generation, customer) {
        (0, _) => true,
        (_, None) => stats.as_ref().is_some_and(|s| s.complete),
        (_, Some(_)) => deps
            .store
            .high_value_stats(c, None, generation)
            .await?
            .is_some_and(|s| s.complete),
    };
    Ok(stats.filter(|_| complete))
}
