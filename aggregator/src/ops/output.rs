//! Tabular output of the `subcap` command: an aligned table for people, CSV (RFC 4180) and JSON (an
//! array of objects keyed by column name) for scripts. The column names are the same words in all
//! three and in the docs.

use std::fmt::Write as _;

/// Output format of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Rows of text under named columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[&'static str]) -> Self {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.text(),
            Format::Csv => self.csv(),
            Format::Json => self.json(),
        }
    }

    fn text(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    l.push_str("  ");
                }
                let _ = write!(l, "{cell:<w$}");
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&mut out, &mut self.columns.iter().copied());
        for row in &self.rows {
            line(&mut out, &mut row.iter().map(String::as_str));
        }
        out
    }

    fn csv(&self) -> String {
        let mut out = String::new();
        let field = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        out.push_str(
            &self
                .columns
                .iter()
                .map(|c| field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
        for row in &self.rows {
            out.push_str(&row.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out
    }

    fn json(&self) -> String {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
            .rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.to_string(), serde_json::Value::String(v.clone())))
                    .collect()
            })
            .collect();
        serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into()) + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["host_key", "technology"]);
        t.push(vec!["db01.bank.example".into(), "vmware".into()]);
        t.push(vec!["odd,\"name\"".into(), String::new()]);
        t
    }

    #[test]
    fn three_formats_same_columns() {
        let t = sample();
        assert_eq!(
            t.render(Format::Table),
            "host_key           technology\ndb01.bank.example  vmware\nodd,\"name\"\n"
        );
        assert_eq!(
            t.render(Format::Csv),
            "host_key,technology\r\ndb01.bank.example,vmware\r\n\"odd,\"\"name\"\"\",\r\n"
        );
        let v: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
        assert_eq!(v[0]["host_key"], "db01.bank.example");
        assert_eq!(v[1]["host_key"], "odd,\"name\"");
        assert_eq!(v[1]["technology"], "");
    }
}
