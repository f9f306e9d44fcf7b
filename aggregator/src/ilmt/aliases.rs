//! The alias table: which CSV header (API name, English UI name, localized UI name) means which
//! [`Field`], which header fields a CSV export must have, and the words cells use for yes/no,
//! computer types and statuses. The table is data (`aggregator/data/ilmt-aliases.toml`, compiled
//! in; [`Aliases::from_toml`] loads a site's own copy), each entry marked with its source.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;

use super::fields::Field;
use super::model::HardwareStatus;

/// The table shipped with subcap.
pub const BUILTIN_TOML: &str = include_str!("../../data/ilmt-aliases.toml");

#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    #[error("alias table: {0}")]
    Toml(String),
    #[error("alias table: unknown schema {0} (this build reads schema 1)")]
    Schema(u32),
    #[error("alias table: entry {text:?}: unknown field {field:?}")]
    UnknownField { text: String, field: String },
    #[error("alias table: entry {text:?}: unknown meaning {meaning:?}")]
    UnknownMeaning { text: String, meaning: String },
    #[error("alias table: entry {text:?}: unknown source {source_key:?} (add it to [sources])")]
    UnknownSource { text: String, source_key: String },
    #[error("alias table: {text:?} means both {first} and {second}")]
    Conflict {
        text: String,
        first: String,
        second: String,
    },
}

/// What a cell word means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Yes,
    No,
    Physical,
    Virtual,
    PublicCloud,
    Status(HardwareStatus),
}

impl Meaning {
    fn from_name(name: &str) -> Option<Meaning> {
        Some(match name {
            "yes" => Meaning::Yes,
            "no" => Meaning::No,
            "physical" => Meaning::Physical,
            "virtual" => Meaning::Virtual,
            "public_cloud" => Meaning::PublicCloud,
            "status_ok" => Meaning::Status(HardwareStatus::Ok),
            "status_missing_scan_data" => Meaning::Status(HardwareStatus::MissingScanData),
            "status_missing_host_scan_data" => Meaning::Status(HardwareStatus::MissingHostScanData),
            "status_missing_vm_manager_data" => {
                Meaning::Status(HardwareStatus::MissingVmManagerData)
            }
            "status_outdated_vm_manager_data" => {
                Meaning::Status(HardwareStatus::OutdatedVmManagerData)
            }
            _ => return None,
        })
    }
}

/// Cell words and what they mean.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Normalized word → meaning.
    words: HashMap<String, Meaning>,
    /// The words exactly as the table writes them: most cells match one, without normalizing
    /// (which allocates) on every row.
    exact: HashMap<String, Meaning>,
}

impl Vocabulary {
    /// What `text` means, matched like headers (case and white space folded).
    pub fn meaning(&self, text: &str) -> Option<Meaning> {
        if let Some(m) = self.exact.get(text.trim()) {
            return Some(*m);
        }
        self.words.get(&normalize(text)).copied()
    }
}

