//! Ingest: checks an incoming report (pure validation), and makes stored reports durable before
//! they are acknowledged (group commit).

pub mod commit;
pub mod validate;
