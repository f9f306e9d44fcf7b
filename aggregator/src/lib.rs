//! subcap-aggregator: receives host reports from agents over gRPC with mutual TLS, keeps them in
//! an embedded store, and (later) reconciles them with ILMT's own records.
//!
//! Read [`server::serve`] first.
#![forbid(unsafe_code)]

pub mod ingest;
pub mod store;
