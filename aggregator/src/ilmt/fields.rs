//! The vocabulary of computer fields every importer fills: one [`Field`] per [`IlmtComputer`]
//! field, what kind of value it holds, and how a text cell becomes that value. The JSON, CSV and
//! snapshot parsers all go through here, so a field means the same thing whatever the source.

use super::aliases::{Meaning, Vocabulary};
use super::model::{ComputerType, HardwareStatus, IlmtComputer};
use super::time::{parse_time, UtcTime, ACCEPTED_TIME_FORMS};

/// One computer field. The names ([`Field::name`]) are the REST API v2 column names, except
/// `ip_addresses` (API: `ip_address`) and the v1-only fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Id,
    BigfixId,
    ComputerGroupId,
    Name,
    DnsName,
    IpAddresses,
    Os,
    OsType,
    FirstSeen,
    LastSeen,
    IsDeleted,
    DeletionDate,
    IsManagedByVmManager,
    ComputerType,
    Status,
    ServerId,
    ServerName,
    ServerVendor,
    ServerModel,
    ServerSerialNumber,
    ServerType,
    ProcessorBrand,
    ProcessorVendor,
    ProcessorType,
    ProcessorBrandString,
    ProcessorModel,
    PartitionCores,
    NodeTotalProcessors,
    ClusterName,
    ClusterCoresCount,
    SharedPoolId,
    PvuPerCore,
    CustomPvuPerCore,
    DefaultPvuValue,
    Entitlement,
    IsCapped,
    OnlineVpCount,
    ServerCores,
    HostName,
    ComputerRemoteId,
    SystemType,
    HardwareSerialNumber,
    ComputerSystemId,
    ParentId,
    /// A snapshot's "Changed PVU Per Core": the changed value, or a yes/no flag. Sets
    /// `custom_pvu_per_core` (and `pvu_per_core` when it is a number).
    ChangedPvuPerCore,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Number,
    Bool,
    /// 0 false, 1 true, 2 "no data" (`None`), as ILMT codes `is_capped`.
    TriBool,
    Time,
    IpList,
    ComputerType,
    Status,
    PvuChange,
}

/// A parsed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
    Number(f64),
    Bool(bool),
    Time(UtcTime),
    Ips(Vec<String>),
    ComputerType(ComputerType),
    Status(HardwareStatus),
    PvuChange { changed: bool, value: Option<f64> },
}

/// Why a cell did not become a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellProblem {
    /// The cell cannot be what the column says (text in a number column): the input is malformed.
    Malformed(String),
    /// A word we do not know (a localized "yes" missing from the alias table, a new status code):
    /// the value is unknown, the input is still usable. Reported as a warning.
    Unknown(String),
}

const ALL: [Field; 45] = [
    Field::Id,
    Field::BigfixId,
    Field::ComputerGroupId,
    Field::Name,
    Field::DnsName,
    Field::IpAddresses,
    Field::Os,
    Field::OsType,
    Field::FirstSeen,
    Field::LastSeen,
    Field::IsDeleted,
    Field::DeletionDate,
    Field::IsManagedByVmManager,
    Field::ComputerType,
    Field::Status,
    Field::ServerId,
    Field::ServerName,
    Field::ServerVendor,
    Field::ServerModel,
    Field::ServerSerialNumber,
    Field::ServerType,
    Field::ProcessorBrand,
    Field::ProcessorVendor,
    Field::ProcessorType,
    Field::ProcessorBrandString,
    Field::ProcessorModel,
    Field::PartitionCores,
    Field::NodeTotalProcessors,
    Field::ClusterName,
    Field::ClusterCoresCount,
    Field::SharedPoolId,
    Field::PvuPerCore,
    Field::CustomPvuPerCore,
    Field::DefaultPvuValue,
    Field::Entitlement,
    Field::IsCapped,
    Field::OnlineVpCount,
    Field::ServerCores,
    Field::HostName,
    Field::ComputerRemoteId,
    Field::SystemType,
    Field::HardwareSerialNumber,
    Field::ComputerSystemId,
    Field::ParentId,
    Field::ChangedPvuPerCore,
];

