//! The domain types of one ILMT import: where it came from, its fingerprint, the snapshot period
//! when known, and one [`IlmtComputer`] per computer ILMT listed. Plain serde types: the store
//! keeps imports as JSON.
//!
//! Unknown is `None`, never a made-up zero: a computer whose partition cores ILMT did not report
//! has `partition_cores: None`, not `Some(0.0)`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::time::{CivilDate, UtcTime};

/// How the data reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportSource {
    /// Pulled live from `api/sam/v2/computers`.
    RestApi,
    /// A saved response of `api/sam/v2/computers`.
    ApiJsonV2,
    /// A saved response of the deprecated `api/sam/computer_systems`.
    ApiJsonV1,
    /// A CSV export of an ILMT report.
    Csv,
    /// An `audit_snapshot_<date>_<time>.zip`.
    AuditSnapshot,
}

impl ImportSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportSource::RestApi => "rest_api",
            ImportSource::ApiJsonV2 => "api_json_v2",
            ImportSource::ApiJsonV1 => "api_json_v1",
            ImportSource::Csv => "csv",
            ImportSource::AuditSnapshot => "audit_snapshot",
        }
    }
}

/// One import: everything a parser read from one input, or a REST pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Import {
    pub source: ImportSource,
    /// The file name as given (or the URL of a REST pull, without its query).
    pub file_name: String,
    /// SHA-256 of the input bytes, lower-case hex. For a REST pull: of every page body in order.
    pub sha256: String,
    /// The ILMT version that produced the data, when the input says so (snapshots do).
    pub format_version: Option<String>,
    /// First day of the period an audit snapshot covers.
    pub period_start: Option<CivilDate>,
    /// Last day of the period an audit snapshot covers.
    pub period_end: Option<CivilDate>,
    /// PVU table version a snapshot was computed with.
    pub pvu_table_version: Option<String>,
    /// Software catalog version a snapshot was computed with.
    pub catalog_version: Option<String>,
    /// The `total` the API answered (when the input has one).
    pub declared_total: Option<u64>,
    pub computers: Vec<IlmtComputer>,
    /// What was odd but did not make the input unusable.
    pub warnings: Vec<ImportWarning>,
}

