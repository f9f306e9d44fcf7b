//! subcap-agent: collects what a host can say about its IBM sub-capacity position (core topology,
//! virtualization, IBM installs, ILMT agent health) into a `subcap.v1.HostReport`.
//!
//! Read [`scan::scan`] first. Collectors live in [`collect`] and read only through [`root::Root`].
#![deny(unsafe_code)]

pub mod collect;
pub mod deliver;
pub mod render;
pub mod root;
pub mod scan;
