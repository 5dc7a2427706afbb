//! The order-management domain: what a product, a customer and an order are, how money is
//! computed, who may do what, and the use cases that tie them to the storage ports.
//!
//! Nothing here knows about AWS, Lambda or HTTP. Adapters (`oms-adapters`) implement the
//! ports in [`ports`]; the HTTP edge (`oms-api`) turns requests into the commands below.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod error;
pub mod ids;
pub mod integration;
pub mod money;
pub mod notify;
pub mod order;
pub mod outbox;
pub mod plan;
pub mod ports;
pub mod postal;
pub mod settings;
pub mod strict_json;
pub mod usecases;
pub mod webhook;
pub mod whole;

pub use error::{Error, FieldError};
