//! The HTTP edge every Lambda shares: who is calling ([`auth`]), how a request becomes a
//! command ([`request`]), how every error becomes one JSON shape ([`error`]), the handlers
//! themselves ([`handlers`]), the route table ([`routes`]) and its OpenAPI document
//! ([`openapi`]). [`gateway`] is the local stand-in for API Gateway and its JWT authorizer.

pub mod app;
pub mod auth;
pub mod cursor;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod handlers;
pub mod lambda;
pub mod openapi;
pub mod request;
pub mod routes;
pub mod telemetry;
pub mod unwind;
pub mod workers;

pub use app::App;
