//! What the demo prints: the estate it built, then the same tables `subcap hosts --uncovered`,
//! `subcap hosts --ineligible` and `subcap findings` print, the totals, and the commands to try.
//! Pure: an [`Outcome`] in, text out.

use std::fmt::Write as _;

use subcap_proto::v1 as pb;

use super::estate::{Estate, HostSpec, IlmtOnly, Keys};
use crate::domain::Code;
use crate::ops::output::{Format, Table};
use crate::ops::views::{self, Answer};

/// Everything the demo found out, ready to print.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The demo folder and the aggregator's address.
    pub folder: String,
    pub aggregator: String,
    /// One row per host reported and per ILMT-only computer ([`ESTATE_COLUMNS`]).
    pub estate: Table,
    /// The ILMT import reconciled against.
    pub import: Option<pb::ImportInfo>,
    /// Every host and every finding (`subcap findings`).
    pub all: Answer,
    /// `subcap hosts --uncovered`.
    pub uncovered: Answer,
    /// `subcap hosts --ineligible`.
    pub ineligible: Answer,
    /// This machine's host key, when it was reported.
    pub this_machine: Option<String>,
    /// Why this machine was not reported, when it was not.
    pub this_machine_problem: Option<String>,
    /// `subcap` commands to try against the demo's aggregator.
    pub commands: Vec<String>,
    /// Whether the aggregator keeps serving after the printout.
    pub keep: bool,
}

pub const ESTATE_COLUMNS: &[&str] = &["host_key", "platform", "ibm", "ilmt", "story"];

/// What ILMT knows of a host, in a few words.
pub fn ilmt_words(h: &HostSpec) -> String {
    let Some(r) = &h.ilmt else {
        return "unknown to ILMT".into();
    };
    let mut words = match r.last_seen_days_ago {
        0 => "seen today".to_string(),
        1 => "seen yesterday".to_string(),
        n => format!("last seen {n} days ago"),
    };
    if r.keys() == Keys::Hostname {
        let name = r.name.clone().unwrap_or_else(|| h.short.clone());
        let _ = write!(words, ", by name {name} only");
    }
    if !r.vm_manager {
        words.push_str(", no VM manager data");
    }
    if let Some(d) = &r.duplicate {
        let _ = write!(
            words,
            "; and an older computer last seen {} days ago",
            d.last_seen_days_ago
        );
    }
    words
}

fn ilmt_only_words(g: &IlmtOnly) -> String {
    match g.deleted_days_ago {
        Some(d) => format!("deleted {d} days ago"),
        None if g.last_seen_days_ago == 0 => "seen today".into(),
        None => format!("last seen {} days ago", g.last_seen_days_ago),
    }
}

/// The estate table: each host as built (its host key is its FQDN), then ILMT's own computers.
pub fn estate_table(estate: &Estate) -> Table {
    let mut t = Table::new(ESTATE_COLUMNS);
    for h in &estate.hosts {
        t.push(vec![
            h.name.clone(),
            h.platform.clone(),
            h.ibm.join(" + "),
            ilmt_words(h),
            h.story.clone(),
        ]);
    }
    for g in &estate.ilmt_only {
        t.push(vec![
            g.dns_name.clone().unwrap_or_else(|| g.name.clone()),
            "(no agent)".into(),
            String::new(),
            ilmt_only_words(g),
            g.story.clone(),
        ]);
    }
    t
}

