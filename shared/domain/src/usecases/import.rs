//! CSV product import (SPEC §7, issue 13): rows with an existing SKU update that product,
//! new SKUs create one.
//!
//! - **Parse** with the `csv` crate (RFC 4180 quotes, CRLF, a UTF-8 BOM). The header row
//!   names the columns, in any order and case: `sku`, `name` and `price` are required;
//!   `stock`, `category`, `active`, `low_stock_threshold` and `description` are optional.
//! - **Validate the whole file first**: every bad cell is reported as `{line, column, value,
//!   message}` (422 `invalid_csv`, with the counts of the rest); a file with any bad row
//!   applies nothing. `dry_run` stops there: the counts to create, update and leave
//!   unchanged, or the same 422 a real run would get.
//! - **Apply as a job**: the rows are stored with the job (and the outbox event that drives
//!   it) in one write; then steps of at most one transaction each apply the next rows,
//!   each step conditional on the job still being at the row it started from. So a crashed
//!   import resumes from the jobs worker (or any runner) without applying a row twice, and
//!   two runners never both apply a step. The last step writes the one `ProductsImported`
//!   audit entry.
//!
//! A cell left empty: `stock` and `active` keep the product's (a new product: 0, active);
//! `category`, `description` and `low_stock_threshold` clear it. A `stock` is what the file
//! says the stock was when it was sent: sales recorded after the upload are kept (the
//! product is set to the file's stock minus what was sold since), so an import never
//! erases a sale.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::{Fulfillment, Product, Sku, MAX_STOCK};
use crate::error::{Error, RowError};
use crate::ids::{CompanyId, EventId, ImportId, ProductId};
use crate::money::{Amount, Currency};
use crate::outbox::{DomainEvent, ImportQueued, OutboxEvent};
use crate::ports::{Deps, ImportStep, ImportWrite};

/// At most this many data rows per file.
pub const MAX_ROWS: usize = 20_000;
/// Rows read per step (the rows a step applies fit one transaction; see [`MAX_ACTIONS`]).
pub const STEP_ROWS: usize = 40;
/// Actions one step's transaction may take for product writes: DynamoDB's 100, less the
/// job's own update, the product counter and the audit entry.
pub const MAX_ACTIONS: usize = 96;
/// Consecutive steps that lost a race with another product write before giving up (503).
const STEP_ATTEMPTS: u32 = 12;

const REQUIRED: [&str; 3] = ["sku", "name", "price"];
const COLUMNS: [&str; 8] = [
    "sku",
    "name",
    "price",
    "stock",
    "category",
    "active",
    "low_stock_threshold",
    "description",
];

/// One valid row, as the file gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRow {
    pub line: u64,
    pub sku: Sku,
    pub name: String,
    pub price: Decimal,
    /// `None`: the column is absent or the cell empty (keep; a new product: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
    /// Outer `None`: no such column (keep); `Some(None)`: an empty cell (clear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_stock_threshold: Option<Option<u32>>,
    /// The product's stock when the file was validated (an update): sales after that are
    /// kept when the file's stock is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_stock: Option<u32>,
}

/// What a file would do, before anything is applied.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportPreview {
    pub dry_run: bool,
    /// Data rows in the file (the header not counted).
    pub rows: u64,
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Rows are being applied, step by step.
    Applying,
    Completed,
}

/// An import job: the validated file being applied (`GET /api/v1/imports/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportJob {
    #[schema(value_type = String, format = Uuid)]
    pub id: ImportId,
    #[schema(value_type = String)]
    pub company_id: CompanyId,
    pub status: ImportStatus,
    /// Data rows in the file.
    pub rows: u64,
    /// What validation expected (the products as they were then).
    pub planned_create: u64,
    pub planned_update: u64,
    pub planned_unchanged: u64,
    /// Rows applied so far: the next step starts here.
    pub applied_rows: u64,
    /// What the applied rows did.
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Who sent the file: the audit entry names them.
    #[schema(value_type = Object)]
    pub actor: Actor,
}

/// The header's columns: which column index holds each known field.
type Columns = BTreeMap<&'static str, usize>;

fn err(line: u64, column: &str, value: &str, message: impl Into<String>) -> RowError {
    RowError {
        line,
        column: column.to_owned(),
        value: value.chars().take(200).collect(),
        message: message.into(),
    }
}