impl Field {
    pub fn all() -> &'static [Field] {
        &ALL
    }

    /// The field's name in the alias table and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::BigfixId => "bigfix_id",
            Field::ComputerGroupId => "computer_group_id",
            Field::Name => "name",
            Field::DnsName => "dns_name",
            Field::IpAddresses => "ip_addresses",
            Field::Os => "os",
            Field::OsType => "os_type",
            Field::FirstSeen => "first_seen",
            Field::LastSeen => "last_seen",
            Field::IsDeleted => "is_deleted",
            Field::DeletionDate => "deletion_date",
            Field::IsManagedByVmManager => "is_managed_by_vm_manager",
            Field::ComputerType => "computer_type",
            Field::Status => "status",
            Field::ServerId => "server_id",
            Field::ServerName => "server_name",
            Field::ServerVendor => "server_vendor",
            Field::ServerModel => "server_model",
            Field::ServerSerialNumber => "server_serial_number",
            Field::ServerType => "server_type",
            Field::ProcessorBrand => "processor_brand",
            Field::ProcessorVendor => "processor_vendor",
            Field::ProcessorType => "processor_type",
            Field::ProcessorBrandString => "processor_brand_string",
            Field::ProcessorModel => "processor_model",
            Field::PartitionCores => "partition_cores",
            Field::NodeTotalProcessors => "node_total_processors",
            Field::ClusterName => "cluster_name",
            Field::ClusterCoresCount => "cluster_cores_count",
            Field::SharedPoolId => "shared_pool_id",
            Field::PvuPerCore => "pvu_per_core",
            Field::CustomPvuPerCore => "custom_pvu_per_core",
            Field::DefaultPvuValue => "default_pvu_value",
            Field::Entitlement => "entitlement",
            Field::IsCapped => "is_capped",
            Field::OnlineVpCount => "online_vp_count",
            Field::ServerCores => "server_cores",
            Field::HostName => "host_name",
            Field::ComputerRemoteId => "computer_remote_id",
            Field::SystemType => "system_type",
            Field::HardwareSerialNumber => "hardware_serial_number",
            Field::ComputerSystemId => "computer_system_id",
            Field::ParentId => "parent_id",
            Field::ChangedPvuPerCore => "changed_pvu_per_core",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        ALL.iter().copied().find(|f| f.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::Id
            | Field::BigfixId
            | Field::ComputerGroupId
            | Field::ServerId
            | Field::ComputerRemoteId
            | Field::ComputerSystemId
            | Field::ParentId => Kind::Int,
            Field::Name
            | Field::DnsName
            | Field::Os
            | Field::OsType
            | Field::ServerName
            | Field::ServerVendor
            | Field::ServerModel
            | Field::ServerSerialNumber
            | Field::ServerType
            | Field::ProcessorBrand
            | Field::ProcessorVendor
            | Field::ProcessorType
            | Field::ProcessorBrandString
            | Field::ProcessorModel
            | Field::ClusterName
            | Field::SharedPoolId
            | Field::HostName
            | Field::SystemType
            | Field::HardwareSerialNumber => Kind::Text,
            Field::PartitionCores
            | Field::NodeTotalProcessors
            | Field::ClusterCoresCount
            | Field::PvuPerCore
            | Field::Entitlement
            | Field::OnlineVpCount
            | Field::ServerCores => Kind::Number,
            Field::IsDeleted
            | Field::IsManagedByVmManager
            | Field::CustomPvuPerCore
            | Field::DefaultPvuValue => Kind::Bool,
            Field::IsCapped => Kind::TriBool,
            Field::FirstSeen | Field::LastSeen | Field::DeletionDate => Kind::Time,
            Field::IpAddresses => Kind::IpList,
            Field::ComputerType => Kind::ComputerType,
            Field::Status => Kind::Status,
            Field::ChangedPvuPerCore => Kind::PvuChange,
        }
    }
}

