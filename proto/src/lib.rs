//! The subcap wire contract, package `subcap.v1`: prost messages generated at build time,
//! with serde implementations that follow the protobuf canonical JSON mapping (pbjson).
#![forbid(unsafe_code)]

/// Package `subcap.v1`.
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/subcap.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/subcap.v1.serde.rs"));
}

pub mod client;
pub mod time;
pub mod vocab;

pub use pbjson_types::Timestamp;
