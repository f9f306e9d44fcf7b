//! The handoff report's CSV files, one per table, written from the same [`Handoff`] as the JSON:
//! the column names are the JSON field names, a JSON null is an empty cell, a list is joined
//! (codes with `,`; products, ILMT references and snapshot names with `; `; evidence, problems
//! and warnings with ` | `; uncovered day ranges with a space), booleans are `true`/`false`.
//! RFC 4180 with CRLF, as `subcap --format csv` writes.

use crate::domain::model::num;
use crate::ops::output::{Format, Table};

use super::model::{Handoff, IlmtRef};

/// The CSV files, by file name, in the order the manifest lists them.
pub const CSV_FILES: &[&str] = &[
    "hosts.csv",
    "products.csv",
    "findings.csv",
    "findings_by_code.csv",
    "periods.csv",
    "coverage_over_time.csv",
    "snapshot_quarters.csv",
    "snapshots.csv",
];

/// Every CSV file of the report: (file name, content).
pub fn csv_files(h: &Handoff) -> Vec<(&'static str, String)> {
    let tables = [
        hosts(h),
        products(h),
        findings(h),
        findings_by_code(h),
        periods(h),
        coverage_over_time(h),
        snapshot_quarters(h),
        snapshots(h),
    ];
    CSV_FILES
        .iter()
        .copied()
        .zip(tables.iter().map(|t| t.render(Format::Csv)))
        .collect()
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

fn yes(b: bool) -> String {
    if b { "true" } else { "false" }.into()
}

fn ilmt_ref(r: &IlmtRef) -> String {
    let mut s = match r.id {
        Some(id) => format!("ILMT computer {id}"),
        None => format!("ILMT row {}", r.source_row),
    };
    if !r.name.is_empty() {
        s.push_str(&format!(" ({})", r.name));
    }
    s
}

pub const HOST_COLUMNS: &[&str] = &[
    "host_key",
    "coverage",
    "codes",
    "fails_now",
    "matched_by",
    "products",
    "failing_days",
    "max_exposed_pvu",
    "exposed_pvu",
    "pvu_per_core",
    "sub_capacity_pvu",
    "full_capacity_pvu",
    "exposure_how",
];

/// Products as one cell: `name (publisher, first seen DAY)`, joined with `; `.
pub fn products_cell(p: &[super::model::Product]) -> String {
    p.iter()
        .map(|p| {
            let mut s = p.product_name.clone();
            let mut extra = Vec::new();
            if !p.publisher.is_empty() {
                extra.push(p.publisher.clone());
            }
            if !p.first_seen.is_empty() {
                extra.push(format!("first seen {}", p.first_seen));
            }
            if !extra.is_empty() {
                s.push_str(&format!(" ({})", extra.join(", ")));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn hosts(h: &Handoff) -> Table {
    let mut t = Table::new(HOST_COLUMNS);
    for r in &h.hosts {
        t.push(vec![
            r.host_key.clone(),
            r.coverage.clone(),
            r.codes.join(","),
            yes(r.fails_now),
            r.matched_by.clone(),
            products_cell(&r.products),
            r.failing_days.to_string(),
            opt(r.max_exposed_pvu),
            opt(r.exposed_pvu),
            opt(r.pvu_per_core),
            opt(r.sub_capacity_pvu),
            opt(r.full_capacity_pvu),
            r.exposure_how.clone(),
        ]);
    }
    t
}

pub const PRODUCT_COLUMNS: &[&str] = &[
    "product_name",
    "publisher",
    "hosts",
    "failing_now",
    "failing_hosts_in_window",
    "exposed_pvu_now",
    "peak_exposed_pvu_in_window",
    "exposure_unknown_hosts",
];

fn products(h: &Handoff) -> Table {
    let mut t = Table::new(PRODUCT_COLUMNS);
    for r in &h.products {
        t.push(vec![
            r.product_name.clone(),
            r.publisher.clone(),
            r.hosts.to_string(),
            r.failing_now.to_string(),
            r.failing_hosts_in_window.to_string(),
            num(r.exposed_pvu_now),
            num(r.peak_exposed_pvu_in_window),
            r.exposure_unknown_hosts.to_string(),
        ]);
    }
    t
}

pub const FINDING_COLUMNS: &[&str] = &[
    "code",
    "host_key",
    "ilmt",
    "summary",
    "evidence",
    "exposed_pvu",
    "first_seen",
    "last_seen",
    "due",
    "uncertain",
];

fn findings(h: &Handoff) -> Table {
    let mut t = Table::new(FINDING_COLUMNS);
    for f in &h.findings {
        t.push(vec![
            f.code.clone(),
            f.host_key.clone(),
            f.ilmt.iter().map(ilmt_ref).collect::<Vec<_>>().join("; "),
            f.summary.clone(),
            f.evidence.join(" | "),
            opt(f.exposed_pvu),
            f.first_seen.clone(),
            f.last_seen.clone(),
            f.due.clone(),
            yes(f.uncertain),
        ]);
    }
    t
}

pub const CODE_COLUMNS: &[&str] = &[
    "code",
    "breaks_claim",
    "findings",
    "hosts",
    "exposed_pvu",
    "exposure_unknown_hosts",
];

fn findings_by_code(h: &Handoff) -> Table {
    let mut t = Table::new(CODE_COLUMNS);
    for r in &h.findings_by_code {
        t.push(vec![
            r.code.clone(),
            yes(r.breaks_claim),
            r.findings.to_string(),
            r.hosts.to_string(),
            num(r.exposed_pvu),
            r.exposure_unknown_hosts.to_string(),
        ]);
    }
    t
}

pub const PERIOD_COLUMNS: &[&str] = &[
    "host_key",
    "from",
    "to",
    "days",
    "coverage",
    "codes",
    "fails",
    "exposed_pvu",
    "ilmt_import",
    "agent_silent",
];

fn periods(h: &Handoff) -> Table {
    let mut t = Table::new(PERIOD_COLUMNS);
    for p in &h.periods {
        t.push(vec![
            p.host_key.clone(),
            p.from.to_string(),
            p.to.to_string(),
            p.days.to_string(),
            p.coverage.clone(),
            p.codes.join(","),
            yes(p.fails),
            opt(p.exposed_pvu),
            p.ilmt_import.map(|i| i.to_string()).unwrap_or_default(),
            yes(p.agent_silent),
        ]);
    }
    t
}

pub const TIMELINE_COLUMNS: &[&str] = &[
    "from",
    "to",
    "reporting",
    "covered",
    "stale",
    "uncovered",
    "not_required",
    "superseded",
    "failing",
    "exposed_pvu",
];

fn coverage_over_time(h: &Handoff) -> Table {
    let mut t = Table::new(TIMELINE_COLUMNS);
    for p in &h.coverage_over_time.points {
        t.push(vec![
            p.from.to_string(),
            p.to.to_string(),
            p.reporting.to_string(),
            p.covered.to_string(),
            p.stale.to_string(),
            p.uncovered.to_string(),
            p.not_required.to_string(),
            p.superseded.to_string(),
            p.failing.to_string(),
            num(p.exposed_pvu),
        ]);
    }
    t
}

pub const SNAPSHOT_QUARTER_COLUMNS: &[&str] = &[
    "quarter",
    "first_day",
    "last_day",
    "status",
    "snapshots",
    "uncovered",
];

fn snapshot_quarters(h: &Handoff) -> Table {
    let mut t = Table::new(SNAPSHOT_QUARTER_COLUMNS);
    for q in &h.snapshot_quarters {
        t.push(vec![
            q.quarter.clone(),
            q.first_day.to_string(),
            q.last_day.to_string(),
            q.status.clone(),
            q.snapshots.join("; "),
            q.uncovered.join(" "),
        ]);
    }
    t
}

pub const SNAPSHOT_COLUMNS: &[&str] = &[
    "file",
    "period_start",
    "period_end",
    "checksums",
    "problems",
    "warnings",
];

fn snapshots(h: &Handoff) -> Table {
    let mut t = Table::new(SNAPSHOT_COLUMNS);
    let day = |d: Option<crate::ilmt::CivilDate>| d.map(|d| d.to_string()).unwrap_or_default();
    for r in &h.snapshots {
        t.push(vec![
            r.file.clone(),
            day(r.period_start),
            day(r.period_end),
            r.checksums.clone(),
            r.problems.join(" | "),
            r.warnings.join(" | "),
        ]);
    }
    t
}