/// Parses and checks every row of `body`: the valid rows, and every problem found.
/// `currency_of` gives the currency a row's price is in (its product's, or the company's).
pub fn parse(body: &[u8], currency_of: &dyn Fn(&Sku) -> Currency) -> (Vec<ImportRow>, Vec<RowError>) {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let mut errors = Vec::new();
    let columns = match header(&mut reader, &mut errors) {
        Some(c) => c,
        None => return (Vec::new(), errors),
    };
    let width = reader.headers().map(|h| h.len()).unwrap_or(0);
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    // The line a record starts on, from its byte offset (a quoted cell may span lines).
    // The reader's offset can sit on the line ends before the record (after a CRLF row it
    // stops at the `\r`; blank lines are skipped): its first byte is past them.
    let newlines: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |byte: u64| {
        let mut at = usize::try_from(byte).unwrap_or(usize::MAX);
        while body.get(at).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            at += 1;
        }
        1 + newlines.partition_point(|n| *n < at) as u64
    };
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                errors.push(err(line, "row", "", format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        if rows.len() + errors.len() >= MAX_ROWS {
            errors.push(err(line, "row", "", format!("a file has at most {MAX_ROWS} rows")));
            break;
        }
        if record.len() != width {
            errors.push(err(
                line,
                "row",
                &record.iter().collect::<Vec<_>>().join(","),
                format!("{} cells; the header has {width}", record.len()),
            ));
            continue;
        }
        let before = errors.len();
        if let Some(row) = parse_row(line, &record, &columns, &mut errors, currency_of) {
            match seen.insert(row.sku.key(), line) {
                Some(first) => errors.push(err(
                    line,
                    "sku",
                    row.sku.as_str(),
                    format!("SKU {} is also on line {first}", row.sku),
                )),
                None if errors.len() == before => rows.push(row),
                None => {}
            }
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(err(1, "row", "", "the file has a header but no rows"));
    }
    (rows, errors)
}

fn header(reader: &mut csv::Reader<&[u8]>, errors: &mut Vec<RowError>) -> Option<Columns> {
    let headers = match reader.headers() {
        Ok(h) if h.iter().any(|c| !c.trim().is_empty()) => h.clone(),
        Ok(_) => {
            errors.push(err(1, "row", "", "the file is empty; send a header row and rows"));
            return None;
        }
        Err(e) => {
            errors.push(err(1, "row", "", format!("unreadable header: {e}")));
            return None;
        }
    };
    let mut columns = Columns::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(c) if columns.contains_key(c) => errors.push(err(1, h, h, "this column appears twice")),
            Some(c) => {
                columns.insert(c, i);
            }
            None => errors.push(err(
                1,
                h,
                h,
                format!("unknown column; the columns are {}", COLUMNS.join(", ")),
            )),
        }
    }
    for required in REQUIRED {
        if !columns.contains_key(required) {
            errors.push(err(1, required, "", format!("the `{required}` column is required")));
        }
    }
    errors.is_empty().then_some(columns)
}

fn parse_row(
    line: u64,
    record: &csv::StringRecord,
    columns: &Columns,
    errors: &mut Vec<RowError>,
    currency_of: &dyn Fn(&Sku) -> Currency,
) -> Option<ImportRow> {
    let cell = |c: &str| columns.get(c).and_then(|i| record.get(*i)).map(str::trim);
    let mut bad = |column: &str, value: &str, message: String| errors.push(err(line, column, value, message));
    let raw_sku = cell("sku").unwrap_or_default();
    let sku = match Sku::parse(raw_sku) {
        Ok(s) => Some(s),
        Err(e) => {
            bad("sku", raw_sku, e.to_string());
            None
        }
    };
    let raw_name = cell("name").unwrap_or_default();
    let name = super::blank_trimmed(raw_name);
    if name.is_empty() || name.chars().count() > 200 {
        bad("name", raw_name, "name must be 1-200 characters".into());
    }
    let raw_price = cell("price").unwrap_or_default();
    let price = match raw_price.parse::<Decimal>() {
        Ok(p) => match sku.as_ref().map(|s| Amount::parse_in(p, currency_of(s))) {
            Some(Err(e)) => {
                bad("price", raw_price, format!("price {e}"));
                None
            }
            _ => Some(p),
        },
        Err(_) => {
            bad("price", raw_price, "price must be a number such as 12.50".into());
            None
        }
    };
    let whole = |column: &str, v: &str, bad: &mut dyn FnMut(&str, &str, String)| -> Option<u32> {
        match v.parse::<u64>().ok().filter(|n| *n <= u64::from(MAX_STOCK)) {
            Some(n) => u32::try_from(n).ok(),
            None => {
                bad(
                    column,
                    v,
                    format!("{column} must be a whole number from 0 to {MAX_STOCK}"),
                );
                None
            }
        }
    };
    let stock = match cell("stock") {
        None | Some("") => None,
        Some(v) => whole("stock", v, &mut bad),
    };
    let low_stock_threshold = match cell("low_stock_threshold") {
        None => None,
        Some("") => Some(None),
        Some(v) => whole("low_stock_threshold", v, &mut bad).map(Some),
    };
    let active = match cell("active") {
        None | Some("") => None,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => {
                bad("active", v, "active must be true or false (or yes/no, 1/0)".into());
                None
            }
        },
    };
    let mut text = |column: &str, max: usize| -> Option<Option<String>> {
        let v = cell(column)?;
        let v = super::blank_trimmed(v);
        if v.chars().count() > max {
            bad(column, v, format!("{column} must be at most {max} characters"));
        }
        Some((!v.is_empty()).then(|| v.to_owned()))
    };
    let category = text("category", 100);
    let description = text("description", 4_000);
    Some(ImportRow {
        line,
        sku: sku?,
        name: name.to_owned(),
        price: price?,
        stock,
        category,
        description,
        active,
        low_stock_threshold,
        base_stock: None,
    })
}

