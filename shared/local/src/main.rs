//! `oms-local`: the whole API on a local port, over the embedded in-memory store (or any
//! DynamoDB-API endpoint), with the production routes and the same JWT claims.
//!
//! `oms-local serve` starts it and seeds the demo tenant; `oms-local token` mints a token
//! for any company, role and customer so scripts can call it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use oms_adapters::dynamo::heat::HeatTally;
use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_adapters::mail::FileMailer;
use oms_adapters::memory::MemoryStore;
use oms_api::auth::LocalJwt;
use oms_api::gateway::{Gateway, HttpRequest};
use oms_api::App;

/// Bodies past this are refused before they reach a handler (API Gateway's own cap is 10 MB;
/// the JSON handlers refuse anything over 256 KiB, the CSV import over 5 MiB, with the
/// same 413).
const MAX_READ_BYTES: usize = 6 * 1024 * 1024;

#[derive(Parser)]
#[command(name = "oms-local", about = "Run the order-management API locally")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the API (the default).
    Serve(ServeArgs),
    /// Print a signed bearer token for the local API.
    Token(TokenArgs),
    /// Print a curl that posts a file as a signed webhook delivery to an integration.
    SignWebhook(SignWebhookArgs),
}

#[derive(Args)]
struct SignWebhookArgs {
    /// The integration's id (its webhook URL's). Defaults to the demo Standard Webhooks one.
    #[arg(long)]
    integration: Option<String>,
    /// The body to send, byte for byte (curl sends it with --data-binary @FILE).
    #[arg(long)]
    file: std::path::PathBuf,
    /// The integration's secret; known for the demo integrations.
    #[arg(long, env = "OMS_WEBHOOK_SECRET")]
    secret: Option<String>,
    /// standard, shopify or woocommerce; known for the demo integrations, and `standard`
    /// for a `whsec_` secret.
    #[arg(long)]
    kind: Option<String>,
    /// The delivery's id (webhook-id, X-Shopify-Webhook-Id); a new one by default.
    #[arg(long)]
    id: Option<String>,
    /// The API's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
}

#[derive(Args)]
struct ServeArgs {
    /// Port on 127.0.0.1.
    #[arg(long, env = "OMS_PORT", default_value_t = 3000)]
    port: u16,
    /// Use this DynamoDB-API endpoint (e.g. DynamoDB Local) instead of the in-memory store.
    #[arg(long, env = "DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    /// Table name when a DynamoDB endpoint is given (created if missing).
    #[arg(long, env = "TABLE_NAME", default_value = "oms-local")]
    table: String,
    /// Where the e-mails the workers send are written, one `.eml` file each.
    #[arg(long, env = "OMS_MAIL_DIR", default_value = ".local-mail")]
    mail_dir: std::path::PathBuf,
    /// The sender address on those e-mails.
    #[arg(long, env = "OMS_MAIL_FROM", default_value = "orders@demo.example")]
    mail_from: String,
    /// Do not seed the demo tenant.
    #[arg(long)]
    no_seed: bool,
}

#[derive(Args)]
struct TokenArgs {
    #[arg(long, default_value = oms_api::demo::COMPANY)]
    company: String,
    /// OWNER, ADMIN, STAFF, FINANCE, CUSTOMER or INTEGRATION.
    #[arg(long, default_value = "OWNER")]
    role: String,
    /// The user id (`sub`); defaults to `user-<role>`.
    #[arg(long)]
    sub: Option<String>,
    /// Required for CUSTOMER tokens.
    #[arg(long)]
    customer_id: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    ttl: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let default_serve = || Cli::parse_from(["oms-local", "serve"]).command;
    match cli
        .command
        .or_else(default_serve)
        .ok_or_else(|| anyhow::anyhow!("no command"))?
    {
        Command::Token(t) => {
            let sub = t.sub.unwrap_or_else(|| format!("user-{}", t.role.to_lowercase()));
            let token = LocalJwt::from_env().mint(&sub, &t.company, &t.role, t.customer_id.as_deref(), t.ttl);
            write_out(&format!("{token}\n"));
            Ok(())
        }
        Command::Serve(args) => serve(args).await,
        Command::SignWebhook(a) => {
            write_out(&sign_webhook(&a)?);
            Ok(())
        }
    }
}

