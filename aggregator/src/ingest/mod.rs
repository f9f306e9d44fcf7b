//! Ingest: checks an incoming report (pure validation) before it is stored.

pub mod validate;