/// What `row` makes of `p` (an update), with `stock` as the stock to set.
fn updated(p: &Product, row: &ImportRow, stock: u32, now: DateTime<Utc>) -> Result<Product, Error> {
    let mut after = p.clone();
    after.name = row.name.clone();
    after.price = Amount::parse_in(row.price, p.currency)?;
    after.stock = stock;
    if let Some(c) = &row.category {
        after.category = c.clone();
    }
    if let Some(d) = &row.description {
        after.description = d.clone();
    }
    if let Some(a) = row.active {
        after.active = a;
    }
    if let Some(t) = row.low_stock_threshold {
        after.low_stock_threshold = t;
    }
    if after == *p {
        return Ok(after);
    }
    after.version = p.version + 1;
    after.updated_at = now;
    Ok(after)
}

/// The stock `row` sets on a product now at `current`: the file's stock, less what was
/// sold since the file was validated (more, if stock came back).
fn stock_for(row: &ImportRow, current: u32) -> u32 {
    match (row.stock, row.base_stock) {
        (None, _) => current,
        (Some(s), None) => s,
        (Some(s), Some(base)) => {
            let v = i64::from(s) + i64::from(current) - i64::from(base);
            u32::try_from(v.clamp(0, i64::from(MAX_STOCK))).unwrap_or(0)
        }
    }
}