/// Stores `value` in the field of `c`. A value of the wrong kind for the field is ignored (the
/// parsers only produce values of [`Field::kind`]).
pub fn apply(c: &mut IlmtComputer, field: Field, value: Value) {
    match (field, value) {
        (Field::Id, Value::Int(v)) => c.id = Some(v),
        (Field::BigfixId, Value::Int(v)) => c.bigfix_id = Some(v),
        (Field::ComputerGroupId, Value::Int(v)) => c.computer_group_id = Some(v),
        (Field::ServerId, Value::Int(v)) => c.server_id = Some(v),
        (Field::ComputerRemoteId, Value::Int(v)) => c.computer_remote_id = Some(v),
        (Field::ComputerSystemId, Value::Int(v)) => c.computer_system_id = Some(v),
        (Field::ParentId, Value::Int(v)) => c.parent_id = Some(v),
        (Field::Name, Value::Text(v)) => c.name = Some(v),
        (Field::DnsName, Value::Text(v)) => c.dns_name = Some(v),
        (Field::Os, Value::Text(v)) => c.os = Some(v),
        (Field::OsType, Value::Text(v)) => c.os_type = Some(v),
        (Field::ServerName, Value::Text(v)) => c.server_name = Some(v),
        (Field::ServerVendor, Value::Text(v)) => c.server_vendor = Some(v),
        (Field::ServerModel, Value::Text(v)) => c.server_model = Some(v),
        (Field::ServerSerialNumber, Value::Text(v)) => c.server_serial_number = Some(v),
        (Field::ServerType, Value::Text(v)) => c.server_type = Some(v),
        (Field::ProcessorBrand, Value::Text(v)) => c.processor_brand = Some(v),
        (Field::ProcessorVendor, Value::Text(v)) => c.processor_vendor = Some(v),
        (Field::ProcessorType, Value::Text(v)) => c.processor_type = Some(v),
        (Field::ProcessorBrandString, Value::Text(v)) => c.processor_brand_string = Some(v),
        (Field::ProcessorModel, Value::Text(v)) => c.processor_model = Some(v),
        (Field::ClusterName, Value::Text(v)) => c.cluster_name = Some(v),
        (Field::SharedPoolId, Value::Text(v)) => c.shared_pool_id = Some(v),
        (Field::HostName, Value::Text(v)) => c.host_name = Some(v),
        (Field::SystemType, Value::Text(v)) => c.system_type = Some(v),
        (Field::HardwareSerialNumber, Value::Text(v)) => c.hardware_serial_number = Some(v),
        (Field::PartitionCores, Value::Number(v)) => c.partition_cores = Some(v),
        (Field::NodeTotalProcessors, Value::Number(v)) => c.node_total_processors = Some(v),
        (Field::ClusterCoresCount, Value::Number(v)) => c.cluster_cores_count = Some(v),
        (Field::PvuPerCore, Value::Number(v)) => c.pvu_per_core = Some(v),
        (Field::Entitlement, Value::Number(v)) => c.entitlement = Some(v),
        (Field::OnlineVpCount, Value::Number(v)) => c.online_vp_count = Some(v),
        (Field::ServerCores, Value::Number(v)) => c.server_cores = Some(v),
        (Field::IsDeleted, Value::Bool(v)) => c.is_deleted = Some(v),
        (Field::IsManagedByVmManager, Value::Bool(v)) => c.is_managed_by_vm_manager = Some(v),
        (Field::CustomPvuPerCore, Value::Bool(v)) => c.custom_pvu_per_core = Some(v),
        (Field::DefaultPvuValue, Value::Bool(v)) => c.default_pvu_value = Some(v),
        (Field::IsCapped, Value::Bool(v)) => c.is_capped = Some(v),
        (Field::FirstSeen, Value::Time(v)) => c.first_seen = Some(v),
        (Field::LastSeen, Value::Time(v)) => c.last_seen = Some(v),
        (Field::DeletionDate, Value::Time(v)) => c.deletion_date = Some(v),
        (Field::IpAddresses, Value::Ips(v)) => c.ip_addresses = v,
        (Field::ComputerType, Value::ComputerType(v)) => c.computer_type = Some(v),
        (Field::Status, Value::Status(v)) => c.status = Some(v),
        (Field::ChangedPvuPerCore, Value::PvuChange { changed, value }) => {
            c.custom_pvu_per_core = Some(changed);
            if value.is_some() {
                c.pvu_per_core = value;
            }
        }
        _ => {}
    }
}

/// Fills the v2 fields from their v1 twins where the v2 field is empty (`host_name` → `name`,
/// `computer_remote_id` → `bigfix_id`, `hardware_serial_number` → `server_serial_number`, `type`
/// → `computer_type`).
pub fn fill_from_v1(c: &mut IlmtComputer, vocab: &Vocabulary) {
    if c.name.is_none() {
        c.name.clone_from(&c.host_name);
    }
    if c.bigfix_id.is_none() {
        c.bigfix_id = c.computer_remote_id;
    }
    if c.server_serial_number.is_none() {
        c.server_serial_number.clone_from(&c.hardware_serial_number);
    }
    if c.computer_type.is_none() {
        if let Some(t) = &c.system_type {
            c.computer_type = match vocab.meaning(t) {
                Some(Meaning::Physical) => Some(ComputerType::Physical),
                Some(Meaning::Virtual) => Some(ComputerType::Virtual),
                Some(Meaning::PublicCloud) => Some(ComputerType::PublicCloud),
                _ => None,
            };
        }
    }
}

/// `"-"` and blanks mean "not known" in ILMT exports (the v1 API writes `"-"`).
pub fn is_blank(text: &str) -> bool {
    let t = text.trim();
    t.is_empty() || t == "-"
}

