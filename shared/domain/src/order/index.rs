//! The sort keys orders are read by (SPEC §6, §12 patterns 4–6 and 8), and the rules of the
//! attention list and of search words. Both adapters order by exactly these strings: the
//! DynamoDB adapter writes them as index keys, the in-memory one sorts by them.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;

use super::{Order, OrderStatus};

/// Orders without a due date sort after every dated one.
const NO_DUE_DATE: &str = "9999-12-31";
/// At most this many distinct words of one order are indexed for search.
pub const MAX_SEARCH_WORDS: usize = 100;
/// Longer words are indexed (and matched) by their first this-many characters.
pub const MAX_WORD_CHARS: usize = 40;

fn micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Newest last: `<order_date>#<created_at>#<id>`. Unique per order, so paging never ties.
pub fn date_key(o: &Order) -> String {
    format!("{}#{}#{}", o.order_date, micros(o.created_at), o.id)
}

/// A non-negative decimal as a fixed-width string that sorts like the number: 20 integer
/// digits and 6 decimals (more than any currency's minor units). Negative values sort as 0.
pub fn padded_amount(d: Decimal) -> String {
    let d = d.max(Decimal::ZERO).round_dp(6);
    let int = d.trunc();
    let frac = ((d - int) * Decimal::from(1_000_000)).trunc();
    format!("{:0>20}.{:0>6}", int.to_string(), frac.to_string())
}

/// By total, then by date: `<padded total>#<date key>`.
pub fn total_key(o: &Order) -> String {
    format!("{}#{}", padded_amount(o.total_amount.value()), date_key(o))
}

/// By due date (undated last), then by date.
pub fn due_key(o: &Order) -> String {
    let due = o.due_date.map(|d| d.to_string());
    format!("{}#{}", due.as_deref().unwrap_or(NO_DUE_DATE), date_key(o))
}

/// `sort_by=status` follows the lifecycle (draft first, cancelled last), not the alphabet.
pub fn status_rank(s: OrderStatus) -> usize {
    OrderStatus::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// Statuses in which an order can still be late: everything before delivery, except
/// closed orders. A delivered order has arrived, so it is no longer "due".
pub fn open_for_attention(s: OrderStatus) -> bool {
    !matches!(
        s,
        OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Cancelled
    )
}

/// The attention index holds only open orders that can need attention: held, awaiting
/// approval or carrying alerts (`H#…`, always listed) and open orders with a due date
/// (`D#…`, listed once due within a day). Everything else is absent, so the index stays
/// as small as the company's open work, whatever its history.
pub fn attention_key(o: &Order) -> Option<String> {
    if !open_for_attention(o.status) {
        return None;
    }
    let held = matches!(o.status, OrderStatus::OnHold | OrderStatus::PendingApproval) || !o.alerts.is_empty();
    match (held, o.due_date) {
        (true, _) => Some(format!("H#{}", due_key(o))),
        (false, Some(_)) => Some(format!("D#{}", due_key(o))),
        (false, None) => None,
    }
}

/// The latest due date that is overdue or due within a day at `now`: the upper bound of
/// the `D#` range of the attention index.
pub fn attention_due_bound(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(24)).date_naive()
}

/// An order is due at the start (00:00 UTC) of its due date.
pub fn due_at(due: NaiveDate) -> DateTime<Utc> {
    due.and_time(NaiveTime::MIN).and_utc()
}

/// Why an open order needs attention, as the requires-attention endpoint reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// Whole days from today (UTC) to the due date; negative once overdue.
    pub days_until_due: Option<i64>,
    pub is_overdue: bool,
    /// Due within the next 24 hours and not yet overdue.
    pub is_urgent: bool,
    /// The most pressing reason, for people.
    pub reason: String,
    /// Every reason that applies: `overdue`, `due_soon`, `pending_approval`, `on_hold`.
    pub reasons: Vec<&'static str>,
}

/// Overdue and urgent, from the due date alone (what the attention counts need).
pub fn due_state(due: Option<NaiveDate>, now: DateTime<Utc>) -> (bool, bool) {
    match due {
        Some(d) => {
            let at = due_at(d);
            let overdue = now > at;
            (overdue, !overdue && at <= now + Duration::hours(24))
        }
        None => (false, false),
    }
}

/// Whether (and why) `o` needs attention at `now`; `None` when it does not.
pub fn attention(o: &Order, now: DateTime<Utc>) -> Option<Attention> {
    if !open_for_attention(o.status) {
        return None;
    }
    let (is_overdue, is_urgent) = due_state(o.due_date, now);
    let days_until_due = o.due_date.map(|d| (d - now.date_naive()).num_days());
    let mut reasons = Vec::new();
    let mut reason = None;
    if is_overdue {
        reasons.push("overdue");
        let late = (now - due_at(o.due_date.unwrap_or_default())).num_days();
        reason = Some(match late {
            0 => "Overdue (due today)".to_owned(),
            1 => "Overdue by 1 day".to_owned(),
            n => format!("Overdue by {n} days"),
        });
    }
    if is_urgent {
        reasons.push("due_soon");
        reason.get_or_insert_with(|| "Due within 1 day".to_owned());
    }
    if o.status == OrderStatus::PendingApproval {
        reasons.push("pending_approval");
        reason.get_or_insert_with(|| "Awaiting approval".to_owned());
    }
    if o.status == OrderStatus::OnHold {
        reasons.push("on_hold");
        reason.get_or_insert_with(|| "On hold".to_owned());
    }
    // A webhook order held for a person: each alert is a reason.
    for alert in &o.alerts {
        reasons.push(match alert.as_str() {
            "missingShippingAddress" => "missingShippingAddress",
            "invalidShippingPostalCode" => "invalidShippingPostalCode",
            "noOrderItems" => "noOrderItems",
            "insufficientStock" => "insufficientStock",
            _ => "alert",
        });
        reason.get_or_insert_with(|| format!("Held: {alert}"));
    }
    reason.map(|reason| Attention {
        days_until_due,
        is_overdue,
        is_urgent,
        reason,
        reasons,
    })
}