/// A ready-to-paste curl for `args.file` signed as `args.integration` would sign it.
fn sign_webhook(args: &SignWebhookArgs) -> anyhow::Result<String> {
    use oms_domain::integration::IntegrationKind;
    let demo = oms_api::demo::tenant()?;
    let id = match &args.integration {
        Some(i) => {
            oms_domain::ids::IntegrationId::parse(i).map_err(|_| anyhow::anyhow!("--integration is not an id: {i}"))?
        }
        None => demo
            .integration(IntegrationKind::Standard)
            .map(|i| i.id)
            .ok_or_else(|| anyhow::anyhow!("no demo integration"))?,
    };
    let known = demo.integrations.iter().find(|i| i.id == id);
    let secret = args
        .secret
        .clone()
        .or_else(|| known.map(|i| i.secret.to_owned()))
        .ok_or_else(|| anyhow::anyhow!("--secret is needed for an integration that is not the demo's"))?;
    let kind = match (args.kind.as_deref(), known) {
        (Some("standard"), _) => IntegrationKind::Standard,
        (Some("shopify"), _) => IntegrationKind::Shopify,
        (Some("woocommerce"), _) => IntegrationKind::Woocommerce,
        (Some(other), _) => anyhow::bail!("--kind is standard, shopify or woocommerce, not {other}"),
        (None, Some(i)) => i.kind,
        (None, None) if secret.starts_with(oms_domain::webhook::STANDARD_PREFIX) => IntegrationKind::Standard,
        (None, None) => anyhow::bail!("--kind is needed (shopify or woocommerce)"),
    };
    let body = std::fs::read(&args.file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let delivery = args
        .id
        .clone()
        .unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    let headers = signed_headers(kind, &secret, &delivery, chrono::Utc::now().timestamp(), &body)?;
    let url = oms_domain::integration::webhook_url(&args.url, id);
    let mut out = format!("curl -s -X POST '{url}' -H 'Content-Type: application/json'");
    for (k, v) in headers {
        out.push_str(&format!(" \\\n  -H '{k}: {v}'"));
    }
    out.push_str(&format!(" \\\n  --data-binary @'{}'\n", args.file.display()));
    if kind == IntegrationKind::Standard {
        out.push_str("# (the webhook-timestamp is now: this signature is accepted for five minutes)\n");
    }
    Ok(out)
}

/// The headers a sender of `kind` puts on `body`.
fn signed_headers(
    kind: oms_domain::integration::IntegrationKind,
    secret: &str,
    delivery: &str,
    timestamp: i64,
    body: &[u8],
) -> anyhow::Result<Vec<(&'static str, String)>> {
    use oms_domain::integration::IntegrationKind::*;
    use oms_domain::webhook::{sign_body, sign_standard};
    let bad = || anyhow::anyhow!("the secret cannot sign (a standard secret is whsec_ and base64)");
    Ok(match kind {
        Standard => vec![
            ("webhook-id", delivery.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                sign_standard(secret, delivery, timestamp, body).ok_or_else(bad)?,
            ),
        ],
        Shopify => vec![
            ("X-Shopify-Topic", "orders/create".to_owned()),
            ("X-Shopify-Webhook-Id", delivery.to_owned()),
            ("X-Shopify-Hmac-Sha256", sign_body(secret, body).ok_or_else(bad)?),
        ],
        Woocommerce => vec![
            ("X-WC-Webhook-Topic", "order.created".to_owned()),
            ("X-WC-Webhook-Delivery-ID", delivery.to_owned()),
            ("X-WC-Webhook-Signature", sign_body(secret, body).ok_or_else(bad)?),
        ],
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    oms_api::telemetry::init();
    // `make load` on DynamoDB: tally the write heat, written to this file on Ctrl-C.
    let heat = std::env::var_os("OMS_HEAT_REPORT").map(|path| (path, HeatTally::new()));
    let (app, backend) = match &args.dynamodb_endpoint {
        Some(url) => {
            let config = oms_api::app::sdk_config(Some(url)).await;
            let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
            if let Some((_, tally)) = &heat {
                builder = builder.interceptor(tally.clone());
            }
            let client = aws_sdk_dynamodb::Client::from_conf(builder.build());
            create_table(&client, &args.table).await?;
            let store = DynamoStore::new(client, args.table.clone());
            (
                App::new(Arc::new(store), b"local-cursor-secret"),
                format!("DynamoDB at {url}, table {}", args.table),
            )
        }
        None => (
            App::in_memory(MemoryStore::new()),
            "embedded in-memory store (data is lost on exit)".to_owned(),
        ),
    };
    let demo = if args.no_seed {
        None
    } else {
        Some(oms_api::demo::seed(&app).await?)
    };
    // The relay and the workers, in-process: e-mails become .eml files. They run on a
    // runtime of their own (one thread, at niceness 10), as they run in Lambdas of their
    // own in AWS: a burst of background work never queues in front of a request, and it
    // yields the CPU to requests when both want it (it catches up as soon as they pause).
    let mailer = Arc::new(FileMailer::new(args.mail_dir.clone(), args.mail_from.clone()));
    let background = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("oms-workers")
        .on_thread_start(|| {
            use thread_priority::{set_current_thread_priority, ThreadPriority, ThreadPriorityValue};
            if let Ok(lower) = ThreadPriorityValue::try_from(25u8) {
                if let Err(e) = set_current_thread_priority(ThreadPriority::Crossplatform(lower)) {
                    tracing::debug!(error = ?e, "could not lower the workers' priority");
                }
            }
        })
        .enable_all()
        .build()?;
    {
        let _inside = background.enter();
        oms_api::workers::spawn(app.deps.clone(), mailer);
    }
    let backend = format!(
        "{backend}\n  e-mails: {}/ (one .eml each: receipts, staff alerts, low stock, cap notices, finance)",
        args.mail_dir.display()
    );
    let jwt = LocalJwt::from_env();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    // Integrations' webhook URLs point here.
    let mut app = app;
    app.base_url = format!("http://{addr}");
    write_out(&banner(&addr, &backend, demo.as_ref(), &jwt));
    let gateway = Arc::new(Gateway::new(app, jwt));

    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => r?,
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("shutting down");
                background.shutdown_background();
                if let Some((path, tally)) = &heat {
                    // Keys written less than this in all are left out: they cannot be hot.
                    std::fs::write(path, tally.report(8.0, 4).to_string())?;
                }
                return Ok(());
            }
        };
        let gw = gateway.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(gw.clone(), req));
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}