/// A number as ILMT and spreadsheets write it: `1.5`, `2`, or with a decimal comma `1,5`.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let owned;
    let t = if !t.contains('.') && t.matches(',').count() == 1 {
        owned = t.replacen(',', ".", 1);
        owned.as_str()
    } else {
        t
    };
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// An integer; `12.0` is accepted, `12.5` is not.
pub fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let f = parse_number(t)?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(f as i64)
    } else {
        None
    }
}

/// Addresses in one cell: separated by commas, semicolons or white space.
pub fn split_ips(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty() && *s != "-")
        .map(str::to_string)
        .collect()
}

/// `true`/`false` for the API's `1`/`0`/`true`/`false` and the alias table's yes/no words.
pub fn yes_no(text: &str, vocab: &Vocabulary) -> Option<bool> {
    let t = text.trim();
    if t == "1" || t.eq_ignore_ascii_case("true") {
        return Some(true);
    }
    if t == "0" || t.eq_ignore_ascii_case("false") {
        return Some(false);
    }
    match vocab.meaning(t) {
        Some(Meaning::Yes) => Some(true),
        Some(Meaning::No) => Some(false),
        _ => None,
    }
}

/// The value of a text cell for a field of `kind`. `Ok(None)` for an empty cell.
pub fn parse_cell(
    kind: Kind,
    text: &str,
    vocab: &Vocabulary,
) -> Result<Option<Value>, CellProblem> {
    let t = text.trim();
    if kind != Kind::IpList && is_blank(t) {
        return Ok(None);
    }
    let malformed = |what: &str| CellProblem::Malformed(format!("{t:?} is not {what}"));
    match kind {
        Kind::Text => Ok(Some(Value::Text(t.to_string()))),
        Kind::Int => parse_int(t)
            .map(|v| Some(Value::Int(v)))
            .ok_or_else(|| malformed("an integer")),
        Kind::Number => parse_number(t)
            .map(|v| Some(Value::Number(v)))
            .ok_or_else(|| malformed("a number")),
        Kind::Time => parse_time(t).map(|v| Some(Value::Time(v))).ok_or_else(|| {
            CellProblem::Malformed(format!(
                "{t:?} is not a date and time (accepted: {ACCEPTED_TIME_FORMS})"
            ))
        }),
        Kind::IpList => Ok(Some(Value::Ips(split_ips(t)))),
        Kind::Bool => yes_no(t, vocab)
            .map(|v| Some(Value::Bool(v)))
            .ok_or_else(|| {
                CellProblem::Unknown(format!(
                    "{t:?} is not a yes/no value known to the alias table"
                ))
            }),
        Kind::TriBool if t == "2" => Ok(None),
        Kind::TriBool => yes_no(t, vocab)
            .map(|v| Some(Value::Bool(v)))
            .ok_or_else(|| {
                CellProblem::Unknown(format!(
                    "{t:?} is not a yes/no value known to the alias table"
                ))
            }),
        Kind::ComputerType => {
            let by_code = parse_int(t).and_then(ComputerType::from_code);
            let by_word = match vocab.meaning(t) {
                Some(Meaning::Physical) => Some(ComputerType::Physical),
                Some(Meaning::Virtual) => Some(ComputerType::Virtual),
                Some(Meaning::PublicCloud) => Some(ComputerType::PublicCloud),
                _ => None,
            };
            by_code
                .or(by_word)
                .map(|v| Some(Value::ComputerType(v)))
                .ok_or_else(|| {
                    CellProblem::Unknown(format!(
                        "{t:?} is not a computer type (0 physical, 1 virtual, 2 public cloud, or a word in the alias table)"
                    ))
                })
        }
        Kind::Status => {
            let by_code = parse_int(t).and_then(HardwareStatus::from_code);
            let by_word = match vocab.meaning(t) {
                Some(Meaning::Status(s)) => Some(s),
                _ => None,
            };
            by_code
                .or(by_word)
                .map(|v| Some(Value::Status(v)))
                .ok_or_else(|| {
                    CellProblem::Unknown(format!(
                        "{t:?} is not a hardware status (1 to 5, or a word in the alias table)"
                    ))
                })
        }
        Kind::PvuChange => match (yes_no(t, vocab), parse_number(t)) {
            (Some(changed), _) => Ok(Some(Value::PvuChange {
                changed,
                value: None,
            })),
            (None, Some(v)) => Ok(Some(Value::PvuChange {
                changed: true,
                value: Some(v),
            })),
            _ => Err(CellProblem::Unknown(format!(
                "{t:?} is neither a PVU value nor a yes/no value"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::aliases::Aliases;
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Field::all().iter().map(|f| f.name()).collect();
        for f in Field::all() {
            assert_eq!(Field::from_name(f.name()), Some(*f));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Field::all().len());
        assert_eq!(Field::from_name("nope"), None);
    }

    #[test]
    fn numbers() {
        let cases: [(&str, Option<f64>); 9] = [
            ("1.5", Some(1.5)),
            (" 2 ", Some(2.0)),
            ("1,5", Some(1.5)),
            ("0.25", Some(0.25)),
            ("1,234.5", None),
            ("abc", None),
            ("", None),
            ("NaN", None),
            ("inf", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_number(text), want, "{text:?}");
        }
        assert_eq!(parse_int("12"), Some(12));
        assert_eq!(parse_int("12.0"), Some(12));
        assert_eq!(parse_int("12.5"), None);
        assert_eq!(parse_int("-3"), Some(-3));
    }

    #[test]
    fn cells_by_kind() {
        let aliases = Aliases::builtin();
        let vocab = aliases.vocabulary();
        let ok = |kind, text| parse_cell(kind, text, vocab);
        assert_eq!(
            ok(Kind::Text, "  db01 "),
            Ok(Some(Value::Text("db01".into())))
        );
        assert_eq!(ok(Kind::Text, "-"), Ok(None));
        assert_eq!(ok(Kind::Number, ""), Ok(None));
        assert_eq!(ok(Kind::Number, "4"), Ok(Some(Value::Number(4.0))));
        assert!(matches!(
            ok(Kind::Number, "four"),
            Err(CellProblem::Malformed(_))
        ));
        assert_eq!(ok(Kind::Bool, "Ja"), Ok(Some(Value::Bool(true))));
        assert_eq!(ok(Kind::Bool, "non"), Ok(Some(Value::Bool(false))));
        assert_eq!(ok(Kind::Bool, "1"), Ok(Some(Value::Bool(true))));
        assert!(matches!(
            ok(Kind::Bool, "peut-être"),
            Err(CellProblem::Unknown(_))
        ));
        assert_eq!(ok(Kind::TriBool, "2"), Ok(None));
        assert_eq!(
            ok(Kind::ComputerType, "1"),
            Ok(Some(Value::ComputerType(ComputerType::Virtual)))
        );
        assert_eq!(
            ok(Kind::ComputerType, "Virtuell"),
            Ok(Some(Value::ComputerType(ComputerType::Virtual)))
        );
        assert!(matches!(
            ok(Kind::ComputerType, "7"),
            Err(CellProblem::Unknown(_))
        ));
        assert_eq!(
            ok(Kind::Status, "4"),
            Ok(Some(Value::Status(HardwareStatus::MissingVmManagerData)))
        );
        assert_eq!(
            ok(Kind::Status, "Missing VM manager data"),
            Ok(Some(Value::Status(HardwareStatus::MissingVmManagerData)))
        );
        assert_eq!(
            ok(Kind::IpList, "10.0.0.1, 10.0.0.2;fe80::1"),
            Ok(Some(Value::Ips(vec![
                "10.0.0.1".into(),
                "10.0.0.2".into(),
                "fe80::1".into()
            ])))
        );
        assert!(matches!(
            ok(Kind::Time, "03/04/2025"),
            Err(CellProblem::Malformed(_))
        ));
        assert_eq!(
            ok(Kind::PvuChange, "100"),
            Ok(Some(Value::PvuChange {
                changed: true,
                value: Some(100.0)
            }))
        );
        assert_eq!(
            ok(Kind::PvuChange, "No"),
            Ok(Some(Value::PvuChange {
                changed: false,
                value: None
            }))
        );
    }

    #[test]
    fn v1_twins_fill_v2_fields() {
        let aliases = Aliases::builtin();
        let mut c = IlmtComputer {
            host_name: Some("app7".into()),
            computer_remote_id: Some(1234),
            hardware_serial_number: Some("TLM_VM_4236ac43".into()),
            system_type: Some("virtual".into()),
            ..IlmtComputer::default()
        };
        fill_from_v1(&mut c, aliases.vocabulary());
        assert_eq!(c.name.as_deref(), Some("app7"));
        assert_eq!(c.bigfix_id, Some(1234));
        assert_eq!(c.server_serial_number.as_deref(), Some("TLM_VM_4236ac43"));
        assert_eq!(c.computer_type, Some(ComputerType::Virtual));
        assert!(c.default_counting());
    }
}