/// The rows of a table as JSON objects keyed by column name (as `subcap --format json` prints).
fn rows_json(t: &Table) -> serde_json::Value {
    serde_json::Value::Array(
        t.rows
            .iter()
            .map(|row| {
                serde_json::Value::Object(
                    t.columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| (c.to_string(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
            })
            .collect(),
    )
}

/// `findings by code: UNCOVERED 4, ...` (codes with none left out).
fn by_code(a: &Answer) -> String {
    let Some(t) = &a.totals else {
        return String::new();
    };
    let counts: Vec<String> = Code::ALL
        .iter()
        .filter_map(|c| {
            t.findings_by_code
                .get(c.as_str())
                .filter(|n| **n > 0)
                .map(|n| format!("{} {n}", c.as_str()))
        })
        .collect();
    format!("findings by code: {}\n", counts.join(", "))
}

/// What to print: `out` (standard output) and `notes` (standard error; empty for `table`, which
/// prints everything on standard output).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Printed {
    pub out: String,
    pub notes: String,
}

fn narrative(o: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "subcap demo: an aggregator on {} with a sled store and certificates in {}",
        o.aggregator, o.folder
    );
    let _ = writeln!(
        s,
        "Agents scanned the hosts below (fixture trees composed in {}/hosts) and sent each report \
         over mutual TLS with the host's own certificate; ILMT's computers were imported from {}/computers.json.",
        o.folder, o.folder
    );
    match (&o.this_machine, &o.this_machine_problem) {
        (Some(k), _) => {
            let _ = writeln!(s, "This machine was scanned live and reported as {k}.");
        }
        (None, Some(p)) => {
            let _ = writeln!(s, "This machine was not reported: {p}");
        }
        (None, None) => {}
    }
    s
}

fn commands(o: &Outcome) -> String {
    let mut s = String::new();
    if o.keep {
        let _ = writeln!(
            s,
            "The aggregator keeps serving until Ctrl-C (the folder stays afterwards). Try:"
        );
    } else {
        let _ = writeln!(
            s,
            "With --keep the aggregator keeps serving until Ctrl-C and the folder stays; then try:"
        );
    }
    for c in &o.commands {
        let _ = writeln!(s, "  {c}");
    }
    s
}

/// The printout of `o` in `format`.
pub fn render(o: &Outcome, format: Format) -> Printed {
    let uncovered = views::hosts_table(&o.uncovered.hosts);
    let ineligible = views::hosts_table(&o.ineligible.hosts);
    let findings = views::findings_table(&o.all.findings);
    match format {
        Format::Table => {
            let mut out = narrative(o);
            out.push('\n');
            let _ = writeln!(out, "== The estate");
            out.push_str(&o.estate.render(Format::Table));
            let _ = writeln!(out, "\n== Uncovered hosts (subcap hosts --uncovered)");
            out.push_str(&uncovered.render(Format::Table));
            let _ = writeln!(
                out,
                "\n== Ineligible virtualization (subcap hosts --ineligible)"
            );
            out.push_str(&ineligible.render(Format::Table));
            let _ = writeln!(out, "\n== Findings (subcap findings)");
            out.push_str(&findings.render(Format::Table));
            out.push('\n');
            out.push_str(&views::basis_lines(&o.all));
            out.push_str(&by_code(&o.all));
            out.push('\n');
            out.push_str(&commands(o));
            Printed {
                out,
                notes: String::new(),
            }
        }
        Format::Json => {
            let v = serde_json::json!({
                "folder": o.folder,
                "aggregator": o.aggregator,
                "this_machine": o.this_machine,
                "estate": rows_json(&o.estate),
                "ilmt_import": o.import,
                "hosts": rows_json(&views::hosts_table(&o.all.hosts)),
                "uncovered": rows_json(&uncovered),
                "ineligible": rows_json(&ineligible),
                "findings": rows_json(&findings),
                "basis": o.all.basis,
                "totals": o.all.totals,
            });
            let out = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into()) + "\n";
            Printed {
                out,
                notes: format!("{}{}", narrative(o), commands(o)),
            }
        }
        Format::Csv => {
            let mut out = String::new();
            for (name, t) in [
                ("estate", &o.estate),
                ("uncovered", &uncovered),
                ("ineligible", &ineligible),
                ("findings", &findings),
            ] {
                if !out.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "# {name}");
                out.push_str(&t.render(Format::Csv));
            }
            Printed {
                out,
                notes: format!(
                    "{}{}{}",
                    narrative(o),
                    views::basis_lines(&o.all),
                    commands(o)
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        let estate = Estate::builtin().unwrap();
        let host =
            |key: &str, coverage: &str, codes: &[&str], exposed: Option<f64>| pb::HostCoverage {
                host_key: key.into(),
                coverage: coverage.into(),
                codes: codes.iter().map(|c| c.to_string()).collect(),
                exposure: Some(pb::Exposure {
                    pvu_per_core: 70.0,
                    exposed_pvu: exposed,
                    ..Default::default()
                }),
                ..Default::default()
            };
        let uncovered = host("mq01.demo.example", "uncovered", &["UNCOVERED"], None);
        let ineligible = host(
            "was01.demo.example",
            "covered",
            &["INELIGIBLE_VIRTUALIZATION"],
            Some(280.0),
        );
        let finding = pb::Finding {
            code: "GHOST".into(),
            summary: "ILMT computer 1020 (olddb05) has no reporting agent".into(),
            ..Default::default()
        };
        let mut totals = pb::ReconcileTotals {
            hosts: 2,
            ..Default::default()
        };
        totals.findings_by_code.insert("GHOST".into(), 1);
        totals.findings_by_code.insert("UNCOVERED".into(), 1);
        Outcome {
            folder: "/tmp/subcap-demo-x".into(),
            aggregator: "127.0.0.1:4000".into(),
            estate: estate_table(&estate),
            all: Answer {
                hosts: vec![uncovered.clone(), ineligible.clone()],
                findings: vec![finding],
                totals: Some(totals),
                ..Default::default()
            },
            uncovered: Answer {
                hosts: vec![uncovered],
                ..Default::default()
            },
            ineligible: Answer {
                hosts: vec![ineligible],
                ..Default::default()
            },
            import: None,
            this_machine: Some("box.example".into()),
            this_machine_problem: None,
            commands: vec!["subcap --config /tmp/subcap-demo-x/operator.toml findings".into()],
            keep: false,
        }
    }

    #[test]
    fn the_table_printout_has_every_section_in_order() {
        let p = render(&outcome(), Format::Table);
        assert!(p.notes.is_empty());
        let at = |s: &str| p.out.find(s).unwrap_or_else(|| panic!("{s:?} missing"));
        assert!(at("== The estate") < at("== Uncovered hosts"));
        assert!(at("== Uncovered hosts") < at("== Ineligible virtualization"));
        assert!(at("== Ineligible virtualization") < at("== Findings"));
        assert!(at("findings by code: UNCOVERED 1, GHOST 1") > at("== Findings"));
        assert!(p.out.contains("reported as box.example"));
        assert!(p
            .out
            .contains("  subcap --config /tmp/subcap-demo-x/operator.toml findings"));
        // The uncovered table is the views' table: unknown exposure said plainly.
        let uncovered = &p.out[at("== Uncovered hosts")..at("== Ineligible virtualization")];
        let row = uncovered.lines().find(|l| l.starts_with("mq01")).unwrap();
        assert!(row.trim_end().ends_with("unknown"), "{row}");
        // Hosts ILMT knows only by name, and ILMT-only computers, are told apart.
        assert!(p.out.contains("by name PAY02 only"));
        assert!(p.out.contains("(no agent)"));
    }

    #[test]
    fn json_is_one_document_and_csv_has_named_sections() {
        let p = render(&outcome(), Format::Json);
        let v: serde_json::Value = serde_json::from_str(&p.out).unwrap();
        assert_eq!(v["uncovered"][0]["host_key"], "mq01.demo.example");
        assert_eq!(v["uncovered"][0]["exposed_pvu"], "unknown");
        assert_eq!(v["ineligible"][0]["exposed_pvu"], "280");
        assert_eq!(v["findings"][0]["code"], "GHOST");
        assert_eq!(v["this_machine"], "box.example");
        assert_eq!(v["hosts"].as_array().unwrap().len(), 2);
        assert!(p.notes.contains("operator.toml"));

        let p = render(&outcome(), Format::Csv);
        let sections: Vec<&str> = p.out.lines().filter(|l| l.starts_with("# ")).collect();
        assert_eq!(
            sections,
            ["# estate", "# uncovered", "# ineligible", "# findings"]
        );
        assert!(p.out.contains("host_key,platform,ibm,ilmt,story\r\n"));
    }
}
