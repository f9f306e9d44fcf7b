//! Data-condition warnings: what ILMT's own statements in `data_condition.txt` say about the
//! quality of the data a snapshot was made from. Pure: statements in, sentences out.
//!
//! What ILMT 9.2 writes there (seen in a public snapshot of 9.2.24; the wording may differ in
//! other versions, so each rule keys on a few words and otherwise keeps quiet):
//! - `Import Status:` "The last data import started at ... finished successfully." Anything else
//!   is a warning: the snapshot may lack the latest scans.
//! - `Recalculation Status:` "Recalculation is not needed". Otherwise metric quantities may be out
//!   of date until ILMT recalculates.
//! - `Number of disconnected computers:` "11 (61%)." More than zero is a warning.
//! - `Data accuracy:` one line per problem, "Computers with delayed data upload status: 61%.",
//!   "... with outdated capacity scans: 6%.", "... with missing software scans: 61%." (an average
//!   over the period). Any "Computers with ...: N%" above zero is a warning, whatever the problem
//!   (missing VM manager data, outdated capacity scans, ...), under any key.
//! - `Computer Group Name:` "All Computers". Another group means the snapshot leaves computers out.
//! - `Used filters:` `Field: "FlexPoint or Cloud Pak Bundle" in set None` is what an unfiltered
//!   All Metrics report shows; any other filter leaves products out.
//!
//! Designed, for other versions and hand-made summaries: a key with "health" whose value is not
//! `OK`, and a statement about VM managers that reports a problem (not connected, failing, missing,
//! outdated) with a count other than zero.

use crate::ilmt::snapshot::{DataCondition, Statement};

/// The warnings of a data condition, one sentence each, in file order.
pub fn warnings(dc: &DataCondition) -> Vec<String> {
    dc.statements.iter().filter_map(warning).collect()
}

/// The number a value starts with (`11 (61%).` gives 11), if any.
fn leading_number(value: &str) -> Option<f64> {
    let digits: String = value
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits.trim_end_matches('.').parse().ok()
}

/// The percentage at the end of a value (`61%.` gives 61).
fn trailing_percent(value: &str) -> Option<f64> {
    let v = value.trim().trim_end_matches('.').trim_end();
    let number = v.strip_suffix('%')?.trim_end();
    let start = number
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map_or(0, |i| i + 1);
    number.get(start..)?.replace(',', ".").parse().ok()
}

fn clean(value: &str) -> &str {
    value.trim().trim_end_matches('.').trim_end()
}

