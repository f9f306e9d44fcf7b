//! subcap-aggregator: receives host reports from agents over gRPC with mutual TLS, keeps them in
//! an embedded store, and (later) reconciles them with ILMT's own records.
//!
//! Read [`server::Aggregator`] first: `bind` then `run`.
#![forbid(unsafe_code)]

pub mod certs;
pub mod config;
pub mod convert;
pub mod demo;
pub mod domain;
pub mod history;
pub mod ilmt;
pub mod imports;
pub mod ingest;
pub mod metrics;
pub mod ops;
pub mod reconcile;
pub mod report;
pub mod server;
pub mod snapshots;
pub mod store;
