//! Adapters for the domain's ports: [`dynamo`] (production, one DynamoDB table) and
//! [`memory`] (the local default and fast tests). Both give the same answers; the contract
//! suite in `tests/` runs against each.

pub mod dynamo;
pub mod mail;
pub mod memory;
pub mod ses;
pub mod sqs;

use serde::Serialize;
use serde_json::{Map, Value};

/// The top-level fields an edit changes. Writes touch only these, so an edit never
/// overwrites what another writer changed in between (a stock decrement, a status).
pub(crate) fn changed_fields<T: Serialize>(before: &T, after: &T) -> Map<String, Value> {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Map::new();
    };
    a.into_iter()
        .filter(|(k, v)| b.get(k) != Some(v) && k != "version" && k != "updated_at")
        .collect()
}
