//! Products, SKU claims, customers and their price lists.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

use oms_domain::audit::AuditEntry;
use oms_domain::catalog::{customer_number, Customer, PriceOverride, Product, Sku, MAX_STOCK};
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, ProductId};
use oms_domain::ports::{CatalogStore, CustomerStore, Page, PageRequest, ProductFilter, StockAdjust};
use oms_domain::usecases::catalog::version_conflict;

use super::keys::{self, *};
use super::tx::{n, Guard, Tx};
use super::{av_s, from_item, key_of, names, sdk_error, to_item, values, DynamoStore, Item, NOT_EXISTS};

/// The stock of a product item as a failed condition saw it.
fn stock_of(old: Option<Item>) -> Option<u32> {
    old?.get("stock")?.as_n().ok()?.parse().ok()
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
        let found = self.batch_get(ids.iter().map(|id| product(c, *id)).collect()).await?;
        let category = filter.category.as_ref().map(|x| x.to_lowercase());
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(item) = found.get(&product(c, id)) else {
                continue;
            };
            let p: Product = from_item(item.clone())?;
            let in_category = category.is_none() || p.category.as_ref().map(|x| x.to_lowercase()) == category;
            if in_category && (!filter.active_only || p.active) && (!filter.in_stock_only || p.stock > 0) {
                items.push(p);
            }
        }
        Ok(Page { items, next })
    }

    /// The product's search-term entries after a write (see [`DynamoStore::write_terms`]).
    fn put_terms(tx: &mut Tx<CatalogGuard>, before: Option<&Product>, after: &Product) -> Result<(), Error> {
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
    fn write_terms(
        tx: &mut Tx<CatalogGuard>,
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
        tx.put(
            product(&p.company_id, p.id),
            Self::product_item(p)?,
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(CatalogGuard::Version),
        )?;
        tx.put(
            sku_claim(&p.company_id, &p.sku.key()),
            values([("product_id", av_s(p.id.to_string())), (TYPE, av_s("SKU"))]),
            Some((NOT_EXISTS, Item::new())),
            Guard::Rule(CatalogGuard::Sku),
        )?;
        Self::put_terms(&mut tx, None, p)?;
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
        self.get(product(company, id)).await?.map(from_item).transpose()
    }

    async fn update_product(&self, before: &Product, after: &Product, audit: &AuditEntry) -> Result<(), Error> {
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
        if before.active != after.active || sku_changed || before.category != after.category {
            let index = Self::active_index(after);
            for (i, (attr, value)) in index.iter().enumerate() {
                set.push(format!("{attr} = :ai{i}"));
                vals.insert(format!(":ai{i}"), value.clone());
            }
            for attr in [BY_STATUS_PK, BY_STATUS_SK, BY_REP_PK, BY_REP_SK] {
                if !index.iter().any(|(a, _)| *a == attr) {
                    remove.push(attr);
                }
            }
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        // A stock set is conditional on the stock it was based on: a sale in between wins.
        let condition = if after.stock != before.stock {
            vals.insert(":expected_stock".into(), n(before.stock));
            "#version = :expected AND stock = :expected_stock"
        } else {
            "#version = :expected"
        };
        let mut tx = Tx::new(&self.table);
        tx.update(
            product(c, before.id),
            &expr,
            Some(condition),
            nm,
            vals,
            Guard::Rule(CatalogGuard::Version),
        )?;
        if sku_changed {
            tx.delete(
                sku_claim(c, &before.sku.key()),
                "product_id = :pid",
                values([(":pid", av_s(before.id.to_string()))]),
                Guard::Rule(CatalogGuard::Version),
            )?;
            tx.put(
                sku_claim(c, &after.sku.key()),
                values([("product_id", av_s(after.id.to_string())), (TYPE, av_s("SKU"))]),
                Some((NOT_EXISTS, Item::new())),
                Guard::Rule(CatalogGuard::Sku),
            )?;
        }
        Self::put_terms(&mut tx, Some(before), after)?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.iter().any(|f| matches!(f.guard, CatalogGuard::Sku)) => Err(Error::Conflict {
                code: "duplicate_sku",
                message: format!("SKU {} is already used by another product", after.sku),
            }),
            Err(failed) => {
                // The product as the failed condition saw it (not the SKU claim's image).
                let old = failed
                    .into_iter()
                    .filter_map(|f| f.old)
                    .find(|o| o.contains_key("stock"));
                let current = match old {
                    Some(item) => Some(from_item::<Product>(item)?),
                    None => self.get_product(c, before.id).await?,
                };
                match current {
                    Some(current) if current.version != before.version || current.stock == before.stock => {
                        Err(version_conflict(&current))
                    }
                    Some(current) => Err(Error::StockChanged {
                        current_stock: current.stock,
                    }),
                    None => Err(Error::not_found("product", before.id)),
                }
            }
        }
    }

    async fn adjust_stock(
        &self,
        c: &CompanyId,
        id: ProductId,
        delta: i64,
        audit: &AuditEntry,
    ) -> Result<StockAdjust, Error> {
        // One conditional ADD: never below 0, never above the maximum.
        let floor = (-delta).max(0);
        let ceiling = i64::from(MAX_STOCK) - delta.max(0);
        let mut tx = Tx::new(&self.table);
        tx.update(
            product(c, id),
            "SET updated_at = :now ADD stock :d",
            Some("attribute_exists(PK) AND stock >= :floor AND stock <= :ceiling"),
            HashMap::new(),
            values([
                (":d", n(delta)),
                (":floor", n(floor)),
                (":ceiling", n(ceiling)),
                (
                    ":now",
                    av_s(audit.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                ),
            ]),
            Guard::Rule(CatalogGuard::Version),
        )?;
        Self::audit_put(&mut tx, audit)?;
        let failed = match tx.commit(&self.client).await? {
            Ok(()) => return Ok(StockAdjust::Applied),
            Err(failed) => failed,
        };
        let current =
            stock_of(failed.into_iter().find_map(|f| f.old)).ok_or_else(|| Error::not_found("product", id))?;
        Ok(match i64::from(current) < floor {
            true => StockAdjust::Short { current },
            false => StockAdjust::OverMax { current },
        })
    }

    async fn set_stock(
        &self,
        c: &CompanyId,
        id: ProductId,
        expected: u32,
        to: u32,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        let mut tx = Tx::new(&self.table);
        tx.update(
            product(c, id),
            "SET stock = :to, updated_at = :now",
            Some("attribute_exists(PK) AND stock = :expected"),
            HashMap::new(),
            values([
                (":to", n(to)),
                (":expected", n(expected)),
                (
                    ":now",
                    av_s(audit.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                ),
            ]),
            Guard::Rule(CatalogGuard::Version),
        )?;
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(failed) => match stock_of(failed.into_iter().find_map(|f| f.old)) {
                Some(current_stock) => Err(Error::StockChanged { current_stock }),
                None => Err(Error::not_found("product", id)),
            },
        }
    }

    async fn get_products(&self, c: &CompanyId, ids: &[ProductId]) -> Result<HashMap<ProductId, Product>, Error> {
        let found = self.batch_get(ids.iter().map(|id| product(c, *id)).collect()).await?;
        found
            .into_values()
            .map(|item| from_item::<Product>(item).map(|p| (p.id, p)))
            .collect()
    }

    async fn set_stocks(
        &self,
        c: &CompanyId,
        changes: &[(ProductId, u32, u32)],
        audit: &AuditEntry,
    ) -> Result<Result<(), Vec<(ProductId, Option<u32>)>>, Error> {
        let mut tx = Tx::new(&self.table);
        let now = av_s(audit.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        for (id, expected, to) in changes {
            tx.update(
                product(c, *id),
                "SET stock = :to, updated_at = :now",
                Some("attribute_exists(PK) AND stock = :expected"),
                HashMap::new(),
                values([(":to", n(*to)), (":expected", n(*expected)), (":now", now.clone())]),
                Guard::Rule(CatalogGuard::Stock(*id)),
            )?;
        }
        Self::audit_put(&mut tx, audit)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(Ok(())),
            Err(failed) => Ok(Err(failed
                .into_iter()
                .filter_map(|f| match f.guard {
                    CatalogGuard::Stock(id) => Some((id, stock_of(f.old))),
                    _ => None,
                })
                .collect())),
        }
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
        // Only active products carry the active index: `active=true` pages are full.
        let by_active = filter.active_only;
        let (index, pk_attr, pk) = match (&filter.category, by_active) {
            (Some(cat), true) => (BY_REP, BY_REP_PK, products_active_in_category(company, cat)),
            (None, true) => (BY_STATUS, BY_STATUS_PK, products_active(company)),
            (Some(cat), false) => (GSI2, GSI2PK, products_in_category(company, cat)),
            (None, false) => (GSI1, GSI1PK, products_by_sku(company)),
        };
        let mut conditions = Vec::new();
        let mut vals = values([(":pk", av_s(pk))]);
        if filter.active_only && !by_active {
            conditions.push("active = :t");
            vals.insert(":t".into(), AttributeValue::Bool(true));
        }
        if filter.in_stock_only {
            conditions.push("stock > :zero");
            vals.insert(":zero".into(), n(0));
        }
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("{pk_attr} = :pk"))
            .set_filter_expression((!conditions.is_empty()).then(|| conditions.join(" AND ")))
            .set_expression_attribute_values(Some(vals));
        self.one_page(company, query, page).await
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