/// Splits text into lower-case words of letters and digits: `ORD-A3X7@acme.com` is
/// `ord`, `a3x7`, `acme`, `com`. Search terms are split the same way.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_WORD_CHARS).flat_map(char::to_lowercase).collect())
}

/// What search matches (SPEC §6): order number, customer name, e-mail, company name,
/// customer number and notes. The first [`MAX_SEARCH_WORDS`] distinct words are kept.
pub fn search_words(o: &Order) -> BTreeSet<String> {
    // A child order is found on its parent, not by the order search.
    if o.kind != super::OrderKind::Sale {
        return BTreeSet::new();
    }
    let mut fields: Vec<&str> = vec![o.order_number.as_str()];
    if let Some(c) = &o.customer {
        fields.push(&c.customer_number);
        fields.push(&c.company_name);
        fields.extend(c.contact_name.as_deref());
        fields.extend(c.email.as_deref());
    }
    fields.extend(o.notes.as_deref());
    let mut out = BTreeSet::new();
    for w in fields.into_iter().flat_map(words) {
        if out.len() >= MAX_SEARCH_WORDS {
            break;
        }
        out.insert(w);
    }
    out
}

/// The distinct terms of a search, longest first (the longest is the most selective, so
/// it is the one the index is read by).
pub fn search_terms(q: &str) -> Vec<String> {
    let mut terms: Vec<String> = words(q).collect::<BTreeSet<_>>().into_iter().collect();
    terms.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    terms
}

/// Every term is the beginning of one of the words.
pub fn matches_terms(words: &BTreeSet<String>, terms: &[String]) -> bool {
    terms.iter().all(|t| {
        words
            .range(t.clone()..)
            .next()
            .is_some_and(|w| w.starts_with(t.as_str()))
    })
}

/// The word an order is found under for `term`: the first of its words that starts with it.
/// An order with several such words is listed once, under this one.
pub fn first_match<'a>(words: &'a BTreeSet<String>, term: &str) -> Option<&'a String> {
    words.range(term.to_owned()..).next().filter(|w| w.starts_with(term))
}

/// The search index's sort key: by word, then newest first.
pub fn search_key(word: &str, o: &Order) -> String {
    let us = o.created_at.timestamp_micros().max(0);
    format!("{word}#{:019}#{}", i64::MAX - us, o.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_amounts_sort_like_numbers() {
        let v = ["0", "0.5", "9.99", "10", "10000", "12450.00", "99999999.123456"];
        let keys: Vec<String> = v.iter().map(|s| padded_amount(s.parse().expect("decimal"))).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            padded_amount("12450.5".parse().expect("d")),
            "00000000000000012450.500000"
        );
        assert_eq!(padded_amount("-3".parse().expect("d")), padded_amount(Decimal::ZERO));
    }

    #[test]
    fn words_split_on_punctuation_and_lower_case() {
        let w: Vec<String> = words("ORD-A3X7K9M2 orders@Acme.com  Ünïcode").collect();
        assert_eq!(w, ["ord", "a3x7k9m2", "orders", "acme", "com", "ünïcode"]);
        assert_eq!(search_terms("acme  ORD acme"), ["acme", "ord"]);
    }

    #[test]
    fn terms_match_word_prefixes_only() {
        let w: BTreeSet<String> = ["acme", "corporation", "ord"].map(String::from).into();
        assert!(matches_terms(&w, &["acm".into()]));
        assert!(matches_terms(&w, &["corp".into(), "ac".into()]));
        assert!(!matches_terms(&w, &["cme".into()]));
        assert!(!matches_terms(&w, &["acme".into(), "widget".into()]));
        assert_eq!(first_match(&w, "c").map(String::as_str), Some("corporation"));
    }

    #[test]
    fn due_state_boundaries() {
        let due: NaiveDate = "2026-03-11".parse().expect("date");
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        assert_eq!(due_state(Some(due), at("2026-03-09T23:00:00Z")), (false, false)); // 25 h
        assert_eq!(due_state(Some(due), at("2026-03-10T01:00:00Z")), (false, true)); // 23 h
        assert_eq!(due_state(Some(due), at("2026-03-11T00:00:00Z")), (false, true)); // due now
        assert_eq!(due_state(Some(due), at("2026-03-11T00:00:01Z")), (true, false)); // 1 s late
        assert_eq!(attention_due_bound(at("2026-03-10T01:00:00Z")), due);
        assert!(attention_due_bound(at("2026-03-09T23:00:00Z")) < due);
    }
}