async fn handle(gw: Arc<Gateway>, req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let resp = match Limited::new(body, MAX_READ_BYTES).collect().await {
        Ok(collected) => {
            let body = collected.to_bytes().to_vec();
            gw.handle(HttpRequest {
                method: parts.method.as_str().to_owned(),
                target,
                headers,
                body,
            })
            .await
        }
        Err(_) => oms_api::error::ApiError::http(
            lambda_http::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is over {MAX_READ_BYTES} bytes"),
        )
        .into_response(),
    };
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}

fn banner(addr: &SocketAddr, backend: &str, demo: Option<&oms_api::demo::DemoTenant>, jwt: &LocalJwt) -> String {
    let base = format!("http://{addr}");
    let mut out =
        format!("\nOrder-management API listening on {base}\n  store:   {backend}\n  OpenAPI: {base}/openapi.json\n");
    let Some(demo) = demo else { return out };
    let token = |role: &str, sub: &str, customer: Option<String>| {
        jwt.mint(sub, demo.company.as_str(), role, customer.as_deref(), 86_400)
    };
    let owner = token("OWNER", "user-owner", None);
    let staff = token("STAFF", "user-staff", None);
    let buyer = token("CUSTOMER", "user-acme-buyer", Some(demo.acme.to_string()));
    let widget = demo.product("WIDGET-001").map(|p| p.to_string()).unwrap_or_default();
    let bolt = demo.product("BOLT-M8").map(|p| p.to_string()).unwrap_or_default();
    out.push_str(&format!(
        r#"
Demo company `{company}` is seeded: 6 products (BOLT-M8 is low on stock, CABLE-CAT6 is out of
stock), customers Acme ({acme}, pays 89.99 for WIDGET-001) and Globex ({globex}).

Tokens (valid 24 h; mint more with `cargo run -q -p oms-local -- token --role STAFF`):
  export OWNER_TOKEN={owner}
  export STAFF_TOKEN={staff}
  export BUYER_TOKEN={buyer}

Try:
  # a customer checks out (storefront): stock drops, the override price applies
  curl -s {base}/api/v1/sales/orders -H "Authorization: Bearer $BUYER_TOKEN" -H 'Content-Type: application/json' \
    -d '{{"items":[{{"product_id":"{widget}","quantity":2}},{{"sku":"BOLT-M8","quantity":1}}]}}'

  # short stock is refused whole, naming what is left
  curl -s {base}/api/v1/sales/orders -H "Authorization: Bearer $BUYER_TOKEN" -H 'Content-Type: application/json' \
    -d '{{"items":[{{"product_id":"{bolt}","quantity":50}}]}}'

  # staff take a phone order (dashboard: no stock check by default)
  curl -s {base}/api/v1/sales/orders -H "Authorization: Bearer $STAFF_TOKEN" -H 'Content-Type: application/json' \
    -d '{{"source":"phone","notes":"Called in by Bob","items":[{{"sku":"CABLE-CAT6","quantity":3}}]}}'

  # reading orders: newest first, by filter and sort; word-prefix search; what needs
  # attention (overdue, due within a day, on hold, awaiting approval: empty until an order
  # is); high-value orders with their exact totals
  curl -s '{base}/api/v1/sales/orders?status=pending&sort_by=total_amount&per_page=5' -H "Authorization: Bearer $OWNER_TOKEN"
  curl -s '{base}/api/v1/sales/orders/search?q=acme' -H "Authorization: Bearer $OWNER_TOKEN"
  curl -s {base}/api/v1/sales/orders/requires-attention -H "Authorization: Bearer $OWNER_TOKEN"
  curl -s '{base}/api/v1/sales/orders/high-value?minimum_amount=100' -H "Authorization: Bearer $OWNER_TOKEN"

  # the catalog, and one product's stock
  curl -s '{base}/api/v1/products?per_page=3' -H "Authorization: Bearer $OWNER_TOKEN"
  curl -s {base}/api/v1/products/{widget} -H "Authorization: Bearer $OWNER_TOKEN"

  # inventory health: active products healthy, low (1 to their threshold) and out (0);
  # then the low ones, lowest first
  curl -s {base}/api/v1/inventory/health -H "Authorization: Bearer $OWNER_TOKEN"
  curl -s {base}/api/v1/inventory/low -H "Authorization: Bearer $OWNER_TOKEN"

  # import a supplier's spreadsheet: a dry run (counts and every bad row), then for real
  # (new SKUs are created, WIDGET-001 is updated; one ProductsImported audit entry)
  curl -s '{base}/api/v1/products/import?dry_run=true' -H "Authorization: Bearer $OWNER_TOKEN" \
    -H 'Content-Type: text/csv' --data-binary @events/products-import.csv
  curl -s {base}/api/v1/products/import -H "Authorization: Bearer $OWNER_TOKEN" \
    -H 'Content-Type: text/csv' --data-binary @events/products-import.csv

  # an ERP posts an order by webhook (Standard Webhooks, signed now: valid for 5 minutes).
  # It answers 202; the worker places it within a second; then its delivery log:
{webhook}
  curl -s {base}/api/v1/integrations/{standard}/deliveries -H "Authorization: Bearer $OWNER_TOKEN"
  # sign any file for any integration (Shopify and WooCommerce demo integrations too):
  #   cargo run -q -p oms-local -- sign-webhook --file events/webhooks/shopify-orders-create.json \
  #     --integration {shopify} --url {base}

Ctrl-C stops the server.
"#,
        company = demo.company,
        acme = demo.acme,
        globex = demo.globex,
        webhook = demo_webhook(&base, demo),
        standard = integration_id(demo, oms_domain::integration::IntegrationKind::Standard),
        shopify = integration_id(demo, oms_domain::integration::IntegrationKind::Shopify),
    ));
    out
}

