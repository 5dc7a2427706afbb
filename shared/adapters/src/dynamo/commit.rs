//! The effect plan as one `TransactWriteItems`: one guarded action per entry of the plan,
//! interpreted mechanically, and a refusal mapped back to the rule that refused it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, ProductId};
use oms_domain::order::{Order, OrderStatus};
use oms_domain::plan::{Claim, EffectPlan, OrderWrite, StockMove};
use oms_domain::ports::{CommitError, CommitRejection};

use super::keys::*;
use super::reads::order_index_attrs;
use super::tx::{n, Failed, Guard, Tx};
use super::{
    av_s, count_high_value, from_item, stock_cap_rejection, to_item, values, DynamoStore, Item, OrderGuard,
    IDEMPOTENCY_TTL_SECS, MAX_TRANSACTION_ITEMS, NOT_EXISTS,
};

/// One usage counter shard as read.
pub(super) struct UsageShard {
    pub(super) orders: u32,
    allowance: Option<u32>,
    cap: Option<u32>,
}

/// Counter items each month's usage is spread over.
pub const USAGE_SHARDS: u32 = 8;
/// Re-splits of the allowances one placement may go through before it gives up (as
/// contention: the caller retries).
const USAGE_REBALANCES: u32 = 8;
/// Times one placement's takes may be spread again after other orders emptied the stock
/// shards they were to come from.
const STOCK_REPICKS: u32 = 8;

impl DynamoStore {
    /// Commits the plan. Its monthly-usage count goes to one of [`USAGE_SHARDS`] counter
    /// items, picked at random, so no single item takes every customer order of a tenant.
    /// With a cap, each shard may count up to its allowance (and only under the cap its
    /// allowances were split for): when the chosen shard is full, the allowances are
    /// re-split over what is left ([`DynamoStore::rebalance_usage`]) and the plan is tried
    /// again on a shard with room; it is refused only when the month's total has reached
    /// the cap. The total never passes the cap: every count stays within its shard's
    /// allowance, and the allowances add up to the cap.
    pub(super) async fn commit_plan(&self, plan: &EffectPlan) -> Result<Order, CommitError> {
        if plan.cap.as_ref().is_some_and(|cap| cap.limit == Some(0)) {
            // "orders < 0" can never hold, but a missing counter would pass the condition.
            return Err(CommitError::Rejected(CommitRejection::MonthlyCapReached { limit: 0 }));
        }
        let mut shard = rand::random_range(0..USAGE_SHARDS);
        let mut moves = plan.stock.clone();
        for attempt in 0..USAGE_REBALANCES + STOCK_REPICKS {
            let failed = match self.commit_once(plan, &moves, shard).await? {
                Ok(order) => return Ok(order),
                Err(failed) => failed,
            };
            // A full shard is not the cap reached: any other refusal (a claim, short stock)
            // is the answer, as it was before the shards; a full shard alone is re-split.
            let others: Vec<Failed<OrderGuard>> = failed
                .into_iter()
                .filter(|f| !matches!(f.guard, OrderGuard::Cap(_)))
                .collect();
            let (Some(cap), Some(limit), true) =
                (&plan.cap, plan.cap.as_ref().and_then(|c| c.limit), others.is_empty())
            else {
                // A stock shard another order emptied first is not short stock: the takes
                // go to the shards as they are now, refused only when the total is short.
                return match reject(plan, &others) {
                    CommitError::Rejected(CommitRejection::InsufficientStock(_)) => {
                        match self.repick(&plan.company, &moves, u64::from(attempt)).await? {
                            Ok(again) => {
                                moves = again;
                                continue;
                            }
                            Err(rejection) => Err(CommitError::Rejected(rejection)),
                        }
                    }
                    other => Err(other),
                };
            };
            match self.rebalance_usage(&plan.company, &cap.month, limit).await? {
                Some(with_room) => shard = with_room,
                None => return Err(CommitError::Rejected(CommitRejection::MonthlyCapReached { limit })),
            }
        }
        Err(CommitError::Failed(Error::Contention))
    }

