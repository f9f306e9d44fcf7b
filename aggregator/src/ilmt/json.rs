//! Saved REST API responses: v2 `api/sam/v2/computers` (`{"total":N,"rows":[...]}`, with the
//! `computer_hardware` association either nested as an object or flattened into
//! `computer_hardware.<column>` keys) and the deprecated v1 `api/sam/computer_systems`.
//!
//! Rows are decoded while serde_json reads them (no intermediate tree), so a value of the wrong
//! type is reported with its line and column as well as its row and field, e.g.
//! `computers.json, line 40, column 31, field "rows[3].last_seen": "yesterday" is not a date`.
//! Values are taken in the forms ILMT writes: numbers may come as strings (`"1.0"`), flags as
//! `0`/`1`/`true`, `ip_address` as a string (v2) or an array (v1); `"-"` and `""` mean unknown.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::aliases::{Aliases, Vocabulary};
use super::fields::{self, apply, parse_cell, CellProblem, Field, Kind, Value};
use super::model::ImportWarning;
use super::model::{sha256_hex, ComputerType, HardwareStatus, IlmtComputer, Import, ImportSource};
use super::{ImportError, Limits};

/// Which API produced a saved response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonVersion {
    /// `api/sam/v2/computers`.
    V2,
    /// `api/sam/computer_systems` (deprecated, disabled by default from ILMT 9.2.34).
    V1,
}

/// One decoded response (or page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The `total` the server answered, when present.
    pub total: Option<u64>,
    pub computers: Vec<IlmtComputer>,
    pub warnings: Vec<ImportWarning>,
}

/// Guesses the API of a saved response from the column names it uses: v1 rows have `host_name`,
/// `computer_remote_id` or `hardware_serial_number`, which v2 does not.
pub fn detect_version(bytes: &[u8]) -> JsonVersion {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if has(b"\"host_name\"") || has(b"\"computer_remote_id\"") || has(b"\"hardware_serial_number\"")
    {
        JsonVersion::V1
    } else {
        JsonVersion::V2
    }
}

/// A saved response of `api/sam/v2/computers`.
pub fn parse_v2(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Import, ImportError> {
    parse_file(file_name, bytes, limits, JsonVersion::V2)
}

/// A saved response of the deprecated `api/sam/computer_systems`.
pub fn parse_v1(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Import, ImportError> {
    parse_file(file_name, bytes, limits, JsonVersion::V1)
}

fn parse_file(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
    version: JsonVersion,
) -> Result<Import, ImportError> {
    let page = parse_page(file_name, bytes, limits, version, 0)?;
    let source = match version {
        JsonVersion::V2 => ImportSource::ApiJsonV2,
        JsonVersion::V1 => ImportSource::ApiJsonV1,
    };
    let mut import = Import::new(source, file_name, sha256_hex(bytes));
    import.declared_total = page.total;
    import.warnings = page.warnings;
    if let Some(total) = page.total {
        if total != page.computers.len() as u64 {
            import.warnings.push(ImportWarning::new(
                None,
                Some("total"),
                format!(
                    "the response says total {total} but holds {} rows (one page of a larger \
                     answer? pull all pages, e.g. with a larger limit)",
                    page.computers.len()
                ),
            ));
        }
    }
    import.warnings.extend(duplicate_ids(&page.computers));
    import.computers = page.computers;
    Ok(import)
}

/// Warnings for ILMT computer ids that appear in more than one row (overlapping pages or a
/// damaged file; reconciliation would otherwise see one computer twice).
pub fn duplicate_ids(computers: &[IlmtComputer]) -> Vec<ImportWarning> {
    let mut first: HashMap<i64, usize> = HashMap::new();
    let mut out = Vec::new();
    for c in computers {
        let Some(id) = c.id else { continue };
        if let Some(prev) = first.get(&id) {
            out.push(ImportWarning::new(
                None,
                Some("id"),
                format!(
                    "ILMT computer id {id} appears in rows {prev} and {}",
                    c.source_row
                ),
            ));
        } else {
            first.insert(id, c.source_row);
        }
    }
    out
}

/// Decodes one response body. `row_offset` numbers the rows (`source_row`) after those of earlier
/// pages.
pub fn parse_page(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
    version: JsonVersion,
    row_offset: usize,
) -> Result<Page, ImportError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(ImportError::file(
            file_name,
            format!(
                "{} bytes is more than the {} bytes accepted",
                bytes.len(),
                limits.max_input_bytes
            ),
        ));
    }
    let ctx = Ctx {
        version,
        limits,
        vocab: Aliases::builtin().vocabulary(),
        row: Cell::new(None),
        path: RefCell::new(String::new()),
        warnings: RefCell::new(Vec::new()),
        row_offset,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = DocumentSeed(&ctx)
        .deserialize(&mut de)
        .and_then(|doc| de.end().map(|()| doc));
    match result {
        Ok((total, computers)) => Ok(Page {
            total,
            computers,
            warnings: ctx.warnings.into_inner(),
        }),
        Err(e) => Err(to_import_error(file_name, &e, &ctx)),
    }
}

fn to_import_error(file: &str, e: &serde_json::Error, ctx: &Ctx<'_>) -> ImportError {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
    let problem = if e.is_syntax() {
        format!("invalid JSON: {message}")
    } else if e.is_eof() {
        format!("the JSON ends early: {message}")
    } else {
        message
    };
    let field = ctx.row.get().map(|row| {
        let path = ctx.path.borrow();
        if path.is_empty() || !e.is_data() {
            format!("rows[{row}]")
        } else {
            format!("rows[{row}].{path}")
        }
    });
    ImportError {
        file: file.to_string(),
        line: (e.line() > 0).then_some(e.line()),
        column: (e.line() > 0).then_some(e.column()),
        field,
        problem,
    }
}

struct Ctx<'l> {
    version: JsonVersion,
    limits: &'l Limits,
    vocab: &'static Vocabulary,
    /// Index of the row being read, for error messages.
    row: Cell<Option<usize>>,
    /// Key of the value being read within the row.
    path: RefCell<String>,
    warnings: RefCell<Vec<ImportWarning>>,
    row_offset: usize,
}