impl Import {
    /// An empty import of `source`, to be filled by a parser.
    pub fn new(source: ImportSource, file_name: &str, sha256: String) -> Import {
        Import {
            source,
            file_name: file_name.to_string(),
            sha256,
            format_version: None,
            period_start: None,
            period_end: None,
            pvu_table_version: None,
            catalog_version: None,
            declared_total: None,
            computers: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// A problem that did not stop the import, with where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportWarning {
    /// Line in the input (CSV, text files), when it has lines.
    pub line: Option<usize>,
    /// Column or JSON field, e.g. `rows[3].computer_hardware.status`.
    pub field: Option<String>,
    pub message: String,
}

impl ImportWarning {
    pub fn new(line: Option<usize>, field: Option<&str>, message: impl Into<String>) -> Self {
        ImportWarning {
            line,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// ILMT's `computer_hardware.computer_type`: 0 physical, 1 virtual, 2 public cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputerType {
    Physical,
    Virtual,
    PublicCloud,
}

impl ComputerType {
    pub fn from_code(code: i64) -> Option<ComputerType> {
        match code {
            0 => Some(ComputerType::Physical),
            1 => Some(ComputerType::Virtual),
            2 => Some(ComputerType::PublicCloud),
            _ => None,
        }
    }
}

/// ILMT's `computer_hardware.status`: whether the capacity data of a computer is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HardwareStatus {
    /// 1
    Ok,
    /// 2
    MissingScanData,
    /// 3
    MissingHostScanData,
    /// 4: VMware/Hyper-V/RHV host not connected through the VM Manager Tool.
    MissingVmManagerData,
    /// 5 (from ILMT 9.2.10)
    OutdatedVmManagerData,
}

impl HardwareStatus {
    pub fn from_code(code: i64) -> Option<HardwareStatus> {
        match code {
            1 => Some(HardwareStatus::Ok),
            2 => Some(HardwareStatus::MissingScanData),
            3 => Some(HardwareStatus::MissingHostScanData),
            4 => Some(HardwareStatus::MissingVmManagerData),
            5 => Some(HardwareStatus::OutdatedVmManagerData),
            _ => None,
        }
    }
}

/// One computer as ILMT lists it. Field names follow the REST API v2 (`api/sam/v2/computers` and
/// its `computer_hardware` association); the v1 (`api/sam/computer_systems`) names that have no
/// v2 twin are kept at the end. Every field is `None` (or empty) when the input did not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IlmtComputer {
    /// Where in the input this computer was read: the row index for JSON (0-based), the CSV line
    /// of the record, or for a snapshot the line of the first row naming the computer.
    pub source_row: usize,

    // Computer columns (v2).
    /// ILMT's own computer id (v1: `computer_id`).
    pub id: Option<i64>,
    /// BigFix computer id (v1: `computer_remote_id`).
    pub bigfix_id: Option<i64>,
    pub computer_group_id: Option<i64>,
    /// Host name (v1: `host_name`).
    pub name: Option<String>,
    pub dns_name: Option<String>,
    /// ILMT's `ip_address`: a string in v2, an array in v1; split into addresses.
    pub ip_addresses: Vec<String>,
    pub os: Option<String>,
    pub os_type: Option<String>,
    pub first_seen: Option<UtcTime>,
    /// Last time the BigFix client reported (GMT).
    pub last_seen: Option<UtcTime>,
    pub is_deleted: Option<bool>,
    pub deletion_date: Option<UtcTime>,
    pub is_managed_by_vm_manager: Option<bool>,

    // `computer_hardware` association columns (v2).
    pub computer_type: Option<ComputerType>,
    pub status: Option<HardwareStatus>,
    pub server_id: Option<i64>,
    /// For an incompletely defined VM (no VM manager data): `TLM_VM_<uuid>`.
    pub server_name: Option<String>,
    pub server_vendor: Option<String>,
    pub server_model: Option<String>,
    pub server_serial_number: Option<String>,
    pub server_type: Option<String>,
    pub processor_brand: Option<String>,
    pub processor_vendor: Option<String>,
    pub processor_type: Option<String>,
    pub processor_brand_string: Option<String>,
    /// v1 `processor_model`, and the `server` association's `processor_model`.
    pub processor_model: Option<String>,
    pub partition_cores: Option<f64>,
    /// Active sockets of the physical server ("Server Active Sockets"; v1 `server_processors`).
    pub node_total_processors: Option<f64>,
    pub cluster_name: Option<String>,
    pub cluster_cores_count: Option<f64>,
    pub shared_pool_id: Option<String>,
    /// PVU per core in effect for the server (`computer_hardware.pvu_per_core`, snapshot "PVU Per
    /// Core", or the changed value of a snapshot's "Changed PVU Per Core").
    pub pvu_per_core: Option<f64>,
    /// ILMT's `custom_pvu_per_core`: documented as a 0/1 flag "whether the number of PVUs for a
    /// specific server was manually changed" ("Changed PVU Value" in the UI).
    pub custom_pvu_per_core: Option<bool>,
    /// ILMT's `default_pvu_value`: documented as a 0/1 flag "whether a default number of PVUs was
    /// assigned" (unknown processor: 120 PVU per core since 9.2.11).
    pub default_pvu_value: Option<bool>,
    /// POWER: processor cores entitled to the LPAR.
    pub entitlement: Option<f64>,
    /// POWER: LPAR capped (ILMT's code 2 "no data" is `None`).
    pub is_capped: Option<bool>,
    /// POWER: virtual processors of the partition.
    pub online_vp_count: Option<f64>,
    /// Processor cores of the physical server (v1 `server_cores`; `computer_hardware.server_cores`;
    /// a snapshot's "Physical Server CPU Core Subcapacity Limit").
    pub server_cores: Option<f64>,

    // Deprecated v1 `api/sam/computer_systems` columns without a v2 twin.
    /// v1 `host_name` as given (also copied to `name`).
    pub host_name: Option<String>,
    /// v1 `computer_remote_id` as given (also copied to `bigfix_id`).
    pub computer_remote_id: Option<i64>,
    /// v1 `type` as given (e.g. `virtual`); mapped to `computer_type` when it is a known word.
    pub system_type: Option<String>,
    /// v1 `hardware_serial_number`, e.g. `TLM_VM_4236ac43` (also copied to `server_serial_number`).
    pub hardware_serial_number: Option<String>,
    /// v1 `id`: the computer system (not the computer) id.
    pub computer_system_id: Option<i64>,
    /// v1 `parent_id`: the computer system hosting this one.
    pub parent_id: Option<i64>,
}

impl IlmtComputer {
    /// Whether ILMT counts this computer with default capacity (no VM manager data): status 4 or
    /// 5, or a `TLM_VM_` server name or serial number.
    pub fn default_counting(&self) -> bool {
        let tlm = |s: &Option<String>| s.as_deref().is_some_and(|s| s.starts_with("TLM_VM_"));
        matches!(
            self.status,
            Some(HardwareStatus::MissingVmManagerData | HardwareStatus::OutdatedVmManagerData)
        ) || tlm(&self.server_name)
            || tlm(&self.server_serial_number)
            || tlm(&self.hardware_serial_number)
    }
}

impl IlmtComputer {
    /// The VM identifier of a `TLM_VM_<uuid>` server name or serial number (what ILMT uses for a
    /// VM it could not place on a host), lower-cased, for matching against the host's DMI
    /// `product_uuid`. ILMT writes either a full UUID or a prefix of it (`TLM_VM_4236ac43`).
    pub fn tlm_vm_id(&self) -> Option<String> {
        [
            &self.server_name,
            &self.server_serial_number,
            &self.hardware_serial_number,
        ]
        .into_iter()
        .flatten()
        .find_map(|s| s.trim().strip_prefix("TLM_VM_"))
        .filter(|id| !id.is_empty())
        .map(str::to_ascii_lowercase)
    }
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_inputs() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn codes_map_to_the_documented_meanings() {
        assert_eq!(ComputerType::from_code(0), Some(ComputerType::Physical));
        assert_eq!(ComputerType::from_code(2), Some(ComputerType::PublicCloud));
        assert_eq!(ComputerType::from_code(3), None);
        assert_eq!(
            HardwareStatus::from_code(4),
            Some(HardwareStatus::MissingVmManagerData)
        );
        assert_eq!(HardwareStatus::from_code(0), None);
        assert_eq!(HardwareStatus::from_code(6), None);
    }

    #[test]
    fn default_counting_signals() {
        let mut c = IlmtComputer::default();
        assert!(!c.default_counting());
        c.status = Some(HardwareStatus::Ok);
        assert!(!c.default_counting());
        c.server_name = Some("TLM_VM_4236ac43".into());
        assert!(c.default_counting());
        let c = IlmtComputer {
            status: Some(HardwareStatus::OutdatedVmManagerData),
            ..IlmtComputer::default()
        };
        assert!(c.default_counting());
    }

    #[test]
    fn tlm_vm_ids() {
        let c = |name: Option<&str>, serial: Option<&str>| IlmtComputer {
            server_name: name.map(str::to_string),
            hardware_serial_number: serial.map(str::to_string),
            ..IlmtComputer::default()
        };
        assert_eq!(
            c(Some("TLM_VM_4236AC43-9d1e"), None).tlm_vm_id().as_deref(),
            Some("4236ac43-9d1e")
        );
        assert_eq!(
            c(Some("VMware esx01"), Some("TLM_VM_4236ac43"))
                .tlm_vm_id()
                .as_deref(),
            Some("4236ac43")
        );
        assert_eq!(c(Some("VMware esx01"), None).tlm_vm_id(), None);
        assert_eq!(c(Some("TLM_VM_"), None).tlm_vm_id(), None);
    }

    #[test]
    fn serializes_unknown_as_null_and_enums_as_snake_case() {
        let c = IlmtComputer {
            computer_type: Some(ComputerType::PublicCloud),
            status: Some(HardwareStatus::MissingVmManagerData),
            ..IlmtComputer::default()
        };
        let v = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(v["computer_type"], "public_cloud");
        assert_eq!(v["status"], "missing_vm_manager_data");
        assert!(v["partition_cores"].is_null());
        let back: IlmtComputer = serde_json::from_value(v).unwrap_or_default();
        assert_eq!(back, c);
        let s = serde_json::to_value(ImportSource::ApiJsonV1).unwrap_or_default();
        assert_eq!(s, "api_json_v1");
    }
}