    /// One attempt at the plan's transaction, counting the month's usage on `shard`.
    async fn commit_once(
        &self,
        plan: &EffectPlan,
        moves: &[StockMove],
        shard: u32,
    ) -> Result<Result<Order, Vec<Failed<OrderGuard>>>, CommitError> {
        let c = &plan.company;
        let mut tx = Tx::new(&self.table);
        match &plan.order {
            OrderWrite::Create(o) => tx.put(
                order(c, o.id),
                Self::order_item(o)?,
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(OrderGuard::Order),
            )?,
            OrderWrite::Change { before, after, .. } => change_action(&mut tx, before, after)?,
        }
        if let Some(p) = &plan.parent {
            change_action_as(&mut tx, &p.before, &p.after, OrderGuard::Parent)?;
        }
        let id = plan.order().id;
        for claim in &plan.claims {
            claim_action(&mut tx, c, id, claim, plan)?;
        }
        stock_actions(&mut tx, c, moves)?;
        if let Some(cap) = &plan.cap {
            // Within the shard's allowance, split for this very cap (a changed cap makes
            // every shard refuse until the allowances are split again for it).
            let (condition, guard) = match cap.limit {
                Some(limit) => (
                    Some("cap_limit = :limit AND orders < allowance"),
                    Guard::Rule(OrderGuard::Cap(limit)),
                ),
                None => (None, Guard::None),
            };
            let mut vals = values([(":one", n(1))]);
            if let Some(limit) = cap.limit {
                vals.insert(":limit".into(), n(limit));
            }
            tx.update(
                monthly_usage_shard(c, &cap.month, shard),
                "ADD orders :one",
                condition,
                HashMap::new(),
                vals,
                guard,
            )?;
        }
        count_high_value(&mut tx, c, plan.high_value.as_ref())?;
        Self::audit_put(&mut tx, &plan.audit)?;
        Self::outbox_put(&mut tx, &plan.event)?;
        if tx.len() != plan.actions_with(moves) || tx.len() > MAX_TRANSACTION_ITEMS {
            return Err(CommitError::Failed(Error::internal(format!(
                "a plan of {} actions became a transaction of {}",
                plan.actions_with(moves),
                tx.len()
            ))));
        }
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(Ok(self.committed(plan).await?)),
            Err(failed) => Ok(Err(failed)),
        }
    }

    /// The month's usage as it stands: the unsharded counter (months counted before the
    /// shards existed) and each shard's count, allowance and the cap it was split for.
    pub(super) async fn usage_counts(&self, c: &CompanyId, month: &str) -> Result<(u32, Vec<UsageShard>), Error> {
        let mut keys: Vec<(String, String)> = (0..USAGE_SHARDS).map(|i| monthly_usage_shard(c, month, i)).collect();
        keys.push(monthly_usage(c, month));
        let found = self.batch_get(keys.clone()).await?;
        let num = |k: &(String, String), attr: &str| {
            found
                .get(k)
                .and_then(|i| i.get(attr))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u32>().ok())
        };
        let shards = keys[..keys.len() - 1]
            .iter()
            .map(|k| UsageShard {
                orders: num(k, "orders").unwrap_or(0),
                allowance: num(k, "allowance"),
                cap: num(k, "cap_limit"),
            })
            .collect();
        Ok((num(&monthly_usage(c, month), "orders").unwrap_or(0), shards))
    }

    /// Splits what is left of the month's cap over the shards as their allowances, each
    /// written only if the shard's count is still what was read (a count that moved
    /// meanwhile makes it read again). Returns a shard with room, or `None` when the
    /// month's total has reached the cap.
    async fn rebalance_usage(&self, c: &CompanyId, month: &str, limit: u32) -> Result<Option<u32>, Error> {
        for attempt in 0..USAGE_REBALANCES {
            let (legacy, shards) = self.usage_counts(c, month).await?;
            // Another placement may have split them already: a shard with room under this
            // cap is all that is needed.
            let room: Vec<u32> = (0..USAGE_SHARDS)
                .zip(&shards)
                .filter(|(_, s)| s.cap == Some(limit) && s.allowance.is_some_and(|a| s.orders < a))
                .map(|(i, _)| i)
                .collect();
            if !room.is_empty() {
                return Ok(room.get(rand::random_range(0..room.len())).copied());
            }
            let counts: Vec<u32> = shards.iter().map(|s| s.orders).collect();
            let total: u64 = u64::from(legacy) + counts.iter().map(|n| u64::from(*n)).sum::<u64>();
            if total >= u64::from(limit) {
                return Ok(None);
            }
            let left = u64::from(limit) - total;
            let shards = u64::from(USAGE_SHARDS);
            let mut tx: Tx<()> = Tx::new(&self.table);
            let mut with_room = Vec::new();
            for (i, count) in counts.iter().enumerate() {
                let i = u32::try_from(i).unwrap_or(0);
                let share = left / shards + u64::from(u64::from(i) < left % shards);
                if share > 0 {
                    with_room.push(i);
                }
                let allowance = u64::from(*count) + share;
                let condition = match count {
                    0 => "attribute_not_exists(orders) OR orders = :count",
                    _ => "orders = :count",
                };
                tx.update(
                    monthly_usage_shard(c, month, i),
                    "SET allowance = :allowance, cap_limit = :limit, orders = if_not_exists(orders, :zero)",
                    Some(condition),
                    HashMap::new(),
                    values([
                        (":allowance", n(allowance)),
                        (":limit", n(limit)),
                        (":count", n(*count)),
                        (":zero", n(0)),
                    ]),
                    Guard::Rule(()),
                )?;
            }
            match tx.commit(&self.client).await? {
                Ok(()) => {
                    let pick = rand::random_range(0..with_room.len().max(1));
                    return Ok(with_room.get(pick).copied());
                }
                // A count moved since it was read: read them again.
                Err(_) => {
                    let ms = rand::random_range(0..=(5u64 << attempt.min(5)));
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
            }
        }
        Err(Error::Contention)
    }

    /// The order as stored after the commit: a change is read back, so the answer shows
    /// anything that landed with it.
    async fn committed(&self, plan: &EffectPlan) -> Result<Order, CommitError> {
        match &plan.order {
            OrderWrite::Create(o) => Ok((**o).clone()),
            OrderWrite::Change { before, .. } => self
                .get(order(&plan.company, before.id))
                .await?
                .map(from_item)
                .transpose()?
                .ok_or_else(|| CommitError::Failed(Error::not_found("order", before.id))),
        }
    }
}