fn integration_id(demo: &oms_api::demo::DemoTenant, kind: oms_domain::integration::IntegrationKind) -> String {
    demo.integration(kind).map(|i| i.id.to_string()).unwrap_or_default()
}

/// A signed curl for a small order to the demo Standard Webhooks integration.
fn demo_webhook(base: &str, demo: &oms_api::demo::DemoTenant) -> String {
    let Some(i) = demo.integration(oms_domain::integration::IntegrationKind::Standard) else {
        return String::new();
    };
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::json!({
        "origin_order_id": format!("ERP-{now}"),
        "customer": {"external_id": "ERP-CUST-0042", "email": "purchasing@initech.example", "company_name": "Initech LLC"},
        "items": [{"sku": "WIDGET-001", "quantity": 2}, {"sku": "GADGET-002", "quantity": 1}],
        "shipping_address": {"address1": "4120 Freidrich Ln", "city": "Austin", "state": "TX", "postal_code": "78744", "country": "US"},
        "shipping_cost": "12.00"
    })
    .to_string();
    let delivery = format!("msg_demo_{now}");
    let Ok(headers) = signed_headers(i.kind, i.secret, &delivery, now, body.as_bytes()) else {
        return String::new();
    };
    let mut out = format!("  curl -s -X POST {}", oms_domain::integration::webhook_url(base, i.id));
    out.push_str(" -H 'Content-Type: application/json'");
    for (k, v) in headers {
        out.push_str(&format!(" \\\n    -H '{k}: {v}'"));
    }
    out.push_str(&format!(" \\\n    --data-binary '{body}'"));
    out
}

/// The banner and tokens are the command's output, so they go to stdout as-is.
#[allow(clippy::print_stdout)]
fn write_out(s: &str) {
    print!("{s}");
}
