//! Stock shards: a product's stock lives in items of its own ([`keys::stock_shard`]), one
//! for most products and several for a hot one, so orders never write the product item
//! (which sits in eight catalog index partitions) and a flash sale's orders spread over
//! as many partitions as the product has shards. Every read adds the shards up.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use oms_domain::catalog::{pick_shards, split_stock, Product, StockShard};
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, ProductId};
use oms_domain::plan::StockMove;
use oms_domain::ports::CommitRejection;

use super::keys::{self, stock_level_entry, stock_shard, ATTENTION_PK, ATTENTION_SK};
use super::tx::{n, Guard, Tx};
use super::{av_s, values, DynamoStore, Item, NOT_EXISTS};

/// The keys of a product's shards.
pub(super) fn shard_keys(p: &Product) -> impl Iterator<Item = (String, String)> + '_ {
    (0..p.stock_shards.max(1)).map(move |k| stock_shard(&p.company_id, p.id, k))
}

fn number<T: std::str::FromStr + Default>(item: &Item, attr: &str) -> T {
    item.get(attr)
        .and_then(|v| v.as_n().ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// The sum of the shards' write counts: it only grows, so of two reads of a product the
/// later one never has the smaller sum.
pub(super) fn moves(p: &Product) -> u64 {
    p.shards.iter().map(|s| s.moves).sum()
}

fn shard_item(p: &Product, stock: u32, moves: u64) -> Item {
    values([
        (keys::TYPE, av_s("STOCK")),
        ("product_id", av_s(p.id.to_string())),
        ("stock", n(stock)),
        ("active", AttributeValue::Bool(p.active)),
        ("moves", n(moves)),
    ])
}

impl DynamoStore {
    /// Sets each product's `stock` to the sum of its shard items, and `shards` to them:
    /// those `found` already holds (a batch read that asked for them too), the rest in one
    /// `BatchGetItem`.
    pub(super) async fn attach_stock(
        &self,
        products: &mut [Product],
        found: &mut HashMap<(String, String), Item>,
    ) -> Result<(), Error> {
        let missing: Vec<_> = products
            .iter()
            .flat_map(shard_keys)
            .filter(|k| !found.contains_key(k))
            .collect();
        if !missing.is_empty() {
            found.extend(self.batch_get(missing).await?);
        }
        for p in products.iter_mut() {
            let shards: Vec<StockShard> = shard_keys(p)
                .map(|k| match found.get(&k) {
                    Some(item) => StockShard {
                        stock: number(item, "stock"),
                        moves: number(item, "moves"),
                    },
                    None => StockShard::default(),
                })
                .collect();
            let total: u64 = shards.iter().map(|s| u64::from(s.stock)).sum();
            p.stock = u32::try_from(total).unwrap_or(u32::MAX);
            // Reservations count on the first shard (see `StockMove::Hold`).
            let first = shard_keys(p).next();
            p.reserved = first
                .and_then(|k| found.get(&k))
                .map_or(0, |item| number(item, "reserved"));
            p.shards = shards;
        }
        Ok(())
    }

    /// Products as read from their items, with their stock.
    pub(super) async fn with_stock(&self, items: Vec<Item>) -> Result<Vec<Product>, Error> {
        let mut products = items
            .into_iter()
            .map(super::from_item::<Product>)
            .collect::<Result<Vec<_>, _>>()?;
        self.attach_stock(&mut products, &mut HashMap::new()).await?;
        Ok(products)
    }

    /// The shards of a new product: its stock split over them.
    pub(super) fn shard_create_actions<T: Clone>(tx: &mut Tx<T>, p: &Product, guard: T) -> Result<(), Error> {
        for (k, stock) in (0..).zip(split_stock(p.stock, p.stock_shards)) {
            tx.put(
                stock_shard(&p.company_id, p.id, k),
                shard_item(p, stock, 0),
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(guard.clone()),
            )?;
        }
        Ok(())
    }

    /// The shard writes of an edit from `before` (as read, with its shards) to `after`
    /// (see [`oms_domain::catalog::shard_writes`]): a new stock or shard count rewrites
    /// every shard, each only if it has not moved since the read (so no sale in between is
    /// erased), the first carrying the write count on; a new `active` flag alone is set on
    /// each. Returns the write count after.
    pub(super) fn shard_update_actions<T: Clone>(
        tx: &mut Tx<T>,
        before: &Product,
        after: &Product,
        guard: T,
    ) -> Result<u64, Error> {
        let (c, id) = (&before.company_id, before.id);
        let (was, will) = (before.stock_shards.max(1), after.stock_shards.max(1));
        let read = moves(before);
        if before.stock != after.stock || was != will {
            let split = split_stock(after.stock, will);
            for k in 0..was.max(will) {
                let old = before.shards.get(k as usize).copied().unwrap_or_default();
                let moved = values([(":old", n(old.moves))]);
                let carried = if k == 0 { read + 1 } else { 0 };
                let stock = split.get(k as usize).copied().unwrap_or(0);
                if k >= will {
                    tx.delete(stock_shard(c, id, k), "moves = :old", moved, Guard::Rule(guard.clone()))?;
                } else if k >= was {
                    tx.put(
                        stock_shard(c, id, k),
                        shard_item(after, stock, carried),
                        Some((NOT_EXISTS, Item::new())),
                        Guard::Rule(guard.clone()),
                    )?;
                } else {
                    let mut vals = moved;
                    vals.extend(values([
                        (":s", n(stock)),
                        (":a", AttributeValue::Bool(after.active)),
                        (":m", n(carried)),
                    ]));
                    tx.update(
                        stock_shard(c, id, k),
                        "SET stock = :s, active = :a, moves = :m",
                        Some("moves = :old"),
                        HashMap::new(),
                        vals,
                        Guard::Rule(guard.clone()),
                    )?;
                }
            }
            return Ok(read + 1);
        }
        if before.active != after.active {
            for k in 0..was {
                tx.update(
                    stock_shard(c, id, k),
                    "SET active = :a",
                    Some("attribute_exists(PK)"),
                    HashMap::new(),
                    values([(":a", AttributeValue::Bool(after.active))]),
                    Guard::Rule(guard.clone()),
                )?;
            }
        }
        Ok(read)
    }

    /// The stock-level entry after a product write from `before` (`None`: a new product)
    /// to `after` with the shards' write count `moves`: nothing when the entry stays the
    /// same, else [`DynamoStore::write_level`].
    pub(super) fn level_actions<T: Clone>(
        tx: &mut Tx<T>,
        before: Option<&Product>,
        after: &Product,
        moves: u64,
    ) -> Result<(), Error> {
        let want = Self::level_entry(after);
        if before.map(Self::level_entry) == Some(want.clone()) {
            return Ok(());
        }
        Self::write_level(tx, after, want, moves, Guard::None)
    }

    /// Puts (or, when `want` is `None`, deletes) the product's stock-level entry, only if
    /// the one stored was derived from no later read: an older product version and no more
    /// shard writes than `moves`. So two reindexes (or a reindex and an edit) finishing
    /// out of order leave the newer entry.
    ///
    /// `guard` names the condition when losing to a newer write is an outcome the caller
    /// expects (a reindex: the newer entry stands); `Guard::None` makes it an error.
    pub(super) fn write_level<T: Clone>(
        tx: &mut Tx<T>,
        p: &Product,
        want: Option<(String, String)>,
        moves: u64,
        guard: Guard<T>,
    ) -> Result<(), Error> {
        let key = stock_level_entry(&p.company_id, p.id);
        let condition = "attribute_not_exists(PK) OR (product_version <= :v AND index_moves <= :m)";
        let vals = values([(":v", n(p.version)), (":m", n(moves))]);
        match want {
            Some((partition, sort)) => tx.put(
                key,
                values([
                    (keys::TYPE, av_s("LEVEL")),
                    ("product_id", av_s(p.id.to_string())),
                    (ATTENTION_PK, av_s(partition)),
                    (ATTENTION_SK, av_s(sort)),
                    ("product_version", n(p.version)),
                    ("index_moves", n(moves)),
                ]),
                Some((condition, vals)),
                guard,
            ),
            None => tx.delete(key, condition, vals, guard),
        }
    }

    /// After a take lost a shard to another order: the takes spread again over the
    /// shards as they are now, or the refusal (short only when the total is).
    pub(super) async fn repick(
        &self,
        c: &CompanyId,
        moves: &[StockMove],
        seed: u64,
    ) -> Result<Result<Vec<StockMove>, CommitRejection>, Error> {
        let mut need: BTreeMap<ProductId, u32> = BTreeMap::new();
        let mut out = Vec::new();
        for m in moves {
            match *m {
                StockMove::Take {
                    product_id, quantity, ..
                } => {
                    let q = need.entry(product_id).or_default();
                    *q = q.saturating_add(quantity);
                }
                put_back => out.push(put_back),
            }
        }
        let ids: Vec<ProductId> = need.keys().copied().collect();
        let products = oms_domain::ports::CatalogStore::get_products(self, c, &ids).await?;
        let mut short = Vec::new();
        for (id, quantity) in need {
            let p = match products.get(&id) {
                Some(p) if p.active => p,
                _ => return Ok(Err(CommitRejection::ProductUnavailable(id))),
            };
            let stocks: Vec<u32> = p.shards.iter().map(|s| s.stock).collect();
            match pick_shards(&stocks, quantity, seed) {
                Some(picks) => out.extend(picks.into_iter().map(|(shard, quantity)| StockMove::Take {
                    product_id: id,
                    quantity,
                    shard,
                })),
                None => short.push((id, p.stock)),
            }
        }
        Ok(match short.is_empty() {
            true => Ok(out),
            false => Err(CommitRejection::InsufficientStock(short)),
        })
    }

    /// Background rebalance of a hot product's shards (the jobs worker, after its
    /// orders): when one holds less than half its share, half the difference moves to it
    /// from the fullest, in one transaction that takes only what the fullest still has
    /// (a sale at the same moment is never undone). Returns whether it moved stock.
    pub(super) async fn rebalance_shards(&self, p: &Product) -> Result<bool, Error> {
        if p.shards.len() < 2 {
            return Ok(false);
        }
        let share = p.stock / u32::try_from(p.shards.len()).unwrap_or(1);
        let (Some((low, min)), Some((high, max))) = (
            (0u32..).zip(p.shards.iter().map(|s| s.stock)).min_by_key(|(_, s)| *s),
            (0u32..).zip(p.shards.iter().map(|s| s.stock)).max_by_key(|(_, s)| *s),
        ) else {
            return Ok(false);
        };
        if share < 2 || min >= share / 2 {
            return Ok(false);
        }
        let x = (max - min) / 2;
        let mut tx: Tx<()> = Tx::new(&self.table);
        let (c, id) = (&p.company_id, p.id);
        tx.update(
            stock_shard(c, id, high),
            "SET stock = stock - :x ADD moves :one",
            Some("stock >= :x"),
            HashMap::new(),
            values([(":x", n(x)), (":one", n(1))]),
            Guard::Rule(()),
        )?;
        tx.update(
            stock_shard(c, id, low),
            "SET stock = stock + :x ADD moves :one",
            Some("attribute_exists(PK)"),
            HashMap::new(),
            values([(":x", n(x)), (":one", n(1))]),
            Guard::Rule(()),
        )?;
        // A sale took the units first, or the shards changed: nothing moved; the next
        // reindex looks again.
        Ok(tx.commit(&self.client).await?.is_ok())
    }
}
