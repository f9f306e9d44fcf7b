//! Ingest: checks an incoming report (pure validation), stores reports in batches (one writer
//! thread), and makes stored reports durable before they are acknowledged (group commit).

pub mod commit;
pub mod validate;
pub mod writer;
