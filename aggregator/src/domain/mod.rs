//! Reconciliation of agent reports with ILMT's records, as pure functions over plain values: no
//! proto, no I/O, no clock (`now` is a parameter), tested with plain values.
//!
//! Read [`findings::reconcile`] first. The pieces: [`model`] (the domain's types),
//! [`matching`] (agent hosts to ILMT computers, strongest key first), [`pvu`] (PVU table,
//! sub-capacity, full capacity, exposure), [`policy`] (eligible virtualization) and [`data`]
//! (errors of the data files). The data files are `aggregator/data/pvu-table.toml` and
//! `aggregator/data/eligibility.toml`, compiled in and replaceable by a site's own copy.

pub mod data;
pub mod findings;
pub mod history;
pub mod matching;
pub mod model;
pub mod policy;
pub mod pvu;
pub mod quarter;

#[cfg(test)]
mod testkit;

pub use data::DataError;
pub use findings::reconcile;
pub use model::{
    AgentHost, Code, Coverage, Exposure, Finding, HostResult, MatchKey, Reconciliation, Thresholds,
};
pub use policy::Policy;
pub use pvu::PvuTable;
