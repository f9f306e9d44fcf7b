//! Collectors: each reads one aspect of the host through the scan [`Root`] and returns what it
//! could read, adding a [`Warnings`] entry for anything it could not. None fails as a whole.

pub mod ibm;
pub mod identity;
pub mod ilmt_agent;
pub mod topology;
pub mod virt;

use subcap_proto::v1 as pb;

use crate::root::{ReadError, Root};

/// The problems one collector met, in the order met.
#[derive(Debug)]
pub struct Warnings {
    collector: &'static str,
    list: Vec<pb::Warning>,
}

impl Warnings {
    /// Warnings of the collector named `collector` (identity, topology, virtualization,
    /// ibm_installs, ilmt_agent).
    pub fn new(collector: &'static str) -> Self {
        Warnings {
            collector,
            list: Vec::new(),
        }
    }

    /// Records a problem with `source` (a path relative to the root, or a pseudo-source).
    pub fn warn(&mut self, source: impl Into<String>, message: impl Into<String>) {
        self.list.push(pb::Warning {
            collector: self.collector.to_string(),
            source: source.into(),
            message: message.into(),
        });
    }

    /// Records a failed read, naming its path.
    pub fn read_failed(&mut self, err: &ReadError) {
        let path = err.path().to_string();
        self.warn(path, err.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<pb::Warning> {
        self.list
    }
}

/// Reads a file that may legitimately be absent (a POWER file on x86): absence is silent, any
/// other failure is a warning. Trailing whitespace is kept; callers trim what they parse.
pub fn probe(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    match root.read_string(rel) {
        Ok(s) => Some(s),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            w.read_failed(&e);
            None
        }
    }
}

/// [`probe`] for a sysfs attribute, read with one `read` call ([`Root::read_attribute`]).
pub fn probe_attribute(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    match root.read_attribute(rel) {
        Ok(s) => Some(s),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            w.read_failed(&e);
            None
        }
    }
}

/// [`expect`] for a sysfs attribute, read with one `read` call ([`Root::read_attribute`]).
pub fn expect_attribute(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    match root.read_attribute(rel) {
        Ok(s) => Some(s),
        Err(e) => {
            w.read_failed(&e);
            None
        }
    }
}

/// Reads a file every host of this kind should have: absence is a warning too.
pub fn expect(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    match root.read_string(rel) {
        Ok(s) => Some(s),
        Err(e) => {
            w.read_failed(&e);
            None
        }
    }
}

/// Pushes `(source, value)` evidence when the value is not empty.
pub fn evidence(list: &mut Vec<pb::Evidence>, source: impl Into<String>, value: impl Into<String>) {
    let value = value.into();
    if !value.is_empty() {
        list.push(pb::Evidence {
            source: source.into(),
            value,
        });
    }
}

/// `KEY=value` lines (os-release, container environment): value unquoted, trimmed.
pub fn key_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}
