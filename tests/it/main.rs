//! The integration tests: one binary, one module per area. Scenarios marked with
//! `on_both_adapters!` run against the in-memory store and against DynamoDB Local.

mod audit_log;
mod bad_input;
mod bulk_stock;
mod catalog;
mod chaos;
mod concurrency;
mod create_order;
mod customer_admin;
mod customer_reads;
mod drift;
mod edge_trust;
mod email_crashes;
mod events;
mod generated_bodies;
mod high_value_recount;
mod iam;
mod imports;
mod inventory;
mod lifecycle;
mod notifications;
mod order_lists;
mod order_updates;
mod order_views;
mod product_browser;
mod races;
mod relay;
mod scale;
mod settings;
mod sqs_ses;
mod stock_edits;
mod store_contract;
mod support;
mod tenants;
mod users;
mod webhooks;