fn created(
    deps: &Deps,
    c: &CompanyId,
    row: &ImportRow,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Product, Error> {
    Ok(Product {
        id: ProductId::new(deps.ids.uuid()),
        company_id: c.clone(),
        sku: row.sku.clone(),
        name: row.name.clone(),
        category: row.category.clone().flatten(),
        description: row.description.clone().flatten(),
        price: Amount::parse_in(row.price, currency)?,
        currency,
        stock: row.stock.unwrap_or(0),
        reserved: 0,
        active: row.active.unwrap_or(true),
        low_stock_threshold: row.low_stock_threshold.flatten(),
        track_inventory: true,
        fulfillment: Fulfillment::default(),
        version: 1,
        created_at: now,
        updated_at: now,
        stock_shards: 1,
        shards: Vec::new(),
    })
}

/// The products the rows' SKUs name now.
async fn existing(deps: &Deps, c: &CompanyId, rows: &[ImportRow]) -> Result<HashMap<String, Product>, Error> {
    let mut out = HashMap::new();
    for chunk in rows.chunks(100) {
        let skus: Vec<Sku> = chunk.iter().map(|r| r.sku.clone()).collect();
        let ids = deps.store.find_skus(c, &skus).await?;
        let wanted: Vec<ProductId> = ids.values().copied().collect();
        for p in deps.store.get_products(c, &wanted).await?.into_values() {
            out.insert(p.sku.key(), p);
        }
    }
    Ok(out)
}

/// `POST /api/v1/products/import`: validates `body`; a dry run (or a file with bad rows)
/// stops there. Otherwise the job is stored with its rows and the event that drives it,
/// and the first steps run at once ([`run`]): a small file is done when this returns.
pub async fn import(deps: &Deps, actor: &Actor, body: &[u8], dry_run: bool) -> Result<ImportOutcome, Error> {
    import_with(deps, actor, body, dry_run, INLINE_STEPS).await
}

/// [`import`], applying at most `inline_steps` steps before answering (tests stop at 0 to
/// leave a stored job to the jobs worker, as a crash would).
pub async fn import_with(
    deps: &Deps,
    actor: &Actor,
    body: &[u8],
    dry_run: bool,
    inline_steps: usize,
) -> Result<ImportOutcome, Error> {
    actor.require(Permission::ProductsWrite)?;
    actor.require(Permission::StockAdjust)?;
    let c = &actor.company_id;
    let settings = deps.store.get_settings(c).await?;
    // The currency a price is read in is its product's; a first pass finds the products.
    let (first, _) = parse(body, &|_| settings.default_currency);
    let found = existing(deps, c, &first).await?;
    let currency_of = |s: &Sku| found.get(&s.key()).map_or(settings.default_currency, |p| p.currency);
    let (mut rows, errors) = parse(body, &currency_of);
    let now = deps.clock.now();
    // Data rows: the valid ones and each line with an error (the header's not counted).
    let bad_lines: std::collections::BTreeSet<u64> = errors.iter().map(|e| e.line).filter(|l| *l > 1).collect();
    let mut preview = ImportPreview {
        dry_run,
        rows: (rows.len() + bad_lines.len()) as u64,
        ..Default::default()
    };
    for row in &mut rows {
        match found.get(&row.sku.key()) {
            None => preview.create += 1,
            Some(p) => {
                row.base_stock = Some(p.stock);
                match updated(p, row, stock_for(row, p.stock), now)? == *p {
                    true => preview.unchanged += 1,
                    false => preview.update += 1,
                }
            }
        }
    }
    if !errors.is_empty() {
        let counts = json!({
            "dry_run": dry_run,
            "rows": preview.rows,
            "create": preview.create,
            "update": preview.update,
            "unchanged": preview.unchanged,
        });
        return Err(Error::InvalidRows(errors, counts));
    }
    if dry_run {
        return Ok(ImportOutcome::Preview(preview));
    }
    let job = ImportJob {
        id: ImportId::new(deps.ids.uuid()),
        company_id: c.clone(),
        status: ImportStatus::Applying,
        rows: rows.len() as u64,
        planned_create: preview.create,
        planned_update: preview.update,
        planned_unchanged: preview.unchanged,
        applied_rows: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        created_at: now,
        completed_at: None,
        actor: actor.clone(),
    };
    let event = OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: c.clone(),
        subject: job.id.to_string(),
        occurred_at: now,
        event: DomainEvent::ImportQueued(ImportQueued { import_id: job.id }),
    };
    deps.store.create_import(&job, &rows, &event).await?;
    tracing::info!(import_id = %job.id, rows = job.rows, "import stored; applying");
    Ok(ImportOutcome::Job(run(deps, c, job.id, Some(inline_steps)).await?))
}

/// Steps an import request applies itself before answering (the jobs worker does the rest).
pub const INLINE_STEPS: usize = 25;

pub enum ImportOutcome {
    Preview(ImportPreview),
    Job(ImportJob),
}

pub async fn get_import(deps: &Deps, actor: &Actor, id: ImportId) -> Result<ImportJob, Error> {
    actor.require(Permission::ProductsRead)?;
    if !actor.role.is_staff() {
        return Err(Error::Permission(Permission::ProductsWrite));
    }
    deps.store
        .get_import(&actor.company_id, id)
        .await?
        .ok_or_else(|| Error::not_found("import", id))
}

/// Applies the import's remaining rows, step by step (at most `max_steps`; `None`: to the
/// end), and returns the job as it then is. Safe to run twice, and from two places at once.
pub async fn run(deps: &Deps, c: &CompanyId, id: ImportId, max_steps: Option<usize>) -> Result<ImportJob, Error> {
    let mut steps = 0;
    let mut lost = 0;
    loop {
        let job = deps
            .store
            .get_import(c, id)
            .await?
            .ok_or_else(|| Error::not_found("import", id))?;
        if job.status == ImportStatus::Completed || max_steps.is_some_and(|m| steps >= m) {
            return Ok(job);
        }
        match step(deps, &job).await? {
            ImportStep::Applied => {
                steps += 1;
                lost = 0;
            }
            // Another runner applied that step: the import moved on; read where it is.
            ImportStep::JobMoved => lost = 0,
            ImportStep::ProductsMoved => {
                lost += 1;
                if lost >= STEP_ATTEMPTS {
                    return Err(Error::Contention);
                }
            }
        }
    }
}

