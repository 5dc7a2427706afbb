//! The high-value recount's store side (see `oms_domain::usecases::high_value`): the
//! company's orders oldest first, and one transaction per step that marks each order with
//! the generation it is now counted in (only if still as read), adds the high-value ones
//! to that generation's counters, and moves the job's step count and cursor (kept on the
//! company's counters item) only if it is still at the step read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId};
use oms_domain::order::query::{HighValueCounting, HighValueDelta};
use oms_domain::order::{Order, OrderStatus};
use oms_domain::ports::{Page, PageRequest, RecountProgress, RecountStep, RecountStore, RecountWrite};

use super::keys::*;
use super::reads::Segment;
use super::tx::{n, Guard, Tx};
use super::{add_high_value, av_s, values, DynamoStore};

#[derive(Clone, Debug)]
enum RecountGuard {
    Order,
    Step,
}

type Sums = BTreeMap<&'static str, (OrderStatus, i64, Decimal)>;

fn add(sums: &mut Sums, changes: &[(OrderStatus, i64, Decimal)]) {
    for (status, count, value) in changes {
        let e = sums.entry(status.as_str()).or_insert((*status, 0, Decimal::ZERO));
        e.1 += count;
        e.2 += value;
    }
}

#[async_trait]
impl RecountStore for DynamoStore {
    async fn recount_progress(&self, c: &CompanyId, generation: u32) -> Result<RecountProgress, Error> {
        let Some(item) = self.get(high_value_stats(c, None, generation)).await? else {
            return Ok(RecountProgress::default());
        };
        Ok(RecountProgress {
            steps: item
                .get("recount_steps")
                .and_then(|v| v.as_n().ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            cursor: item.get("recount_cursor").and_then(|v| v.as_s().ok()).cloned(),
            complete: item.get("complete").and_then(|v| v.as_bool().ok()) == Some(&true),
        })
    }

    async fn orders_oldest_first(
        &self,
        c: &CompanyId,
        after: Option<String>,
        limit: u32,
    ) -> Result<Page<Order>, Error> {
        // The company's date index, its shards merged: oldest first across all of them.
        let seg = Segment::on(GSI1, GSI1PK, GSI1SK, orders_by_date(c)).across();
        self.fill(
            c,
            &[seg],
            true,
            &Default::default(),
            &|_| true,
            &PageRequest { limit, after },
        )
        .await
    }

    async fn count_into_generation(
        &self,
        c: &CompanyId,
        counting: HighValueCounting,
        orders: &[Order],
        step: Option<RecountStep>,
    ) -> Result<RecountWrite, Error> {
        let g = counting.generation;
        let mut tx: Tx<RecountGuard> = Tx::new(&self.table);
        let mut company = Sums::new();
        let mut customers: HashMap<CustomerId, Sums> = HashMap::new();
        for o in orders {
            let condition = match o.hv_generation {
                0 => "#version = :v AND attribute_not_exists(hv_generation)",
                _ => "#version = :v AND hv_generation = :old",
            };
            let mut vals = values([(":v", n(o.version)), (":g", n(g))]);
            if o.hv_generation > 0 {
                vals.insert(":old".into(), n(o.hv_generation));
            }
            tx.update(
                order(c, o.id),
                "SET hv_generation = :g",
                Some(condition),
                HashMap::from([("#version".to_owned(), "version".to_owned())]),
                vals,
                Guard::Rule(RecountGuard::Order),
            )?;
            let fresh = Order {
                hv_generation: g,
                ..o.clone()
            };
            if let Some(d) = HighValueDelta::between(None, &fresh, counting) {
                add(&mut company, &d.changes);
                if let Some(cu) = d.customer {
                    add(customers.entry(cu).or_default(), &d.changes);
                }
            }
        }
        for (cu, sums) in customers {
            let d = HighValueDelta {
                threshold: counting.threshold,
                generation: g,
                customer: Some(cu),
                changes: sums.into_values().collect(),
            };
            add_high_value(&mut tx, c, Some(cu), &d)?;
        }
        // The company's counters, with the job's step when there is one.
        let mut set = vec!["#thr = if_not_exists(#thr, :thr)".to_owned()];
        let mut adds = Vec::new();
        let mut names = HashMap::from([("#thr".to_owned(), "threshold".to_owned())]);
        let mut vals = values([(":thr", av_s(counting.threshold.normalize().to_string()))]);
        for (i, (status, count, value)) in company.into_values().enumerate() {
            names.insert(format!("#n{i}"), format!("n_{}", status.as_str()));
            names.insert(format!("#v{i}"), format!("v_{}", status.as_str()));
            vals.insert(format!(":n{i}"), AttributeValue::N(count.to_string()));
            vals.insert(format!(":v{i}"), AttributeValue::N(value.to_string()));
            adds.push(format!("#n{i} :n{i}, #v{i} :v{i}"));
        }
        let mut condition = None;
        let mut guard = Guard::None;
        let mut remove = "";
        if let Some(s) = &step {
            set.push("recount_steps = :next".into());
            vals.insert(":next".into(), n(s.steps + 1));
            match &s.to {
                Some(cursor) => {
                    set.push("recount_cursor = :cursor".into());
                    vals.insert(":cursor".into(), av_s(cursor.clone()));
                }
                None => remove = " REMOVE recount_cursor",
            }
            if s.complete {
                set.push("complete = :t".into());
                vals.insert(":t".into(), AttributeValue::Bool(true));
            }
            condition = Some(match s.steps {
                0 => "attribute_not_exists(recount_steps)",
                _ => "recount_steps = :steps",
            });
            if s.steps > 0 {
                vals.insert(":steps".into(), n(s.steps));
            }
            guard = Guard::Rule(RecountGuard::Step);
        }
        if step.is_some() || !adds.is_empty() {
            let mut expr = format!("SET {}", set.join(", "));
            if !adds.is_empty() {
                expr.push_str(&format!(" ADD {}", adds.join(", ")));
            }
            expr.push_str(remove);
            tx.update(high_value_stats(c, None, g), &expr, condition, names, vals, guard)?;
        }
        if tx.len() == 0 {
            return Ok(RecountWrite::Applied);
        }
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(RecountWrite::Applied),
            Err(failed) if failed.iter().any(|f| matches!(f.guard, RecountGuard::Step)) => Ok(RecountWrite::Moved),
            Err(_) => Ok(RecountWrite::Raced),
        }
    }
}