/// `SET` the fields and index keys that differ (and `REMOVE` the sparse keys that no
/// longer apply), only if the order is still at the version the change was derived from.
fn change_action(tx: &mut Tx<OrderGuard>, before: &Order, after: &Order) -> Result<(), Error> {
    change_action_as(tx, before, after, OrderGuard::Change)
}

/// [`change_action`], its refusal named `guard` (a child's parent: [`OrderGuard::Parent`]).
fn change_action_as(tx: &mut Tx<OrderGuard>, before: &Order, after: &Order, guard: OrderGuard) -> Result<(), Error> {
    let c = &before.company_id;
    let mut set = vec!["#version = :next".to_owned(), "#updated_at = :updated_at".to_owned()];
    let mut names = HashMap::from([
        ("#version".to_owned(), "version".to_owned()),
        ("#updated_at".to_owned(), "updated_at".to_owned()),
    ]);
    let mut vals = values([
        (":read", n(before.version)),
        (":next", n(after.version)),
        (
            ":updated_at",
            serde_dynamo::to_attribute_value(after.updated_at).map_err(Error::internal)?,
        ),
    ]);
    for (i, (field, value)) in crate::changed_fields(before, after).into_iter().enumerate() {
        set.push(format!("#f{i} = :f{i}"));
        names.insert(format!("#f{i}"), field);
        vals.insert(
            format!(":f{i}"),
            serde_dynamo::to_attribute_value(value).map_err(Error::internal)?,
        );
    }
    let mut remove = Vec::new();
    for (i, ((attr, old), (_, new))) in order_index_attrs(before)
        .into_iter()
        .zip(order_index_attrs(after))
        .enumerate()
    {
        if old == new {
            continue;
        }
        names.insert(format!("#k{i}"), attr.to_owned());
        match new {
            Some(v) => {
                set.push(format!("#k{i} = :k{i}"));
                vals.insert(format!(":k{i}"), av_s(v));
            }
            None => remove.push(format!("#k{i}")),
        }
    }
    let expr = match remove.is_empty() {
        true => format!("SET {}", set.join(", ")),
        false => format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")),
    };
    // Also only if the recount has not counted the order since it was read: whether the
    // change moves the high-value counters depends on it.
    let condition = match before.hv_generation {
        0 => "#version = :read AND attribute_not_exists(hv_generation)",
        _ => "#version = :read AND hv_generation = :hvg",
    };
    if before.hv_generation > 0 {
        vals.insert(":hvg".into(), n(before.hv_generation));
    }
    tx.update(
        order(c, before.id),
        &expr,
        Some(condition),
        names,
        vals,
        Guard::Rule(guard),
    )
}

fn claim_action(
    tx: &mut Tx<OrderGuard>,
    c: &CompanyId,
    id: oms_domain::ids::OrderId,
    claim: &Claim,
    plan: &EffectPlan,
) -> Result<(), Error> {
    let owner = values([("order_id", av_s(id.to_string()))]);
    match claim {
        Claim::OrderNumber(number) => tx.put(
            order_number_claim(c, &number.key()),
            owner,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(OrderGuard::OrderNumber),
        ),
        Claim::Origin(origin) => {
            // Also found by origin order id alone (the list's `origin_order_id` filter).
            let mut item = owner;
            item.insert(GSI1PK.into(), av_s(origin_lookup(c, &origin.origin_order_id)));
            item.insert(GSI1SK.into(), av_s(origin.integration_id.clone()));
            tx.put(
                origin_claim(c, &origin.integration_id, &origin.origin_order_id),
                item,
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(OrderGuard::Origin),
            )
        }
        Claim::Idempotency(key, rec) => {
            let mut item = to_item(rec)?;
            item.insert(EXPIRES_AT.into(), n(rec.created_at.timestamp() + IDEMPOTENCY_TTL_SECS));
            // An expired record (on the plan's clock) may be taken over.
            tx.put(
                idempotency(c, key.principal.as_str(), &key.key),
                item,
                Some((
                    "attribute_not_exists(PK) OR expires_at < :now",
                    values([(":now", n(plan.at.timestamp()))]),
                )),
                Guard::Rule(OrderGuard::Idempotency),
            )
        }
    }
}