/// The loaded table.
#[derive(Debug, Clone)]
pub struct Aliases {
    headers: HashMap<String, Field>,
    required: Vec<Field>,
    vocabulary: Vocabulary,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    schema: u32,
    #[allow(dead_code)]
    updated: String,
    required: Vec<String>,
    sources: BTreeMap<String, String>,
    headers: Vec<HeaderEntry>,
    values: Vec<ValueEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderEntry {
    field: String,
    #[allow(dead_code)]
    lang: String,
    text: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueEntry {
    meaning: String,
    #[allow(dead_code)]
    lang: String,
    text: String,
    source: String,
}

/// How headers and words are compared: trimmed, lower-cased, runs of white space (including
/// no-break spaces) folded to one space, surrounding quotes and a `computer_hardware.` prefix
/// removed.
pub fn normalize(text: &str) -> String {
    let t = text.trim().trim_matches('"').trim();
    let mut out = String::with_capacity(t.len());
    let mut space = false;
    for ch in t.chars() {
        if ch.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.extend(ch.to_lowercase());
    }
    match out.strip_prefix("computer_hardware.") {
        Some(rest) => rest.to_string(),
        None => out,
    }
}

impl Aliases {
    /// The table compiled into this build. It is checked by the tests, so loading cannot fail in
    /// a released binary; if it ever did, the table is empty and every CSV import is refused for
    /// its missing required columns (never a panic).
    pub fn builtin() -> &'static Aliases {
        static BUILTIN: OnceLock<Aliases> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Aliases::from_toml(BUILTIN_TOML).unwrap_or_else(|_| Aliases {
                headers: HashMap::new(),
                required: vec![Field::Name],
                vocabulary: Vocabulary::default(),
            })
        })
    }

    /// Loads a table in the format of `aggregator/data/ilmt-aliases.toml`.
    pub fn from_toml(text: &str) -> Result<Aliases, AliasError> {
        let file: TableFile = toml::from_str(text).map_err(|e| AliasError::Toml(e.to_string()))?;
        if file.schema != 1 {
            return Err(AliasError::Schema(file.schema));
        }
        let check_source = |text: &str, source: &str| {
            if file.sources.contains_key(source) {
                Ok(())
            } else {
                Err(AliasError::UnknownSource {
                    text: text.to_string(),
                    source_key: source.to_string(),
                })
            }
        };
        let mut headers: HashMap<String, Field> = HashMap::new();
        for h in &file.headers {
            check_source(&h.text, &h.source)?;
            let field = Field::from_name(&h.field).ok_or_else(|| AliasError::UnknownField {
                text: h.text.clone(),
                field: h.field.clone(),
            })?;
            let key = normalize(&h.text);
            match headers.get(&key) {
                Some(prev) if *prev != field => {
                    return Err(AliasError::Conflict {
                        text: h.text.clone(),
                        first: prev.name().to_string(),
                        second: field.name().to_string(),
                    })
                }
                _ => {
                    headers.insert(key, field);
                }
            }
        }
        let mut words: HashMap<String, Meaning> = HashMap::new();
        let mut exact: HashMap<String, Meaning> = HashMap::new();
        for v in &file.values {
            check_source(&v.text, &v.source)?;
            let meaning =
                Meaning::from_name(&v.meaning).ok_or_else(|| AliasError::UnknownMeaning {
                    text: v.text.clone(),
                    meaning: v.meaning.clone(),
                })?;
            let key = normalize(&v.text);
            match words.get(&key) {
                Some(prev) if *prev != meaning => {
                    return Err(AliasError::Conflict {
                        text: v.text.clone(),
                        first: format!("{prev:?}"),
                        second: format!("{meaning:?}"),
                    })
                }
                _ => {
                    words.insert(key, meaning);
                    exact.insert(v.text.trim().to_string(), meaning);
                }
            }
        }
        let required = file
            .required
            .iter()
            .map(|name| {
                Field::from_name(name).ok_or_else(|| AliasError::UnknownField {
                    text: "required".to_string(),
                    field: name.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Aliases {
            headers,
            required,
            vocabulary: Vocabulary { words, exact },
        })
    }

    /// The field a header cell names, if any.
    pub fn field(&self, header: &str) -> Option<Field> {
        self.headers.get(&normalize(header)).copied()
    }

    /// Fields a CSV export must have a column for.
    pub fn required(&self) -> &[Field] {
        &self.required
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// How many header texts the table knows.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_loads_and_is_consistent() {
        let loaded = Aliases::from_toml(BUILTIN_TOML);
        let aliases = match loaded {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        assert!(aliases.header_count() > 200, "{}", aliases.header_count());
        assert_eq!(aliases.required(), &[Field::Name]);
    }

    #[test]
    fn builtin_covers_the_languages_the_issue_asks_for() {
        let file: Result<TableFile, _> = toml::from_str(BUILTIN_TOML);
        let Ok(file) = file else {
            panic!("table parses");
        };
        for lang in ["api", "en", "de", "fr", "es", "it", "ja", "pt-BR"] {
            let n = file.headers.iter().filter(|h| h.lang == lang).count();
            assert!(n >= 20, "{lang}: only {n} header entries");
        }
        // Every field that a report can carry has at least an API name and an English name.
        for field in Field::all() {
            let langs: Vec<&str> = file
                .headers
                .iter()
                .filter(|h| h.field == field.name())
                .map(|h| h.lang.as_str())
                .collect();
            let api_only_fields = [
                Field::ComputerSystemId,
                Field::ParentId,
                Field::SystemType,
                Field::HostName,
                Field::ComputerRemoteId,
                Field::ChangedPvuPerCore,
            ];
            if !api_only_fields.contains(field) {
                assert!(langs.contains(&"api"), "{}: no API name", field.name());
            }
        }
    }

    #[test]
    fn headers_match_across_case_space_and_language() {
        let a = Aliases::builtin();
        let cases = [
            ("name", Some(Field::Name)),
            ("  Computer   Name ", Some(Field::Name)),
            ("COMPUTERNAME", Some(Field::Name)),
            ("computer_hardware.status", Some(Field::Status)),
            ("\"Server Name\"", Some(Field::ServerName)),
            ("Zuletzt gesehen", Some(Field::LastSeen)),
            ("Dernière détection", Some(Field::LastSeen)),
            ("区画コア", Some(Field::PartitionCores)),
            ("Núcleos da Partição", Some(Field::PartitionCores)),
            ("Last\u{a0}Seen", Some(Field::LastSeen)),
            ("Favourite Colour", None),
        ];
        for (header, want) in cases {
            assert_eq!(a.field(header), want, "{header:?}");
        }
        let v = a.vocabulary();
        assert_eq!(v.meaning("JA"), Some(Meaning::Yes));
        assert_eq!(v.meaning("não"), Some(Meaning::No));
        assert_eq!(v.meaning("Sì"), Some(Meaning::Yes));
        assert_eq!(
            v.meaning("missing  vm manager data"),
            Some(Meaning::Status(HardwareStatus::MissingVmManagerData))
        );
        assert_eq!(v.meaning("maybe"), None);
    }

    #[test]
    fn bad_tables_are_refused_with_the_entry_named() {
        let base = |headers: &str, values: &str| {
            format!(
                "schema = 1\nupdated = \"x\"\nrequired = [\"name\"]\n\
                 headers = [{headers}]\nvalues = [{values}]\n[sources]\ns = \"src\"\n"
            )
        };
        let h = |field: &str, text: &str, source: &str| {
            format!("{{ field = \"{field}\", lang = \"en\", text = \"{text}\", source = \"{source}\" }}")
        };
        let unknown_field = base(&h("colour", "Colour", "s"), "");
        assert!(matches!(
            Aliases::from_toml(&unknown_field),
            Err(AliasError::UnknownField { .. })
        ));
        let unknown_source = base(&h("name", "Name", "nowhere"), "");
        assert!(matches!(
            Aliases::from_toml(&unknown_source),
            Err(AliasError::UnknownSource { .. })
        ));
        let conflict = base(
            &format!(
                "{}, {}",
                h("name", "Computer", "s"),
                h("os", "computer", "s")
            ),
            "",
        );
        let err = Aliases::from_toml(&conflict).map(|_| ()).err();
        assert!(matches!(err, Some(AliasError::Conflict { .. })), "{err:?}");
        let bad_meaning = base(
            "",
            "{ meaning = \"perhaps\", lang = \"en\", text = \"Maybe\", source = \"s\" }",
        );
        assert!(matches!(
            Aliases::from_toml(&bad_meaning),
            Err(AliasError::UnknownMeaning { .. })
        ));
        assert!(matches!(
            Aliases::from_toml(
                "schema = 2\nupdated=\"\"\nrequired=[]\nheaders=[]\nvalues=[]\n[sources]\n"
            ),
            Err(AliasError::Schema(2))
        ));
        assert!(matches!(
            Aliases::from_toml("not toml ["),
            Err(AliasError::Toml(_))
        ));
    }
}
