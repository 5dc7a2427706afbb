//! The write-heat tally (`make load` on DynamoDB): an SDK interceptor on the DynamoDB
//! client that counts, per second, the write units every partition key receives, on the
//! base table and on each GSI, and how many transactions touch each item.
//!
//! DynamoDB bills and throttles a partition at 1,000 WCU/s; an item that many transactions
//! write at once also conflicts. Nothing local shows either, so the units are computed
//! from what the adapter sends, the way DynamoDB charges them:
//!
//! - a write costs one unit per started KB of the item (the larger of before and after);
//!   inside `TransactWriteItems` twice that (a `ConditionCheck` counts as a transactional
//!   write of the item it reads);
//! - every GSI the item is in before or after the write is written too (all of this
//!   table's indexes project ALL attributes, so any change reaches them): one write of
//!   the projected size to the partition it leaves and one to the partition it enters,
//!   or one to the partition it stays in;
//! - to know an item's size and index keys when an update names only what it changes,
//!   the tally keeps a shadow of every item written through it (its attributes' sizes and
//!   index keys), updated from each `SET`/`REMOVE`/`ADD`. An item the tally has not seen
//!   counts with what the write itself names (an underestimate).
//!
//! It only counts: requests are sent unchanged, and failed writes count (DynamoDB charges
//! a refused conditional write too).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::operation as op;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::keys::{PK, SK};
use super::table::INDEXES;

type Attrs = HashMap<String, AttributeValue>;
type Key = (String, String);

/// What the tally knows of one item.
#[derive(Debug, Default, Clone)]
struct Shadow {
    /// Attribute name -> its stored size in bytes (name included).
    sizes: HashMap<String, usize>,
    /// Attribute name -> value, for the index key attributes only.
    keys: HashMap<String, String>,
}

impl Shadow {
    fn size(&self) -> usize {
        self.sizes.values().sum()
    }

    /// The (partition, sort) key of the item in each index it is in.
    fn entries(&self) -> Vec<(&'static str, String, String)> {
        INDEXES
            .iter()
            .filter_map(|(index, p, s)| match (self.keys.get(*p), self.keys.get(*s)) {
                (Some(pk), Some(sk)) => Some((*index, pk.clone(), sk.clone())),
                _ => None,
            })
            .collect()
    }

    fn set(&mut self, name: &str, value: Option<&AttributeValue>) {
        match value {
            Some(v) => {
                self.sizes.insert(name.to_owned(), name.len() + value_size(v));
                if let AttributeValue::S(s) = v {
                    if is_index_key(name) {
                        self.keys.insert(name.to_owned(), s.clone());
                    }
                }
            }
            // A computed value (`stock - :q`, `if_not_exists`): the size is kept (or
            // guessed small when new).
            None => {
                self.sizes.entry(name.to_owned()).or_insert(name.len() + 8);
            }
        }
    }

    fn remove(&mut self, name: &str) {
        self.sizes.remove(name);
        self.keys.remove(name);
    }
}

fn is_index_key(name: &str) -> bool {
    INDEXES.iter().any(|(_, p, s)| *p == name || *s == name)
}

/// DynamoDB's item-size rules, closely enough to count kilobytes.
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(xs) => xs.iter().map(String::len).sum(),
        AttributeValue::Ns(xs) => xs.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(xs) => xs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(xs) => 3 + xs.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum::<usize>(),
        _ => 1,
    }
}

/// What kind of partition a key names: the part after the company (`C#<c>#ORDERS#~1` is
/// `ORDERS`), or its first part for keys outside a company.
fn partition_kind(pk: &str) -> &str {
    let mut parts = pk.split('#');
    match parts.next() {
        Some("C") => parts.nth(1).unwrap_or_default(),
        first => first.unwrap_or_default(),
    }
}

fn units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn key_of(key: &Attrs) -> Option<Key> {
    let s = |k: &str| key.get(k).and_then(|v| v.as_s().ok()).cloned();
    Some((s(PK)?, s(SK)?))
}

/// What one write does to one item.
enum Write<'a> {
    Put(&'a Attrs),
    Update {
        expression: &'a str,
        names: Option<&'a HashMap<String, String>>,
        values: Option<&'a Attrs>,
    },
    Delete,
    Check,
}