impl Ctx<'_> {
    fn warn(&self, message: String) {
        let field = match self.row.get() {
            Some(row) => format!("rows[{row}].{}", self.path.borrow()),
            None => self.path.borrow().clone(),
        };
        self.warnings
            .borrow_mut()
            .push(ImportWarning::new(None, Some(&field), message));
    }
}

/// v2 computer columns.
fn v2_field(key: &str) -> Option<Field> {
    Some(match key {
        "id" => Field::Id,
        "bigfix_id" => Field::BigfixId,
        "computer_group_id" => Field::ComputerGroupId,
        "name" => Field::Name,
        "dns_name" => Field::DnsName,
        "ip_address" => Field::IpAddresses,
        "os" => Field::Os,
        "os_type" => Field::OsType,
        "first_seen" => Field::FirstSeen,
        "last_seen" => Field::LastSeen,
        "is_deleted" => Field::IsDeleted,
        "deletion_date" => Field::DeletionDate,
        "is_managed_by_vm_manager" => Field::IsManagedByVmManager,
        _ => return None,
    })
}

/// Columns of the `computer_hardware` association.
fn hardware_field(key: &str) -> Option<Field> {
    Some(match key {
        "computer_type" => Field::ComputerType,
        "status" => Field::Status,
        "server_id" => Field::ServerId,
        "server_name" => Field::ServerName,
        "server_vendor" => Field::ServerVendor,
        "server_model" => Field::ServerModel,
        "server_serial_number" => Field::ServerSerialNumber,
        "server_type" => Field::ServerType,
        "processor_brand" => Field::ProcessorBrand,
        "processor_vendor" => Field::ProcessorVendor,
        "processor_type" => Field::ProcessorType,
        "processor_brand_string" => Field::ProcessorBrandString,
        "processor_model" => Field::ProcessorModel,
        "partition_cores" => Field::PartitionCores,
        "node_total_processors" => Field::NodeTotalProcessors,
        "cluster_name" => Field::ClusterName,
        "cluster_cores_count" => Field::ClusterCoresCount,
        "shared_pool_id" => Field::SharedPoolId,
        "pvu_per_core" => Field::PvuPerCore,
        "custom_pvu_per_core" => Field::CustomPvuPerCore,
        "default_pvu_value" => Field::DefaultPvuValue,
        "entitlement" => Field::Entitlement,
        "is_capped" => Field::IsCapped,
        "online_vp_count" => Field::OnlineVpCount,
        "server_cores" => Field::ServerCores,
        _ => return None,
    })
}