/// One step: the next rows that fit one transaction, derived from the products as they
/// are now, written only if the job is still where this step started.
async fn step(deps: &Deps, job: &ImportJob) -> Result<ImportStep, Error> {
    let c = &job.company_id;
    let rows = deps.store.import_rows(c, job.id, job.applied_rows, STEP_ROWS).await?;
    if rows.is_empty() && job.applied_rows < job.rows {
        return Err(Error::internal(format!(
            "import {} has no row {}",
            job.id, job.applied_rows
        )));
    }
    let found = existing(deps, c, &rows).await?;
    let default_currency = deps.store.get_settings(c).await?.default_currency;
    let now = deps.clock.now();
    let mut after = job.clone();
    let mut writes = Vec::new();
    let mut actions = 0;
    for row in &rows {
        let write = match found.get(&row.sku.key()) {
            None => Some(ImportWrite::Create(created(deps, c, row, default_currency, now)?)),
            Some(p) => {
                let a = updated(p, row, stock_for(row, p.stock), now)?;
                (a != *p).then(|| ImportWrite::Update {
                    before: p.clone(),
                    after: a,
                })
            }
        };
        let cost = write.as_ref().map_or(0, ImportWrite::actions);
        if actions + cost > MAX_ACTIONS {
            break;
        }
        actions += cost;
        after.applied_rows += 1;
        match &write {
            None => after.unchanged += 1,
            Some(ImportWrite::Create(_)) => after.created += 1,
            Some(ImportWrite::Update { .. }) => after.updated += 1,
        }
        writes.extend(write);
    }
    let audit = (after.applied_rows >= after.rows).then(|| {
        after.status = ImportStatus::Completed;
        after.completed_at = Some(now);
        AuditEntry::new(
            EventId::new(deps.ids.uuid()),
            now,
            &job.actor,
            AuditAction::ProductsImported,
            EntityKind::Import,
            job.id,
            None,
            None,
            json!({
                "rows": after.rows,
                "created": after.created,
                "updated": after.updated,
                "unchanged": after.unchanged,
            }),
        )
    });
    deps.store.apply_import_step(job, &after, &writes, audit.as_ref()).await
}

impl ImportWrite {
    /// The transaction actions this write takes: the product, its SKU claim (new), its
    /// stock shards written, its stock-level entry (counted whether or not it moves), and
    /// its search-term entries (see the stores' `write_terms`).
    pub fn actions(&self) -> usize {
        match self {
            ImportWrite::Create(p) => 3 + usize::try_from(p.stock_shards.max(1)).unwrap_or(1) + p.search_terms().len(),
            ImportWrite::Update { before, after } => {
                let (old, new) = (before.search_terms(), after.search_terms());
                2 + crate::catalog::shard_writes(before, after)
                    + match old == new {
                        true => 0,
                        false => old.difference(&new).count() + new.len(),
                    }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(body: &str) -> Vec<(u64, String)> {
        let (_, errors) = parse(body.as_bytes(), &|_| Currency::parse("USD").expect("USD"));
        errors.into_iter().map(|e| (e.line, e.column)).collect()
    }

    #[test]
    fn errors_name_the_line_a_row_starts_on_whatever_the_line_ends() {
        for nl in ["\n", "\r\n"] {
            let body = format!("sku,name,price{nl}A,\"two{nl}lines\",1{nl}BAD SKU,x,1{nl}{nl}C,y,zz{nl}");
            assert_eq!(lines(&body), [(4, "sku".to_owned()), (6, "price".to_owned())], "{nl:?}");
        }
    }

    #[test]
    fn quotes_a_bom_and_empty_cells_are_read_as_a_spreadsheet_writes_them() {
        let body = "\u{feff}SKU,Name,Price,Category,Stock\r\nA-1,\"Cat's 5\"\" cable, grey\",4.5,,\r\n";
        let (rows, errors) = parse(body.as_bytes(), &|_| Currency::parse("USD").expect("USD"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[0].name, "Cat's 5\" cable, grey");
        assert_eq!((rows[0].category.clone(), rows[0].stock), (Some(None), None));
    }
}