/// The stock moves as one update per stock shard they write (never the product item; a
/// transaction may not write an item twice): a take only from an active product's shard
/// that holds it, a release only of units the first shard holds reserved.
fn stock_actions(tx: &mut Tx<OrderGuard>, c: &CompanyId, moves: &[StockMove]) -> Result<(), Error> {
    #[derive(Default)]
    struct Shard {
        take: u64,
        put: u64,
        hold: u64,
        release: u64,
    }
    let mut shards: std::collections::BTreeMap<(ProductId, u32), Shard> = std::collections::BTreeMap::new();
    for m in moves {
        let s = shards.entry((m.product_id(), m.shard())).or_default();
        match *m {
            StockMove::Take { quantity, .. } => s.take += u64::from(quantity),
            StockMove::PutBack { quantity, .. } => s.put += u64::from(quantity),
            StockMove::Hold { quantity, .. } => s.hold += u64::from(quantity),
            StockMove::Release { quantity, .. } => s.release += u64::from(quantity),
        }
    }
    for ((product_id, shard), s) in shards {
        let mut set = Vec::new();
        let mut condition = vec!["attribute_exists(PK)"];
        let mut vals = values([(":one", n(1))]);
        // (An update expression adds one operand: each count moves by its net change.)
        let net = |up: u64, down: u64| i128::from(up) - i128::from(down);
        if s.take > 0 || s.put > 0 {
            set.push("stock = stock + :stock");
            vals.insert(":stock".into(), n(net(s.put, s.take)));
        }
        if s.take > 0 {
            condition.push("active = :t AND stock >= :take");
            vals.extend(values([(":take", n(s.take)), (":t", AttributeValue::Bool(true))]));
        }
        if s.hold > 0 || s.release > 0 {
            set.push("reserved = if_not_exists(reserved, :zero) + :reserved");
            vals.extend(values([(":zero", n(0)), (":reserved", n(net(s.hold, s.release)))]));
        }
        if s.release > 0 {
            condition.push("reserved >= :release");
            vals.insert(":release".into(), n(s.release));
        }
        // A refused take is short stock; a refused release alone a count out of step.
        let guard = match s.take == 0 && s.release > 0 {
            true => OrderGuard::Reserved(product_id),
            false => OrderGuard::Stock(product_id),
        };
        tx.update(
            stock_shard(c, product_id, shard),
            &format!("SET {} ADD moves :one", set.join(", ")),
            Some(&condition.join(" AND ")),
            HashMap::new(),
            vals,
            Guard::Rule(guard),
        )?;
    }
    Ok(())
}

/// The refusal, by priority: a claim first (a retried request is answered as a retry,
/// not as short stock or a taken number), then the order's own guard, then stock and cap.
fn reject(plan: &EffectPlan, failed: &[Failed<OrderGuard>]) -> CommitError {
    let has = |g: fn(&OrderGuard) -> bool| failed.iter().find(|f| g(&f.guard));
    let rejected = CommitError::Rejected;
    if has(|g| matches!(g, OrderGuard::Idempotency)).is_some() {
        return rejected(CommitRejection::IdempotencyKeyTaken);
    }
    if has(|g| matches!(g, OrderGuard::Origin)).is_some() {
        return rejected(CommitRejection::OriginTaken);
    }
    if has(|g| matches!(g, OrderGuard::OrderNumber)).is_some() {
        return rejected(CommitRejection::OrderNumberTaken(plan.order().order_number.clone()));
    }
    if has(|g| matches!(g, OrderGuard::Parent)).is_some() {
        return rejected(CommitRejection::ParentMoved);
    }
    if has(|g| matches!(g, OrderGuard::Order)).is_some() {
        return CommitError::Failed(Error::internal("order id collision"));
    }
    if let Some(f) = has(|g| matches!(g, OrderGuard::Change)) {
        // The order as it is now, from the failed condition's ALL_OLD image.
        let current = f.old.as_ref().and_then(|old| {
            let status = old
                .get("status")
                .and_then(|v| v.as_s().ok())
                .and_then(|s| OrderStatus::parse(s))?;
            let version = old
                .get("version")
                .and_then(|v| v.as_n().ok())
                .and_then(|s| s.parse::<u64>().ok())?;
            Some((status, version))
        });
        return rejected(CommitRejection::OrderMoved { current });
    }
    match stock_cap_rejection(failed) {
        Some(r) => rejected(r),
        None => CommitError::Failed(Error::internal("the transaction was refused without a reason")),
    }
}