/// v1 `computer_systems` columns.
fn v1_field(key: &str) -> Option<Field> {
    Some(match key {
        "id" => Field::ComputerSystemId,
        "parent_id" => Field::ParentId,
        "computer_id" => Field::Id,
        "computer_remote_id" => Field::ComputerRemoteId,
        "server_id" => Field::ServerId,
        "type" => Field::SystemType,
        "os" => Field::Os,
        "host_name" => Field::HostName,
        "dns_name" => Field::DnsName,
        "ip_address" => Field::IpAddresses,
        "last_seen" => Field::LastSeen,
        "hardware_manufacturer" => Field::ServerVendor,
        "hardware_model" => Field::ServerModel,
        "hardware_serial_number" => Field::HardwareSerialNumber,
        "hardware_type" => Field::ServerType,
        "hardware_name" => Field::ServerName,
        "processor_type" => Field::ProcessorType,
        "processor_brand" => Field::ProcessorBrand,
        "processor_vendor" => Field::ProcessorVendor,
        "processor_model" => Field::ProcessorModel,
        "processor_brand_string" => Field::ProcessorBrandString,
        "partition_cores" => Field::PartitionCores,
        "server_processors" => Field::NodeTotalProcessors,
        "server_cores" => Field::ServerCores,
        _ => return None,
    })
}

/// The whole document: `{"total":N,"rows":[...]}` or a bare array of rows.
struct DocumentSeed<'c, 'l>(&'c Ctx<'l>);

type Document = (Option<u64>, Vec<IlmtComputer>);

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = Document;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_> {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with \"total\" and \"rows\", or an array of rows")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut total = None;
        let mut rows = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "total" => total = map.next_value_seed(TotalSeed)?,
                "rows" => rows = Some(map.next_value_seed(RowsSeed(self.0))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match rows {
            Some(rows) => Ok((total, rows)),
            None => Err(de::Error::custom(
                "no \"rows\" array: not a saved response of the computers API",
            )),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        RowsSeed(self.0).visit_seq(seq).map(|rows| (None, rows))
    }
}

/// `total`: a number, or a number in a string.
struct TotalSeed;

impl<'de> DeserializeSeed<'de> for TotalSeed {
    type Value = Option<u64>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TotalSeed {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a count of rows")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u64>, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u64>, E> {
        u64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("total {v} is negative")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u64>, E> {
        v.trim()
            .parse()
            .map(Some)
            .map_err(|_| E::custom(format!("total {v:?} is not a count")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
}

struct RowsSeed<'c, 'l>(&'c Ctx<'l>);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = Vec<IlmtComputer>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = Vec<IlmtComputer>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let ctx = self.0;
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        loop {
            let index = rows.len();
            ctx.row.set(Some(index));
            ctx.path.borrow_mut().clear();
            if index >= ctx.limits.max_rows {
                // Refuse only if another row really follows.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(format!(
                        "more than {} rows (the limit of one import)",
                        ctx.limits.max_rows
                    )));
                }
                break;
            }
            match seq.next_element_seed(RowSeed(ctx))? {
                Some(row) => rows.push(row),
                None => break,
            }
        }
        ctx.row.set(None);
        ctx.path.borrow_mut().clear();
        Ok(rows)
    }
}

