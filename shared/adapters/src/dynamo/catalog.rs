//! Products, SKU claims, customers and their price lists.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

use oms_domain::audit::AuditEntry;
use oms_domain::catalog::{customer_number, pick_shards, Customer, PriceOverride, Product, Sku, StockLevel, MAX_STOCK};
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, ProductId};
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{CatalogStore, CustomerStore, InventoryHealth, Page, PageRequest, ProductFilter, StockAdjust};
use oms_domain::usecases::catalog::version_conflict;

use super::keys::{self, *};
use super::reads::Segment;
use super::tx::{n, Guard, Tx};
use super::{
    av_s, from_item, key_of, names, sdk_error, to_item, values, DynamoStore, Item, INDEX_MOVES, NOT_EXISTS,
    PRODUCT_DERIVED,
};

/// How many times a stock write is re-read and re-derived after a sale moved the stock.
const STOCK_REBASES: usize = 12;

/// The sort keys of low products on the company's threshold: stock 1 to the threshold
/// (`None` when the threshold is 0: none is low).
fn default_low_range(threshold: u32) -> Option<(String, String)> {
    (threshold > 0).then(|| (pad_stock(1), format!("{}$", pad_stock(threshold))))
}

/// The sort keys of low products with their own threshold: stock minus threshold <= 0
/// (out-of-stock products are in their own partition).
fn own_low_range() -> (String, String) {
    ("0".to_owned(), format!("{}$", pad_margin(0)))
}

#[derive(Clone, Debug)]
enum CatalogGuard {
    Sku,
    Version,
    /// One product's stock in a bulk change.
    Stock(ProductId),
    Customer,
}