fn warning(s: &Statement) -> Option<String> {
    let key = s.key.to_lowercase();
    let value = s.value.to_lowercase();
    let text = || format!("{}: {}", s.key, clean(&s.value));
    // "Computers with <problem>: N%" as the value (block layout) or as key and value.
    let (label, rest) = match s.value.rsplit_once(':') {
        Some((label, rest)) => (label.trim(), rest),
        None => (s.key.as_str(), s.value.as_str()),
    };
    if label.to_lowercase().contains("computers with") {
        return trailing_percent(rest)
            .filter(|p| *p > 0.0)
            .map(|_| format!("{label}: {}", clean(rest)));
    }
    if key.contains("import") && key.contains("status") {
        return (!value.contains("finished successfully")).then(text);
    }
    if key.contains("recalculation") {
        return (!value.contains("not needed")).then(text);
    }
    if key.contains("disconnected") {
        return leading_number(&s.value).is_some_and(|n| n > 0.0).then(text);
    }
    if key.contains("computer group name") {
        return (value.trim() != "all computers").then(|| {
            format!(
                "the snapshot covers the computer group {:?} only, not All Computers",
                s.value.trim()
            )
        });
    }
    if key.contains("filter") {
        let none = ["", "none", "no filters", "no filter"].contains(&value.trim());
        let default =
            value.contains("flexpoint or cloud pak bundle") && value.contains("in set none");
        return (!none && !default).then(|| {
            format!(
                "filtered by {}: what the filter leaves out is not in the snapshot",
                clean(&s.value)
            )
        });
    }
    let zero = leading_number(&s.value) == Some(0.0);
    if key.contains("health") {
        let fine = ["ok", "no problems", "none"].contains(&clean(&value)) || zero;
        return (!fine).then(text);
    }
    let vm_manager = key.contains("vm manager") || value.contains("vm manager");
    let problem = [
        "not connected",
        "fail",
        "missing",
        "outdated",
        "error",
        "problem",
    ]
    .iter()
    .any(|w| key.contains(w) || value.contains(w));
    (vm_manager && problem && !zero).then(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_to_warnings() {
        // (key, value, expected warning)
        let cases: [(&str, &str, Option<&str>); 22] = [
            (
                "Import Status",
                "The last data import started at May 5, 2025 5:00:00 AM finished successfully.",
                None,
            ),
            (
                "Import Status",
                "The last data import started at May 5, 2025 5:00:00 AM failed.",
                Some("Import Status: The last data import started at May 5, 2025 5:00:00 AM failed"),
            ),
            ("Recalculation Status", "Recalculation is not needed", None),
            (
                "Recalculation Status",
                "Recalculation is needed for 2 products",
                Some("Recalculation Status: Recalculation is needed for 2 products"),
            ),
            ("Number of disconnected computers", "0 (0%).", None),
            (
                "Number of disconnected computers",
                "11 (61%).",
                Some("Number of disconnected computers: 11 (61%)"),
            ),
            (
                "Data accuracy",
                "Computers with delayed data upload status: 61%.",
                Some("Computers with delayed data upload status: 61%"),
            ),
            ("Data accuracy", "Computers with outdated capacity scans: 0%.", None),
            (
                "Data accuracy",
                "Computers with missing software scans: 0.5%.",
                Some("Computers with missing software scans: 0.5%"),
            ),
            (
                "Computers with missing VM manager data",
                "3%",
                Some("Computers with missing VM manager data: 3%"),
            ),
            ("Computers with missing VM manager data", "0%", None),
            ("Computer Group Name", "All Computers", None),
            (
                "Computer Group Name",
                "Production",
                Some("the snapshot covers the computer group \"Production\" only, not All Computers"),
            ),
            (
                "Used filters",
                "Field: \"FlexPoint or Cloud Pak Bundle\" in set None",
                None,
            ),
            (
                "Used filters",
                "Field: \"Product Name\" contains \"Db2\"",
                Some("filtered by Field: \"Product Name\" contains \"Db2\": what the filter leaves out is not in the snapshot"),
            ),
            ("Software scan health", "OK", None),
            (
                "Capacity scan health",
                "1 computer with missing VM manager data",
                Some("Capacity scan health: 1 computer with missing VM manager data"),
            ),
            ("Capacity scan health", "0 computers with problems", None),
            (
                "VM managers with connection problems",
                "2",
                Some("VM managers with connection problems: 2"),
            ),
            ("VM managers with connection problems", "0", None),
            ("Time Zone", "GMT", None),
            ("Audit snapshot generated by", "licensing@bank.example", None),
        ];
        for (key, value, want) in cases {
            let s = Statement {
                line: 1,
                key: key.into(),
                value: value.into(),
            };
            assert_eq!(warning(&s).as_deref(), want, "{key}: {value}");
        }
    }

    #[test]
    fn warnings_come_in_file_order() {
        let text = "Start Date:\n\tApr 1, 2025\nEnd Date:\n\tJun 30, 2025\n\
                    Number of disconnected computers:\n\t2 (1%).\n\
                    Data accuracy:\n\
                    \tComputers with delayed data upload status: 1%.\n\
                    \tComputers with outdated capacity scans: 0%.\n\
                    \tComputers with missing software scans: 4%.\n";
        let dc = crate::ilmt::snapshot::parse_data_condition(text).unwrap_or_default();
        assert_eq!(
            warnings(&dc),
            [
                "Number of disconnected computers: 2 (1%)",
                "Computers with delayed data upload status: 1%",
                "Computers with missing software scans: 4%",
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(leading_number("11 (61%)."), Some(11.0));
        assert_eq!(leading_number("1,204 (3%)."), Some(1204.0));
        assert_eq!(leading_number("none"), None);
        assert_eq!(trailing_percent(" 61%."), Some(61.0));
        assert_eq!(trailing_percent("0,5 %"), Some(0.5));
        assert_eq!(trailing_percent("61"), None);
    }
}