struct RowSeed<'c, 'l>(&'c Ctx<'l>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = IlmtComputer;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<IlmtComputer, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_> {
    type Value = IlmtComputer;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IlmtComputer, A::Error> {
        let ctx = self.0;
        let index = ctx.row.get().unwrap_or(0);
        let mut c = IlmtComputer {
            source_row: ctx.row_offset + index,
            ..IlmtComputer::default()
        };
        loop {
            ctx.path.borrow_mut().clear();
            let Some(key) = map.next_key::<String>()? else {
                break;
            };
            let field = match ctx.version {
                JsonVersion::V1 => v1_field(&key),
                JsonVersion::V2 => match key.strip_prefix("computer_hardware.") {
                    Some(column) => hardware_field(column),
                    None if key == "computer_hardware" => {
                        *ctx.path.borrow_mut() = key;
                        map.next_value_seed(HardwareSeed {
                            ctx,
                            computer: &mut c,
                        })?;
                        continue;
                    }
                    None => v2_field(&key),
                },
            };
            *ctx.path.borrow_mut() = key;
            match field {
                Some(field) => {
                    if let Some(value) = map.next_value_seed(ValueSeed { ctx, field })? {
                        apply(&mut c, field, value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        ctx.path.borrow_mut().clear();
        if ctx.version == JsonVersion::V1 {
            fields::fill_from_v1(&mut c, ctx.vocab);
        }
        Ok(c)
    }
}

/// The nested `computer_hardware` object (or `null`).
struct HardwareSeed<'c, 'l, 'm> {
    ctx: &'c Ctx<'l>,
    computer: &'m mut IlmtComputer,
}

impl<'de> DeserializeSeed<'de> for HardwareSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for HardwareSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the computer_hardware object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        loop {
            *ctx.path.borrow_mut() = "computer_hardware".to_string();
            let Some(key) = map.next_key::<String>()? else {
                break;
            };
            let field = hardware_field(&key);
            *ctx.path.borrow_mut() = format!("computer_hardware.{key}");
            match field {
                Some(field) => {
                    if let Some(value) = map.next_value_seed(ValueSeed { ctx, field })? {
                        apply(self.computer, field, value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// One value, checked against its field's kind.
struct ValueSeed<'c, 'l> {
    ctx: &'c Ctx<'l>,
    field: Field,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn kind(&self) -> Kind {
        self.field.kind()
    }

    fn integer<E: de::Error>(&self, code: i64) -> Result<Option<Value>, E> {
        match self.kind() {
            Kind::Int => Ok(Some(Value::Int(code))),
            Kind::Number => Ok(Some(Value::Number(code as f64))),
            Kind::Text => Ok(Some(Value::Text(code.to_string()))),
            Kind::Bool => match code {
                0 => Ok(Some(Value::Bool(false))),
                1 => Ok(Some(Value::Bool(true))),
                _ => Err(E::custom(format!("{code} is not a flag (0 or 1)"))),
            },
            Kind::TriBool => match code {
                0 => Ok(Some(Value::Bool(false))),
                1 => Ok(Some(Value::Bool(true))),
                2 => Ok(None),
                _ => Err(E::custom(format!("{code} is not 0, 1 or 2"))),
            },
            Kind::ComputerType => match ComputerType::from_code(code) {
                Some(t) => Ok(Some(Value::ComputerType(t))),
                None => {
                    self.ctx.warn(format!(
                        "computer type {code} is not one ILMT documents (0 physical, 1 virtual, \
                         2 public cloud); left unknown"
                    ));
                    Ok(None)
                }
            },
            Kind::Status => match HardwareStatus::from_code(code) {
                Some(s) => Ok(Some(Value::Status(s))),
                None => {
                    self.ctx.warn(format!(
                        "status {code} is not one ILMT documents (1 to 5); left unknown"
                    ));
                    Ok(None)
                }
            },
            Kind::PvuChange => Ok(Some(Value::PvuChange {
                changed: true,
                value: Some(code as f64),
            })),
            Kind::Time => Err(E::custom(format!("{code} is not a date and time string"))),
            Kind::IpList => Err(E::custom(format!("{code} is not an IP address"))),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind() {
            Kind::Int => "an integer",
            Kind::Text => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a flag (true/false or 0/1)",
            Kind::TriBool => "0, 1 or 2",
            Kind::Time => "a date and time string",
            Kind::IpList => "an IP address string or an array of them",
            Kind::ComputerType => "a computer type code",
            Kind::Status => "a status code",
            Kind::PvuChange => "a PVU value",
        };
        f.write_str(what)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        match self.kind() {
            Kind::Bool | Kind::TriBool => Ok(Some(Value::Bool(v))),
            _ => Err(de::Error::invalid_type(de::Unexpected::Bool(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        self.integer(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        match i64::try_from(v) {
            Ok(v) => self.integer(v),
            Err(_) if self.kind() == Kind::Number => Ok(Some(Value::Number(v as f64))),
            Err(_) => Err(E::custom(format!("{v} is out of range"))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Value>, E> {
        match self.kind() {
            Kind::Number => Ok(Some(Value::Number(v))),
            Kind::PvuChange => Ok(Some(Value::PvuChange {
                changed: true,
                value: Some(v),
            })),
            Kind::Text => Ok(Some(Value::Text(v.to_string()))),
            _ if v.fract() == 0.0 && v.abs() < 9.0e15 => self.integer(v as i64),
            _ => Err(de::Error::invalid_type(de::Unexpected::Float(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        if v.len() > self.ctx.limits.max_field_bytes {
            return Err(E::custom(format!(
                "a value of {} bytes is longer than the {} bytes accepted",
                v.len(),
                self.ctx.limits.max_field_bytes
            )));
        }
        match parse_cell(self.kind(), v, self.ctx.vocab) {
            Ok(value) => Ok(value),
            Err(CellProblem::Malformed(m)) => Err(E::custom(m)),
            Err(CellProblem::Unknown(m)) => {
                self.ctx.warn(format!("{m}; left unknown"));
                Ok(None)
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        if self.kind() != Kind::IpList {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let mut ips = Vec::new();
        while let Some(item) = seq.next_element::<Option<String>>()? {
            let Some(item) = item else { continue };
            if item.len() > self.ctx.limits.max_field_bytes {
                return Err(de::Error::custom("an address is longer than accepted"));
            }
            ips.extend(fields::split_ips(&item));
            if ips.len() > 4_096 {
                return Err(de::Error::custom("more than 4096 addresses in one row"));
            }
        }
        Ok(Some(Value::Ips(ips)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ilmt::time::parse_time;

    fn v2(text: &str) -> Result<Import, ImportError> {
        parse_v2("computers.json", text.as_bytes(), &Limits::default())
    }

    #[test]
    fn v2_nested_and_flattened_hardware_read_the_same() {
        let nested = r#"{"total":1,"rows":[{"id":7,"bigfix_id":"1234","name":"db01",
            "dns_name":"db01.bank.example","ip_address":"10.1.2.3, 10.1.2.4","os":"Linux Red Hat",
            "os_type":"Linux","first_seen":"2024-01-02T03:04:05Z","last_seen":"2025-03-04 10:11:12",
            "is_deleted":false,"deletion_date":null,"is_managed_by_vm_manager":1,
            "computer_hardware":{"computer_type":1,"status":"4","server_id":99,
              "server_name":"TLM_VM_4236ac43","partition_cores":"2.0","is_capped":2,
              "custom_pvu_per_core":"0","default_pvu_value":"1","cluster_cores_count":64,
              "entitlement":0.5,"unknown_column":{"deep":[1,2]}},
            "computer_health":{"agent_version":"10.0.7"}}]}"#;
        let flat = r#"{"total":1,"rows":[{"id":7,"bigfix_id":1234,"name":"db01",
            "dns_name":"db01.bank.example","ip_address":"10.1.2.3,10.1.2.4","os":"Linux Red Hat",
            "os_type":"Linux","first_seen":"2024-01-02T03:04:05Z","last_seen":"2025-03-04T10:11:12Z",
            "is_deleted":"0","is_managed_by_vm_manager":true,
            "computer_hardware.computer_type":"1","computer_hardware.status":4,
            "computer_hardware.server_id":"99","computer_hardware.server_name":"TLM_VM_4236ac43",
            "computer_hardware.partition_cores":2,"computer_hardware.is_capped":"2",
            "computer_hardware.custom_pvu_per_core":false,"computer_hardware.default_pvu_value":true,
            "computer_hardware.cluster_cores_count":"64","computer_hardware.entitlement":"0.5"}]}"#;
        let (Ok(a), Ok(b)) = (v2(nested), v2(flat)) else {
            panic!("{:?} / {:?}", v2(nested).err(), v2(flat).err());
        };
        assert_eq!(a.computers, b.computers);
        let c = &a.computers[0];
        assert_eq!(c.id, Some(7));
        assert_eq!(c.bigfix_id, Some(1234));
        assert_eq!(c.ip_addresses, vec!["10.1.2.3", "10.1.2.4"]);
        assert_eq!(c.last_seen, parse_time("2025-03-04T10:11:12Z"));
        assert_eq!(c.is_deleted, Some(false));
        assert_eq!(c.deletion_date, None);
        assert_eq!(c.computer_type, Some(ComputerType::Virtual));
        assert_eq!(c.status, Some(HardwareStatus::MissingVmManagerData));
        assert_eq!(c.partition_cores, Some(2.0));
        assert_eq!(c.is_capped, None, "2 means no data");
        assert_eq!(c.custom_pvu_per_core, Some(false));
        assert_eq!(c.default_pvu_value, Some(true));
        assert_eq!(c.entitlement, Some(0.5));
        assert_eq!(c.node_total_processors, None, "absent stays unknown, not 0");
        assert!(c.default_counting());
        assert_eq!(a.declared_total, Some(1));
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        assert_eq!(a.source, ImportSource::ApiJsonV2);
        assert_eq!(a.sha256, sha256_hex(nested.as_bytes()));
    }

    #[test]
    fn v1_rows_map_to_v2_fields() {
        // The example row of IBM's "Determining license usage for selected computer systems".
        let text = r#"[{"id": 2, "parent_id": 175, "type": "virtual", "os": "Win2008R2 6.1.7601",
            "host_name": "app7", "dns_name": "app7.example", "ip_address": ["10.0.0.7"],
            "last_seen": "2014-06-06T03:56:39Z", "hardware_manufacturer": "-",
            "hardware_model": "-", "hardware_serial_number": "TLM_VM_4236ac43",
            "processor_type": "Multi-core", "processor_brand": "Xeon(R), 3 or 4 Socket",
            "processor_vendor": "Intel(R)", "processor_model": "E3-12xx, E7-28xx, E7-48xx",
            "partition_cores": "1.0", "server_processors": 1, "server_cores": 1,
            "computer_id": 31, "computer_remote_id": 1611}]"#;
        let import = parse_v1("systems.json", text.as_bytes(), &Limits::default());
        let Ok(import) = import else {
            panic!("{:?}", import.err());
        };
        let c = &import.computers[0];
        assert_eq!(c.computer_system_id, Some(2));
        assert_eq!(c.parent_id, Some(175));
        assert_eq!(c.id, Some(31));
        assert_eq!(c.bigfix_id, Some(1611));
        assert_eq!(c.name.as_deref(), Some("app7"));
        assert_eq!(c.host_name.as_deref(), Some("app7"));
        assert_eq!(c.system_type.as_deref(), Some("virtual"));
        assert_eq!(c.computer_type, Some(ComputerType::Virtual));
        assert_eq!(c.server_vendor, None, "\"-\" is unknown");
        assert_eq!(c.hardware_serial_number.as_deref(), Some("TLM_VM_4236ac43"));
        assert_eq!(c.server_serial_number.as_deref(), Some("TLM_VM_4236ac43"));
        assert_eq!(c.partition_cores, Some(1.0));
        assert_eq!(c.server_cores, Some(1.0));
        assert_eq!(c.node_total_processors, Some(1.0));
        assert_eq!(c.ip_addresses, vec!["10.0.0.7"]);
        assert!(c.default_counting());
        assert_eq!(import.source, ImportSource::ApiJsonV1);
        assert_eq!(detect_version(text.as_bytes()), JsonVersion::V1);
    }

    #[test]
    fn malformed_inputs_name_line_column_row_and_field() {
        struct Case {
            text: &'static str,
            line: usize,
            field: Option<&'static str>,
            problem: &'static str,
        }
        let cases = [
            Case {
                text: "{\"total\":1,\"rows\":[\n{\"id\":1,\n\"last_seen\":\"yesterday\"}]}",
                line: 3,
                field: Some("rows[0].last_seen"),
                problem: "\"yesterday\" is not a date and time",
            },
            Case {
                text: "{\"rows\":[{\"id\":1},\n{\"id\":2,\"computer_hardware\":{\n\"partition_cores\":\"many\"}}]}",
                line: 3,
                field: Some("rows[1].computer_hardware.partition_cores"),
                problem: "\"many\" is not a number",
            },
            Case {
                text: "{\"rows\":[{\"id\":\"seven\"}]}",
                line: 1,
                field: Some("rows[0].id"),
                problem: "\"seven\" is not an integer",
            },
            Case {
                text: "{\"rows\":[{\"is_deleted\":7}]}",
                line: 1,
                field: Some("rows[0].is_deleted"),
                problem: "7 is not a flag",
            },
            Case {
                text: "{\"rows\":[{\"name\":{\"first\":\"x\"}}]}",
                line: 1,
                field: Some("rows[0].name"),
                problem: "invalid type: map, expected a string",
            },
            Case {
                text: "{\"rows\":[{\"id\":1},\n{\"id\":2,,}]}",
                line: 2,
                field: Some("rows[1]"),
                problem: "invalid JSON",
            },
            Case {
                text: "{\"rows\":[{\"id\":1}",
                line: 1,
                field: Some("rows[1]"),
                problem: "the JSON ends early",
            },
            Case {
                text: "{\"total\":3}",
                line: 1,
                field: None,
                problem: "no \"rows\" array",
            },
            Case {
                text: "{\"rows\":[]} trailing",
                line: 1,
                field: None,
                problem: "invalid JSON: trailing characters",
            },
            Case {
                text: "[1]",
                line: 1,
                field: Some("rows[0]"),
                problem: "expected a row object",
            },
        ];
        for case in cases {
            let err = match v2(case.text) {
                Ok(i) => panic!("{:?} was accepted: {:?}", case.text, i.computers),
                Err(e) => e,
            };
            assert_eq!(err.file, "computers.json");
            assert_eq!(err.line, Some(case.line), "{err}");
            assert!(err.column.is_some_and(|c| c > 0), "{err}");
            assert_eq!(err.field.as_deref(), case.field, "{err}");
            assert!(err.problem.contains(case.problem), "{err}");
            assert!(
                err.to_string().starts_with("computers.json, line "),
                "{err}"
            );
        }
    }

    #[test]
    fn unknown_codes_are_warnings_and_unknown() {
        let import = v2(
            r#"{"total":2,"rows":[{"id":1,"computer_hardware":{"status":9,"computer_type":"Martian"}},{"id":1}]}"#,
        );
        let Ok(import) = import else {
            panic!("{:?}", import.err());
        };
        assert_eq!(import.computers[0].status, None);
        assert_eq!(import.computers[0].computer_type, None);
        let fields: Vec<_> = import
            .warnings
            .iter()
            .map(|w| w.field.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            vec![
                "rows[0].computer_hardware.status",
                "rows[0].computer_hardware.computer_type",
                "id"
            ]
        );
        assert!(import.warnings[2].message.contains("rows 0 and 1"));
    }

    #[test]
    fn partial_page_is_a_warning() {
        let import = v2(r#"{"total":2500,"rows":[{"id":1,"name":"a"}]}"#);
        let Ok(import) = import else {
            panic!("{:?}", import.err());
        };
        assert_eq!(import.declared_total, Some(2500));
        assert!(import.warnings[0]
            .message
            .contains("total 2500 but holds 1 rows"));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_rows: 2,
            max_field_bytes: 8,
            max_input_bytes: 200,
            ..Limits::default()
        };
        let three = br#"{"rows":[{"id":1},{"id":2},{"id":3}]}"#;
        let err = parse_v2("x.json", three, &limits).err();
        assert!(err.is_some_and(|e| e.problem.contains("more than 2 rows")));
        let two = br#"{"rows":[{"id":1},{"id":2}]}"#;
        assert!(parse_v2("x.json", two, &limits).is_ok());
        let long = br#"{"rows":[{"name":"a-very-long-name"}]}"#;
        let err = parse_v2("x.json", long, &limits).err();
        assert!(err.is_some_and(|e| e.problem.contains("longer than the 8 bytes")));
        let big = vec![b' '; 201];
        let err = parse_v2("x.json", &big, &limits).err();
        assert!(err.is_some_and(|e| e.line.is_none() && e.problem.contains("201 bytes")));
    }
}