impl DynamoStore {
    /// `q`: one query of the term index, the products it names in one `BatchGetItem`,
    /// then the other filters on that page.
    async fn search_products(
        &self,
        c: &CompanyId,
        q: &str,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression(format!("{GSI1PK} = :pk AND begins_with({GSI1SK}, :p)"))
            .expression_attribute_values(":pk", av_s(product_terms(c)))
            .expression_attribute_values(":p", av_s(q));
        let Page { items: rows, next } = self.page_rows(c, query, page).await?;
        let ids = Self::term_hits(&rows, q)
            .iter()
            .map(|id| ProductId::parse(id))
            .collect::<Result<Vec<_>, _>>()?;
        let found = self.get_products(c, &ids).await?;
        let category = filter.category.as_ref().map(|x| x.to_lowercase());
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(p) = found.get(&id) else {
                continue;
            };
            let in_category = category.is_none() || p.category.as_ref().map(|x| x.to_lowercase()) == category;
            if in_category && (!filter.active_only || p.active) && (!filter.in_stock_only || p.in_stock()) {
                items.push(p.clone());
            }
        }
        Ok(Page { items, next })
    }

    /// The actions of a product change: the product (only if still at `before`'s version,
    /// and stock when its index entries or stock change), its SKU claim moved, and its
    /// search terms. `product` guards the product's write, `sku` the new SKU's claim.
    pub(super) fn product_update_actions<T: Clone>(
        tx: &mut Tx<T>,
        before: &Product,
        after: &Product,
        product_guard: T,
        sku_guard: T,
    ) -> Result<(), Error> {
        let c = &before.company_id;
        let mut set = vec!["#version = :version".to_owned(), "#updated_at = :updated_at".to_owned()];
        let mut remove = Vec::new();
        let mut nm = names([("#version", "version"), ("#updated_at", "updated_at")]);
        let mut vals = values([
            (":version", n(after.version)),
            (
                ":updated_at",
                av_s(after.updated_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            ),
            (":expected", n(before.version)),
        ]);
        for (i, (field, value)) in crate::changed_fields(before, after).into_iter().enumerate() {
            set.push(format!("#f{i} = :f{i}"));
            nm.insert(format!("#f{i}"), field);
            vals.insert(
                format!(":f{i}"),
                serde_dynamo::to_attribute_value(value).map_err(Error::internal)?,
            );
        }
        let sku_changed = before.sku.key() != after.sku.key();
        if sku_changed || before.category != after.category {
            set.push(format!("{GSI1SK} = :gsi1sk"));
            vals.insert(":gsi1sk".into(), av_s(after.sku.key()));
            match &after.category {
                Some(cat) => {
                    set.push(format!("{GSI2PK} = :gsi2pk, {GSI2SK} = :gsi1sk"));
                    vals.insert(":gsi2pk".into(), av_s(products_in_category(c, cat)));
                }
                None => remove.extend([GSI2PK, GSI2SK]),
            }
        }
        let index = Self::derived_index(after);
        let reindex = index != Self::derived_index(before);
        if reindex {
            Self::set_index(&index, &mut set, &mut remove, &mut vals);
        }
        // A stock set is conditional on every shard being as read (a sale in between
        // wins); index entries derived from the stock are written only from a read at
        // least as recent as the last ones written (see `reindex_product`).
        let moves = Self::shard_update_actions(tx, before, after, product_guard.clone())?;
        Self::level_actions(tx, Some(before), after, moves)?;
        let condition = if after.stock != before.stock || after.stock_shards != before.stock_shards || reindex {
            set.push(format!("{INDEX_MOVES} = :moves"));
            vals.insert(":moves".into(), n(moves));
            "#version = :expected AND (attribute_not_exists(index_moves) OR index_moves <= :moves)"
        } else {
            "#version = :expected"
        };
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        tx.update(
            product(c, before.id),
            &expr,
            Some(condition),
            nm,
            vals,
            Guard::Rule(product_guard.clone()),
        )?;
        if sku_changed {
            tx.delete(
                sku_claim(c, &before.sku.key()),
                "product_id = :pid",
                values([(":pid", av_s(before.id.to_string()))]),
                Guard::Rule(product_guard),
            )?;
            tx.put(
                sku_claim(c, &after.sku.key()),
                values([("product_id", av_s(after.id.to_string())), (TYPE, av_s("SKU"))]),
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(sku_guard),
            )?;
        }
        Self::put_terms(tx, Some(before), after)
    }

    /// The actions of a new product: the product (not exists), its SKU claim (not
    /// exists; `sku` guards it) and its search terms.
    pub(super) fn product_create_actions<T: Clone>(
        tx: &mut Tx<T>,
        p: &Product,
        product_guard: T,
        sku_guard: T,
    ) -> Result<(), Error> {
        tx.put(
            product(&p.company_id, p.id),
            Self::product_item(p)?,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(product_guard.clone()),
        )?;
        Self::shard_create_actions(tx, p, product_guard)?;
        Self::level_actions(tx, None, p, 0)?;
        tx.put(
            sku_claim(&p.company_id, &p.sku.key()),
            values([("product_id", av_s(p.id.to_string())), (TYPE, av_s("SKU"))]),
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(sku_guard),
        )?;
        Self::put_terms(tx, None, p)
    }

    async fn update_product_once(&self, before: &Product, after: &Product, audit: &AuditEntry) -> Result<(), Error> {
        let c = &before.company_id;
        let mut tx = Tx::new(&self.table);
        Self::product_update_actions(&mut tx, before, after, CatalogGuard::Version, CatalogGuard::Sku)?;
        Self::count_products(&mut tx, c, i64::from(after.counted()) - i64::from(before.counted()))?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.iter().any(|f| matches!(f.guard, CatalogGuard::Sku)) => Err(Error::Conflict {
                code: "duplicate_sku",
                message: format!("SKU {} is already used by another product", after.sku),
            }),
            Err(_) => {
                // Another edit (a new version), or a shard moved by a sale since the read.
                match self.get_product(c, before.id).await? {
                    Some(current) if current.version != before.version => Err(version_conflict(&current)),
                    Some(current) => Err(Error::StockChanged {
                        current_stock: current.stock,
                    }),
                    None => Err(Error::not_found("product", before.id)),
                }
            }
        }
    }

    /// How many entries of a stock-level partition (within `range` of sort keys), by
    /// `Select=COUNT` pages: the entries counted, never the products above them.
    async fn count_level(&self, partition: String, range: Option<(String, String)>) -> Result<u64, Error> {
        let mut total = 0u64;
        for k in 0..INDEX_SHARDS {
            total += self.count_partition(sharded(&partition, k), range.clone()).await?;
        }
        Ok(total)
    }

    /// [`DynamoStore::count_level`] of one of its partitions.
    async fn count_partition(&self, partition: String, range: Option<(String, String)>) -> Result<u64, Error> {
        let (query, vals) = Self::level_query(partition, range);
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ATTENTION)
                .key_condition_expression(query.clone())
                .set_expression_attribute_values(Some(vals.clone()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            total += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    /// A page of the products whose level entries are in `segments` (one after another,
    /// each partition's shards merged), in entry order.
    async fn level_page(
        &self,
        c: &CompanyId,
        segments: &[Segment],
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        #[derive(serde::Deserialize)]
        struct Entry {
            // `id`: a product item that carried its level entry before the entries had
            // items of their own.
            #[serde(alias = "id")]
            product_id: ProductId,
        }
        let entries: Page<Entry> = self
            .fill(c, segments, true, &Default::default(), &|_: &Entry| true, page)
            .await?;
        let ids: Vec<ProductId> = entries.items.iter().map(|e| e.product_id).collect();
        let mut found = self.get_products(c, &ids).await?;
        Ok(Page {
            items: ids.iter().filter_map(|id| found.remove(id)).collect(),
            next: entries.next,
        })
    }

    fn level_segment(partition: String, range: Option<(String, String)>) -> Segment {
        let seg = Segment::on(ATTENTION, ATTENTION_PK, ATTENTION_SK, partition).across();
        match range {
            Some((lo, hi)) => seg.range(Some(lo), Some(hi)),
            None => seg,
        }
    }

    fn level_query(partition: String, range: Option<(String, String)>) -> (String, Item) {
        let mut vals = values([(":pk", av_s(partition))]);
        let query = match range {
            Some((lo, hi)) => {
                vals.insert(":lo".into(), av_s(lo));
                vals.insert(":hi".into(), av_s(hi));
                format!("{ATTENTION_PK} = :pk AND {ATTENTION_SK} BETWEEN :lo AND :hi")
            }
            None => format!("{ATTENTION_PK} = :pk"),
        };
        (query, vals)
    }

    /// Moves the count of products inventory health counts, in the product's write.
    pub(super) fn count_products<T: Clone>(tx: &mut Tx<T>, c: &CompanyId, by: i64) -> Result<(), Error> {
        if by == 0 {
            return Ok(());
        }
        tx.update(
            catalog_counts(c),
            "ADD counted :by",
            None,
            HashMap::new(),
            values([(":by", n(by))]),
            Guard::None,
        )
    }

    /// `SET`s the index attributes `index` lists and `REMOVE`s the other derived ones.
    fn set_index(
        index: &[(&'static str, AttributeValue)],
        set: &mut Vec<String>,
        remove: &mut Vec<&'static str>,
        vals: &mut Item,
    ) {
        for (i, (attr, value)) in index.iter().enumerate() {
            set.push(format!("{attr} = :ix{i}"));
            vals.insert(format!(":ix{i}"), value.clone());
        }
        remove.extend(PRODUCT_DERIVED.iter().filter(|a| !index.iter().any(|(b, _)| b == *a)));
    }

    /// Sets `p`'s stock to `to` (every shard, each only if still as read) with the
    /// index attributes that follow, only if the product is still at the version read (so
    /// the same SKU, category, threshold and active flag the attributes are derived from).
    fn stock_write(
        tx: &mut Tx<CatalogGuard>,
        p: &Product,
        to: u32,
        audit: &AuditEntry,
        guard: CatalogGuard,
    ) -> Result<(), Error> {
        let after = Product { stock: to, ..p.clone() };
        let moves = Self::shard_update_actions(tx, p, &after, guard.clone())?;
        Self::level_actions(tx, Some(p), &after, moves)?;
        let mut set = vec![
            "stock = :to".to_owned(),
            "updated_at = :now".to_owned(),
            format!("{INDEX_MOVES} = :moves"),
        ];
        let mut remove = Vec::new();
        let mut vals = values([
            (":to", n(to)),
            (":moves", n(moves)),
            (":version", n(p.version)),
            (
                ":now",
                av_s(audit.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            ),
        ]);
        Self::set_index(&Self::derived_index(&after), &mut set, &mut remove, &mut vals);
        tx.update(
            product(&p.company_id, p.id),
            &Self::set_remove(&set, &remove),
            Some("#version = :version"),
            names([("#version", "version")]),
            vals,
            Guard::Rule(guard),
        )
    }

    fn set_remove(set: &[String], remove: &[&str]) -> String {
        match remove.is_empty() {
            true => format!("SET {}", set.join(", ")),
            false => format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")),
        }
    }

    /// The product's search-term entries after a write (see [`DynamoStore::write_terms`]).
    pub(super) fn put_terms<T: Clone>(tx: &mut Tx<T>, before: Option<&Product>, after: &Product) -> Result<(), Error> {
        let c = &after.company_id;
        Self::write_terms(
            tx,
            &before.map(Product::search_terms).unwrap_or_default(),
            &after.search_terms(),
            |t| product_term(c, after.id, t),
            &product_terms(c),
            &after.id.to_string(),
        )
    }

    /// A record's search-term entries after a write: entries for terms it no longer has
    /// are deleted, and every entry is rewritten when the terms change (each carries them
    /// all). Nothing is written when they did not change.
    fn write_terms<T: Clone>(
        tx: &mut Tx<T>,
        old: &std::collections::BTreeSet<String>,
        new: &std::collections::BTreeSet<String>,
        key: impl Fn(&str) -> (String, String),
        partition: &str,
        record: &str,
    ) -> Result<(), Error> {
        if old == new {
            return Ok(());
        }
        for gone in old.difference(new) {
            // A record written before search terms existed has none to delete.
            tx.delete(
                key(gone),
                "attribute_exists(PK) OR attribute_not_exists(PK)",
                Item::new(),
                Guard::None,
            )?;
        }
        for term in new {
            tx.put(
                key(term),
                Self::term_entry(partition.to_owned(), record, term, new),
                None,
                Guard::None,
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn create_product(&self, p: &Product, audit: &AuditEntry) -> Result<(), Error> {
        let mut tx = Tx::new(&self.table);
        Self::product_create_actions(&mut tx, p, CatalogGuard::Version, CatalogGuard::Sku)?;
        Self::count_products(&mut tx, &p.company_id, i64::from(p.counted()))?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.iter().any(|f| matches!(f.guard, CatalogGuard::Sku)) => Err(Error::Conflict {
                code: "duplicate_sku",
                message: format!("SKU {} is already used by another product", p.sku),
            }),
            Err(_) => Err(Error::internal("product id collision")),
        }
    }

    async fn get_product(&self, company: &CompanyId, id: ProductId) -> Result<Option<Product>, Error> {
        Ok(self.get_products(company, &[id]).await?.remove(&id))
    }

    async fn update_product(&self, before: &Product, after: &Product, audit: &AuditEntry) -> Result<(), Error> {
        // The index attributes depend on the stock, so they are written only against the
        // stock they were derived from. An edit that does not set the stock is re-derived
        // from the stock a sale left, and written again.
        let (mut before, mut after) = (before.clone(), after.clone());
        for _ in 0..STOCK_REBASES {
            match self.update_product_once(&before, &after, audit).await {
                Err(Error::StockChanged { .. }) if before.stock == after.stock => {
                    let current = self
                        .get_product(&before.company_id, before.id)
                        .await?
                        .ok_or_else(|| Error::not_found("product", before.id))?;
                    (before.stock, before.shards) = (current.stock, current.shards.clone());
                    (after.stock, after.shards) = (current.stock, current.shards);
                }
                done => return done,
            }
        }
        Err(Error::Contention)
    }
    async fn adjust_stock(
        &self,
        c: &CompanyId,
        id: ProductId,
        delta: i64,
        audit: &AuditEntry,
        event: &OutboxEvent,
    ) -> Result<StockAdjust, Error> {
        // Conditional ADDs on the shards: never below 0, never above the maximum, and a
        // sale at the same moment never conflicts with them (a shard it emptied first is
        // read again). The index entries follow from the event.
        for attempt in 0..STOCK_REBASES {
            let p = self
                .get_product(c, id)
                .await?
                .ok_or_else(|| Error::not_found("product", id))?;
            let stocks: Vec<u32> = p.shards.iter().map(|s| s.stock).collect();
            let mut tx = Tx::new(&self.table);
            if delta > 0 {
                if i64::from(p.stock) + delta > i64::from(MAX_STOCK) {
                    return Ok(StockAdjust::OverMax { current: p.stock });
                }
                // Into the emptiest shard, within the maximum for the total as read.
                let (k, s) = (0u32..)
                    .zip(stocks.iter().copied())
                    .min_by_key(|(_, s)| *s)
                    .unwrap_or((0, 0));
                let ceiling = i64::from(MAX_STOCK) - delta - (i64::from(p.stock) - i64::from(s));
                tx.update(
                    stock_shard(c, id, k),
                    "SET stock = stock + :d ADD moves :one",
                    Some("attribute_exists(PK) AND stock <= :ceiling"),
                    HashMap::new(),
                    values([(":d", n(delta)), (":ceiling", n(ceiling.max(0))), (":one", n(1))]),
                    Guard::Rule(CatalogGuard::Version),
                )?;
            } else {
                let out = u32::try_from(-delta).unwrap_or(u32::MAX);
                let Some(picks) = pick_shards(&stocks, out, u64::try_from(attempt).unwrap_or(0)) else {
                    return Ok(StockAdjust::Short { current: p.stock });
                };
                for (k, q) in picks {
                    tx.update(
                        stock_shard(c, id, k),
                        "SET stock = stock - :q ADD moves :one",
                        Some("stock >= :q"),
                        HashMap::new(),
                        values([(":q", n(q)), (":one", n(1))]),
                        Guard::Rule(CatalogGuard::Version),
                    )?;
                }
            }
            tx.update(
                product(c, id),
                "SET updated_at = :now",
                Some("attribute_exists(PK)"),
                HashMap::new(),
                values([(
                    ":now",
                    av_s(audit.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                )]),
                Guard::Rule(CatalogGuard::Version),
            )?;
            Self::audit_put(&mut tx, audit)?;
            Self::outbox_put(&mut tx, event)?;
            if tx.commit(&self.client).await?.is_ok() {
                return Ok(StockAdjust::Applied);
            }
        }
        Err(Error::Contention)
    }

    async fn set_stock(
        &self,
        c: &CompanyId,
        id: ProductId,
        expected: u32,
        to: u32,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        for _ in 0..STOCK_REBASES {
            let p = self
                .get_product(c, id)
                .await?
                .ok_or_else(|| Error::not_found("product", id))?;
            if p.stock != expected {
                return Err(Error::StockChanged { current_stock: p.stock });
            }
            let mut tx = Tx::new(&self.table);
            Self::stock_write(&mut tx, &p, to, audit, CatalogGuard::Version)?;
            Self::audit_put(&mut tx, audit)?;
            if tx.commit(&self.client).await?.is_ok() {
                return Ok(());
            }
        }
        Err(Error::Contention)
    }

    async fn get_products(&self, c: &CompanyId, ids: &[ProductId]) -> Result<HashMap<ProductId, Product>, Error> {
        // Each product with its first stock shard in one batch; a hot product's other
        // shards in a second.
        let mut found = self
            .batch_get(
                ids.iter()
                    .flat_map(|id| [product(c, *id), stock_shard(c, *id, 0)])
                    .collect(),
            )
            .await?;
        let mut products = ids
            .iter()
            .filter_map(|id| found.remove(&product(c, *id)))
            .map(from_item::<Product>)
            .collect::<Result<Vec<_>, _>>()?;
        self.attach_stock(&mut products, &mut found).await?;
        Ok(products.into_iter().map(|p| (p.id, p)).collect())
    }

    async fn set_stocks(
        &self,
        c: &CompanyId,
        changes: &[(ProductId, u32, u32)],
        audit: &AuditEntry,
    ) -> Result<Result<(), Vec<(ProductId, Option<u32>)>>, Error> {
        let ids: Vec<ProductId> = changes.iter().map(|(id, _, _)| *id).collect();
        let read = self.get_products(c, &ids).await?;
        let mut tx = Tx::new(&self.table);
        let mut moved = Vec::new();
        for (id, expected, to) in changes {
            match read.get(id) {
                Some(p) if p.stock == *expected => Self::stock_write(&mut tx, p, *to, audit, CatalogGuard::Stock(*id))?,
                p => moved.push((*id, p.map(|p| p.stock))),
            }
        }
        if !moved.is_empty() {
            return Ok(Err(moved));
        }
        Self::audit_put(&mut tx, audit)?;
        let failed = match tx.commit(&self.client).await? {
            Ok(()) => return Ok(Ok(())),
            Err(failed) => failed,
        };
        // The products a failed condition names, with their stock now.
        let mut ids: Vec<ProductId> = failed
            .iter()
            .filter_map(|f| match f.guard {
                CatalogGuard::Stock(id) => Some(id),
                _ => None,
            })
            .collect();
        ids.dedup();
        let now = self.get_products(c, &ids).await?;
        Ok(Err(ids
            .into_iter()
            .map(|id| (id, now.get(&id).map(|p| p.stock)))
            .collect()))
    }

    async fn list_products(
        &self,
        company: &CompanyId,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        if let Some(q) = &filter.q {
            return self.search_products(company, q, filter, page).await;
        }
        // Each combination of the category, `active` and `in_stock` filters is an index
        // partition of its own (see `derived_index`): every page is full.
        let cat = filter.category.as_deref();
        let (index, pk_attr, pk) = match (cat, filter.active_only, filter.in_stock_only) {
            (_, _, true) => {
                let (index, attr) = match (cat.is_some(), filter.active_only) {
                    (false, false) => (BY_TOTAL, BY_TOTAL_PK),
                    (false, true) => (BY_DUE, BY_DUE_PK),
                    (true, false) => (CU_TOTAL, CU_TOTAL_PK),
                    (true, true) => (CU_ATTENTION, CU_ATTENTION_PK),
                };
                (index, attr, products_in_stock(company, cat, filter.active_only))
            }
            (Some(cat), true, false) => (BY_REP, BY_REP_PK, products_active_in_category(company, cat)),
            (None, true, false) => (BY_STATUS, BY_STATUS_PK, products_active(company)),
            (Some(cat), false, false) => (GSI2, GSI2PK, products_in_category(company, cat)),
            (None, false, false) => (GSI1, GSI1PK, products_by_sku(company)),
        };
        let vals = values([(":pk", av_s(pk))]);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("{pk_attr} = :pk"))
            .set_expression_attribute_values(Some(vals));
        self.product_page(company, query, page).await
    }

    async fn find_skus(&self, company: &CompanyId, skus: &[Sku]) -> Result<HashMap<String, ProductId>, Error> {
        let found = self
            .batch_get(skus.iter().map(|s| sku_claim(company, &s.key())).collect())
            .await?;
        let mut out = HashMap::new();
        for s in skus {
            if let Some(AttributeValue::S(id)) = found
                .get(&sku_claim(company, &s.key()))
                .and_then(|i| i.get("product_id"))
            {
                out.insert(s.key(), ProductId::parse(id)?);
            }
        }
        Ok(out)
    }

    async fn inventory_health(&self, c: &CompanyId, default_threshold: u32) -> Result<InventoryHealth, Error> {
        let counted = self
            .get(catalog_counts(c))
            .await?
            .and_then(|i| i.get("counted")?.as_n().ok()?.parse::<i64>().ok())
            .unwrap_or(0);
        let out = self.count_level(stock_level_out(c), None).await?;
        let mut low = self.count_level(stock_level_own(c), Some(own_low_range())).await?;
        if let Some(range) = default_low_range(default_threshold) {
            low += self.count_level(stock_level_default(c), Some(range)).await?;
        }
        Ok(InventoryHealth {
            healthy: u64::try_from(counted).unwrap_or(0).saturating_sub(low + out),
            low,
            out,
        })
    }

    async fn products_at_level(
        &self,
        c: &CompanyId,
        level: StockLevel,
        default_threshold: u32,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        match level {
            StockLevel::Healthy => Err(Error::invalid("level", "healthy products are not listed")),
            StockLevel::Out => {
                self.level_page(c, &[Self::level_segment(stock_level_out(c), None)], page)
                    .await
            }
            // Those on the company's threshold, then those with their own.
            StockLevel::Low => {
                let mut segments = Vec::new();
                if let Some(range) = default_low_range(default_threshold) {
                    segments.push(Self::level_segment(stock_level_default(c), Some(range)));
                }
                segments.push(Self::level_segment(stock_level_own(c), Some(own_low_range())));
                self.level_page(c, &segments, page).await
            }
        }
    }

    async fn reindex_product(&self, c: &CompanyId, id: ProductId) -> Result<bool, Error> {
        // One attempt. The entries are written only if no later read's were (the shards'
        // write count only grows) and the product is at the version read: a write that
        // loses was overtaken by a newer reindex or a product write, whose entries stand,
        // so a hot product's reindexes never queue up behind each other.
        let mut found = self
            .batch_get(vec![product(c, id), stock_shard(c, id, 0), stock_level_entry(c, id)])
            .await?;
        let Some(item) = found.remove(&product(c, id)) else {
            return Ok(false);
        };
        let level = found.remove(&stock_level_entry(c, id));
        let mut p = [from_item::<Product>(item.clone())?];
        self.attach_stock(&mut p, &mut found).await?;
        let [p] = p;
        let rebalanced = self.rebalance_shards(&p).await?;
        let moves = super::stock::moves(&p);
        let mut tx = Tx::new(&self.table);
        // The level entry (most sales move it): its own small item.
        let want = Self::level_entry(&p);
        let attr = |a: &str| level.as_ref().and_then(|l| l.get(a)?.as_s().ok().cloned());
        let stored_level = attr(ATTENTION_PK).zip(attr(ATTENTION_SK));
        if want != stored_level {
            Self::write_level(&mut tx, &p, want, moves, Guard::Rule(CatalogGuard::Version))?;
        }
        // The product item's own entries (in stock, active): only when they change.
        let index: HashMap<&str, AttributeValue> = Self::derived_index(&p).into_iter().collect();
        let stored: HashMap<&str, AttributeValue> = PRODUCT_DERIVED
            .iter()
            .filter_map(|a| item.get(*a).map(|v| (*a, v.clone())))
            .collect();
        if index == stored {
            if tx.len() == 0 {
                return Ok(rebalanced);
            }
            return Ok(tx.commit(&self.client).await?.is_ok() || rebalanced);
        }
        let mut set = vec![
            "#version = #version".to_owned(),
            "stock = :stock".to_owned(),
            format!("{INDEX_MOVES} = :moves"),
        ];
        let mut remove = Vec::new();
        let mut vals = values([(":stock", n(p.stock)), (":moves", n(moves)), (":version", n(p.version))]);
        Self::set_index(&Self::derived_index(&p), &mut set, &mut remove, &mut vals);
        tx.update(
            product(c, id),
            &Self::set_remove(&set, &remove),
            Some("#version = :version AND (attribute_not_exists(index_moves) OR index_moves <= :moves)"),
            names([("#version", "version")]),
            vals,
            Guard::Rule(CatalogGuard::Version),
        )?;
        Ok(tx.commit(&self.client).await?.is_ok() || rebalanced)
    }
}

impl DynamoStore {
    fn customer_item(customer: &Customer) -> Result<Item, Error> {
        let c = &customer.company_id;
        let mut item = to_item(customer)?;
        item.insert(TYPE.into(), av_s("CUSTOMER"));
        item.insert(GSI1PK.into(), av_s(customers_by_number(c)));
        item.insert(GSI1SK.into(), av_s(customer.customer_number.clone()));
        // Found by e-mail too (a webhook order's customer).
        if let Some(email) = &customer.email {
            item.insert(GSI2PK.into(), av_s(customers_by_email(c, email)));
            item.insert(GSI2SK.into(), av_s(customer.id.to_string()));
        }
        Ok(item)
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn list_customers(
        &self,
        c: &CompanyId,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Customer>, Error> {
        let query = self.client.query().table_name(&self.table).index_name(GSI1);
        let query = match prefix {
            None => query
                .key_condition_expression(format!("{GSI1PK} = :pk"))
                .expression_attribute_values(":pk", av_s(customers_by_number(c))),
            Some(p) => query
                .key_condition_expression(format!("{GSI1PK} = :pk AND begins_with({GSI1SK}, :p)"))
                .expression_attribute_values(":pk", av_s(customer_terms(c)))
                .expression_attribute_values(":p", av_s(p)),
        };
        let Page { items: rows, next } = self.page_rows(c, query, page).await?;
        let items = match prefix {
            None => rows.into_iter().map(from_item).collect::<Result<_, _>>()?,
            Some(_) => {
                // Term entries: the customers they name, once each, in term order.
                let ids = Self::term_hits(&rows, prefix.unwrap_or_default())
                    .iter()
                    .map(|id| CustomerId::parse(id))
                    .collect::<Result<Vec<_>, _>>()?;
                let found = self
                    .batch_get(ids.iter().map(|id| keys::customer(c, *id)).collect())
                    .await?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(item) = found.get(&keys::customer(c, id)) {
                        out.push(from_item::<Customer>(item.clone())?);
                    }
                }
                out
            }
        };
        Ok(Page { items, next })
    }

    async fn update_customer(&self, before: &Customer, after: &Customer, audit: &AuditEntry) -> Result<(), Error> {
        let c = &after.company_id;
        let mut tx = Tx::new(&self.table);
        tx.put(
            keys::customer(c, after.id),
            Self::customer_item(after)?,
            Some(("version = :v", values([(":v", n(before.version))]))),
            Guard::Rule(CatalogGuard::Version),
        )?;
        Self::write_terms(
            &mut tx,
            &before.search_terms(),
            &after.search_terms(),
            |t| customer_term(c, after.id, t),
            &customer_terms(c),
            &after.id.to_string(),
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::Conflict {
                code: "version_conflict",
                message: format!("customer {} changed meanwhile; reload and retry", before.id),
            }),
        }
    }

    async fn price_list(
        &self,
        c: &CompanyId,
        id: CustomerId,
        page: &PageRequest,
    ) -> Result<Page<PriceOverride>, Error> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", av_s(keys::customer(c, id).0))
            .expression_attribute_values(":prefix", av_s(PRICE_PREFIX));
        self.one_page(c, query, page).await
    }

    async fn delete_price_override(
        &self,
        c: &CompanyId,
        customer: CustomerId,
        product: ProductId,
        audit: &AuditEntry,
    ) -> Result<bool, Error> {
        let mut tx = Tx::new(&self.table);
        tx.delete(
            price_override(c, customer, product),
            "attribute_exists(PK)",
            Item::new(),
            Guard::Rule(CatalogGuard::Customer),
        )?;
        Self::audit_put(&mut tx, audit)?;
        Ok(tx.commit(&self.client).await?.is_ok())
    }

    async fn create_customer(&self, mut customer: Customer, audit: &AuditEntry) -> Result<Customer, Error> {
        let c = customer.company_id.clone();
        // The number is drawn first; a failed create leaves a gap, never a duplicate.
        let seq = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(customer_sequence(&c))))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?
            .attributes
            .and_then(|a| {
                a.get("seq")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|s| s.parse::<u64>().ok())
            })
            .ok_or_else(|| Error::internal("customer sequence returned no number"))?;
        customer.customer_number = customer_number(seq);
        let mut tx = Tx::new(&self.table);
        tx.put(
            keys::customer(&c, customer.id),
            Self::customer_item(&customer)?,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(CatalogGuard::Customer),
        )?;
        Self::write_terms(
            &mut tx,
            &Default::default(),
            &customer.search_terms(),
            |t| customer_term(&c, customer.id, t),
            &customer_terms(&c),
            &customer.id.to_string(),
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(customer),
            Err(_) => Err(Error::internal("customer id collision")),
        }
    }

    async fn get_customer(&self, company: &CompanyId, id: CustomerId) -> Result<Option<Customer>, Error> {
        self.get(keys::customer(company, id)).await?.map(from_item).transpose()
    }

    async fn price_overrides(&self, company: &CompanyId, id: CustomerId) -> Result<Vec<PriceOverride>, Error> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", av_s(keys::customer(company, id).0))
            .expression_attribute_values(":prefix", av_s(PRICE_PREFIX));
        self.query_all(query).await
    }

    async fn put_price_override(
        &self,
        company: &CompanyId,
        o: &PriceOverride,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        let mut tx = Tx::new(&self.table);
        tx.check(
            keys::customer(company, o.customer_id),
            "attribute_exists(PK)",
            Guard::Rule(CatalogGuard::Customer),
        )?;
        let mut item = to_item(o)?;
        item.insert(TYPE.into(), av_s("PRICE"));
        tx.put(
            price_override(company, o.customer_id, o.product_id),
            item,
            None,
            Guard::None,
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::not_found("customer", o.customer_id)),
        }
    }
}