#[derive(Debug, Default)]
struct Tally {
    shadows: HashMap<Key, Shadow>,
    /// (index or "table", partition key) -> second -> write units.
    partitions: HashMap<(&'static str, String), BTreeMap<u64, f64>>,
    /// item -> second -> transactions that wrote (or checked) it.
    items: HashMap<Key, BTreeMap<u64, u32>>,
    /// operation -> second -> requests (reads too): what the table is asked, per order.
    requests: BTreeMap<String, BTreeMap<u64, u32>>,
}

impl Tally {
    fn add(&mut self, index: &'static str, pk: &str, units: f64, second: u64) {
        *self
            .partitions
            .entry((index, pk.to_owned()))
            .or_default()
            .entry(second)
            .or_default() += units;
    }

    fn write(&mut self, key: Key, w: Write<'_>, transactional: bool, second: u64) {
        let factor = if transactional { 2.0 } else { 1.0 };
        if transactional {
            *self.items.entry(key.clone()).or_default().entry(second).or_default() += 1;
        }
        let before = self.shadows.get(&key).cloned();
        let mut after = before.clone().unwrap_or_default();
        match w {
            Write::Check => {
                let size = before.as_ref().map_or(key.0.len() + key.1.len(), Shadow::size);
                self.add("table", &key.0, units(size) * factor, second);
                return;
            }
            Write::Delete => after = Shadow::default(),
            Write::Put(item) => {
                after = Shadow::default();
                for (k, v) in item {
                    after.set(k, Some(v));
                }
            }
            Write::Update {
                expression,
                names,
                values,
            } => {
                if before.is_none() {
                    after.set(PK, Some(&AttributeValue::S(key.0.clone())));
                    after.set(SK, Some(&AttributeValue::S(key.1.clone())));
                }
                apply_update(&mut after, expression, names, values);
            }
        }
        let old = before.as_ref().map_or(0, Shadow::size);
        let new = after.size();
        self.add("table", &key.0, units(old.max(new)) * factor, second);
        let old_entries = before.as_ref().map(Shadow::entries).unwrap_or_default();
        let new_entries = after.entries();
        for (index, _, _) in INDEXES {
            let was = old_entries.iter().find(|(i, _, _)| i == index);
            let is = new_entries.iter().find(|(i, _, _)| i == index);
            match (was, is) {
                (Some((_, p0, s0)), Some((_, p1, s1))) if p0 == p1 && s0 == s1 => {
                    self.add(index, p1, units(old.max(new)), second)
                }
                (was, is) => {
                    if let Some((_, p, _)) = was {
                        self.add(index, p, units(old), second);
                    }
                    if let Some((_, p, _)) = is {
                        self.add(index, p, units(new), second);
                    }
                }
            }
        }
        match new_entries.is_empty() && after.sizes.is_empty() {
            true => self.shadows.remove(&key),
            false => self.shadows.insert(key, after),
        };
    }
}

/// Applies `SET a = :v, b = b - :q`, `REMOVE c`, `ADD n :one` to the shadow.
fn apply_update(item: &mut Shadow, expression: &str, names: Option<&HashMap<String, String>>, values: Option<&Attrs>) {
    let name = |token: &str| -> String {
        let token = token.trim();
        names
            .and_then(|n| n.get(token))
            .cloned()
            .unwrap_or_else(|| token.to_owned())
    };
    let value = |token: &str| values.and_then(|v| v.get(token.trim()));
    for (clause, body) in clauses(expression) {
        for part in split_top(body) {
            match clause {
                "SET" => {
                    let Some((lhs, rhs)) = part.split_once('=') else {
                        continue;
                    };
                    let rhs = rhs.trim();
                    let simple = rhs.starts_with(':') && !rhs.contains(char::is_whitespace);
                    item.set(&name(lhs), if simple { value(rhs) } else { None });
                }
                "REMOVE" => item.remove(&name(part)),
                "ADD" | "DELETE" => {
                    let mut it = part.split_whitespace();
                    if let Some(n) = it.next() {
                        let v = it.next().and_then(value);
                        let n = name(n);
                        match (clause, item.sizes.contains_key(&n)) {
                            ("ADD", false) => item.set(&n, v),
                            _ => item.set(&n, None),
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// `SET x REMOVE y` -> [("SET", "x "), ("REMOVE", "y")].
fn clauses(expression: &str) -> Vec<(&'static str, &str)> {
    const WORDS: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];
    let mut starts: Vec<(usize, &'static str)> = Vec::new();
    for w in WORDS {
        let mut from = 0;
        while let Some(i) = expression[from..].find(w) {
            let at = from + i;
            let before_ok = at == 0 || expression.as_bytes()[at - 1].is_ascii_whitespace();
            let end = at + w.len();
            let after_ok = expression.as_bytes().get(end).is_none_or(u8::is_ascii_whitespace);
            if before_ok && after_ok {
                starts.push((at, w));
            }
            from = end;
        }
    }
    starts.sort();
    starts
        .iter()
        .enumerate()
        .map(|(i, (at, w))| {
            let end = starts.get(i + 1).map_or(expression.len(), |(e, _)| *e);
            (*w, &expression[at + w.len()..end])
        })
        .collect()
}

/// Splits on commas outside parentheses.
fn split_top(body: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&body[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The interceptor; clones share one tally.
#[derive(Debug, Clone, Default)]
pub struct HeatTally(Arc<Mutex<Tally>>);

impl HeatTally {
    pub fn new() -> HeatTally {
        HeatTally::default()
    }

    /// The tally as JSON: every partition key written at least `min_units` in all, with its
    /// units per second, and every item at least `min_tx` transactions wrote, with its
    /// transactions per second (epoch seconds).
    pub fn report(&self, min_units: f64, min_tx: u32) -> serde_json::Value {
        let t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let partitions: Vec<_> = t
            .partitions
            .iter()
            .filter(|(_, s)| s.values().sum::<f64>() >= min_units)
            .map(|((index, pk), s)| serde_json::json!({ "index": index, "pk": pk, "wcu": s }))
            .collect();
        let items: Vec<_> = t
            .items
            .iter()
            .filter(|(_, s)| s.values().sum::<u32>() >= min_tx)
            .map(|((pk, sk), s)| serde_json::json!({ "pk": pk, "sk": sk, "tx": s }))
            .collect();
        serde_json::json!({ "partitions": partitions, "items": items, "requests": t.requests })
    }

    fn record(&self, input: &aws_smithy_runtime_api::client::interceptors::context::Input) {
        let second = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = input.downcast_ref::<op::transact_write_items::TransactWriteItemsInput>() {
            for a in i.transact_items() {
                let (key, w) = if let Some(p) = a.put() {
                    (key_of(p.item()), Write::Put(p.item()))
                } else if let Some(u) = a.update() {
                    let w = Write::Update {
                        expression: u.update_expression(),
                        names: u.expression_attribute_names(),
                        values: u.expression_attribute_values(),
                    };
                    (key_of(u.key()), w)
                } else if let Some(d) = a.delete() {
                    (key_of(d.key()), Write::Delete)
                } else if let Some(c) = a.condition_check() {
                    (key_of(c.key()), Write::Check)
                } else {
                    continue;
                };
                if let Some(key) = key {
                    t.write(key, w, true, second);
                }
            }
        } else if let Some(p) = input.downcast_ref::<op::put_item::PutItemInput>() {
            if let Some(item) = p.item() {
                if let Some(key) = key_of(item) {
                    t.write(key, Write::Put(item), false, second);
                }
            }
        } else if let Some(u) = input.downcast_ref::<op::update_item::UpdateItemInput>() {
            if let Some(key) = u.key().and_then(key_of) {
                let w = Write::Update {
                    expression: u.update_expression().unwrap_or_default(),
                    names: u.expression_attribute_names(),
                    values: u.expression_attribute_values(),
                };
                t.write(key, w, false, second);
            }
        } else if let Some(d) = input.downcast_ref::<op::delete_item::DeleteItemInput>() {
            if let Some(key) = d.key().and_then(key_of) {
                t.write(key, Write::Delete, false, second);
            }
        } else if let Some(b) = input.downcast_ref::<op::batch_write_item::BatchWriteItemInput>() {
            for requests in b.request_items().into_iter().flat_map(|m| m.values()) {
                for r in requests {
                    if let Some(item) = r.put_request().map(|p| p.item()) {
                        if let Some(key) = key_of(item) {
                            t.write(key, Write::Put(item), false, second);
                        }
                    } else if let Some(key) = r.delete_request().and_then(|d| key_of(d.key())) {
                        t.write(key, Write::Delete, false, second);
                    }
                }
            }
        }
    }
}

impl Intercept for HeatTally {
    fn name(&self) -> &'static str {
        "HeatTally"
    }

    fn read_before_serialization(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            let second = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            // A single-item read is counted by the kind of item (its sort key up to the
            // first `#`), to show which reads an order costs.
            // A query by its index and the kind of partition (the key's part after the
            // company, e.g. `Query GSI1 ORDERS`); an update by the kind of item too.
            let input = ctx.input();
            let sk_kind = |k: Option<&Attrs>| {
                k.and_then(|k| k.get(SK))
                    .and_then(|v| v.as_s().ok())
                    .map(|sk| sk.split('#').next().unwrap_or_default().to_owned())
            };
            let what = if let Some(g) = input.downcast_ref::<op::get_item::GetItemInput>() {
                sk_kind(g.key()).map(|k| format!("{} {k}", meta.name()))
            } else if let Some(u) = input.downcast_ref::<op::update_item::UpdateItemInput>() {
                sk_kind(u.key()).map(|k| format!("{} {k}", meta.name()))
            } else if let Some(b) = input.downcast_ref::<op::batch_get_item::BatchGetItemInput>() {
                let mut kinds: Vec<String> = b
                    .request_items()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .flat_map(|ka| ka.keys())
                    .filter_map(|k| sk_kind(Some(k)))
                    .collect();
                kinds.sort();
                kinds.dedup();
                Some(format!("{} {}", meta.name(), kinds.join("+")))
            } else if let Some(q) = input.downcast_ref::<op::query::QueryInput>() {
                let pk = q
                    .expression_attribute_values()
                    .and_then(|v| v.get(":pk"))
                    .and_then(|v| v.as_s().ok())
                    .map(|pk| partition_kind(pk))
                    .unwrap_or_default();
                Some(format!("{} {} {pk}", meta.name(), q.index_name().unwrap_or("table")))
            } else {
                None
            }
            .unwrap_or_else(|| meta.name().to_owned());
            let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
            *t.requests.entry(what).or_default().entry(second).or_default() += 1;
        }
        self.record(ctx.input());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    fn total(t: &Tally, index: &str, pk: &str) -> f64 {
        t.partitions
            .iter()
            .filter(|((i, p), _)| *i == index && p == pk)
            .flat_map(|(_, s)| s.values())
            .sum()
    }

    #[test]
    fn puts_updates_and_deletes_reach_the_indexes_the_item_is_in() {
        let mut t = Tally::default();
        let key = ("C#c#O#1".to_owned(), "ORDER".to_owned());
        let mut item: Attrs = [
            (PK, s("C#c#O#1")),
            (SK, s("ORDER")),
            ("GSI1PK", s("C#c#ORDERS")),
            ("GSI1SK", s("2026-11-30#1")),
            ("notes", s(&"x".repeat(1500))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        t.write(key.clone(), Write::Put(&item), true, 1);
        // 1.5 KB: 2 units, twice in a transaction; the GSI once.
        assert_eq!(total(&t, "table", "C#c#O#1"), 4.0);
        assert_eq!(total(&t, "GSI1", "C#c#ORDERS"), 2.0);
        assert_eq!(t.items[&key][&1], 1);

        // An update naming only the status still writes the whole item to GSI1, and moving
        // it into ByStatus writes there.
        let names = HashMap::from([("#s".to_owned(), "BY_STATUS_PK".to_owned())]);
        let values: Attrs = [
            (":s", s("C#c#ORDERS#PENDING")),
            (":k", s("k")),
            (":q", AttributeValue::N("1".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        t.write(
            key.clone(),
            Write::Update {
                expression: "SET #s = :s, BY_STATUS_SK = :k, stock = stock - :q",
                names: Some(&names),
                values: Some(&values),
            },
            false,
            2,
        );
        assert_eq!(total(&t, "table", "C#c#O#1"), 6.0);
        assert_eq!(total(&t, "GSI1", "C#c#ORDERS"), 4.0);
        assert_eq!(total(&t, "ByStatus", "C#c#ORDERS#PENDING"), 2.0);

        // REMOVE takes it out of ByStatus (one write there), and the delete out of GSI1.
        t.write(
            key.clone(),
            Write::Update {
                expression: "SET stock = stock - :q REMOVE #s",
                names: Some(&names),
                values: Some(&values),
            },
            false,
            3,
        );
        assert_eq!(total(&t, "ByStatus", "C#c#ORDERS#PENDING"), 4.0);
        t.write(key.clone(), Write::Delete, false, 4);
        assert_eq!(total(&t, "GSI1", "C#c#ORDERS"), 8.0);
        assert!(!t.shadows.contains_key(&key));

        // A small item: one unit; a key move within GSI1 (same partition) is one write there.
        item.remove("notes");
        t.write(key.clone(), Write::Put(&item), false, 5);
        assert_eq!(total(&t, "GSI1", "C#c#ORDERS"), 9.0);
    }

    #[test]
    fn clauses_split_on_keywords_and_commas_outside_parentheses() {
        let c = clauses("SET a = if_not_exists(a, :z) + :one, #b = :b REMOVE c, d ADD n :one");
        assert_eq!(c.len(), 3);
        assert_eq!(split_top(c[0].1).len(), 2);
        assert_eq!(split_top(c[1].1), vec![" c", " d "]);
        assert_eq!(c[2].0, "ADD");
    }
}
