//! The `subcap-agent scan` command line as a user runs it: real binary, real files in a root tree.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_subcap-agent"))
        .args(args)
        .output()
        .expect("run subcap-agent")
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A small host tree: a named Debian VM without DMI serial access.
fn small_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "etc/hostname", "app01\n");
    write(
        r,
        "etc/hosts",
        "127.0.0.1 localhost\n10.9.8.7 app01.bank.example app01\n",
    );
    write(r, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    write(
        r,
        "etc/os-release",
        "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
    );
    write(r, "proc/sys/kernel/osrelease", "6.1.0-26-amd64\n");
    write(
        r,
        "proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\n",
    );
    write(
        r,
        "sys/class/dmi/id/product_uuid",
        "4236AC43-1111-2222-3333-444455556666\n",
    );
    dir
}

#[test]
fn json_output_is_the_canonical_mapping_of_the_report() {
    let root = small_root();
    let out = agent(&[
        "scan",
        "--root",
        root.path().to_str().unwrap(),
        "--format",
        "json",
        "--cpuid-vendor",
        "none",
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let id = v["reportId"].as_str().expect("reportId");
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        v["collectedAt"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{}",
        v["collectedAt"]
    );
    assert_eq!(v["identity"]["hostname"], "app01");
    assert_eq!(v["identity"]["fqdn"], "app01.bank.example");
    assert_eq!(
        v["identity"]["productUuid"],
        "4236ac43-1111-2222-3333-444455556666"
    );
    assert_eq!(v["identity"]["architecture"], "x86_64");
    assert_eq!(v["scanRoot"], root.path().to_str().unwrap());
    // The report parses back into the proto type: the JSON is the contract.
    let back: subcap_proto::v1::HostReport =
        serde_json::from_slice(&out.stdout).expect("parses as HostReport");
    assert_eq!(back.report_id, id);
}

#[test]
fn two_scans_have_different_report_ids() {
    let root = small_root();
    let r = root.path().to_str().unwrap();
    let a: serde_json::Value =
        serde_json::from_slice(&agent(&["scan", "--root", r, "--format", "json"]).stdout).unwrap();
    let b: serde_json::Value =
        serde_json::from_slice(&agent(&["scan", "--root", r, "--format", "json"]).stdout).unwrap();
    assert_ne!(a["reportId"], b["reportId"]);
}

#[test]
fn unreadable_or_missing_files_are_warnings_not_failures() {
    let root = small_root();
    let out = agent(&[
        "scan",
        "--root",
        root.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = v["warnings"].as_array().expect("warnings");
    // DMI serial is absent from this tree: the field is unknown and a warning names the file.
    assert!(v["identity"].get("productSerial").is_none());
    assert!(
        warnings
            .iter()
            .any(|w| w["collector"] == "identity"
                && w["source"] == "sys/class/dmi/id/product_serial"),
        "{warnings:#?}"
    );
}

#[test]
fn text_output_names_every_section() {
    let root = small_root();
    let out = agent(&["scan", "--root", root.path().to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for section in [
        "[identity]",
        "[topology]",
        "[virtualization]",
        "[ibm installs]",
        "[ilmt agent]",
        "[warnings]",
    ] {
        assert!(text.contains(section), "missing {section} in:\n{text}");
    }
    assert!(text.contains("app01.bank.example"));
}

#[test]
fn bad_arguments_exit_2_with_a_message_naming_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["scan", "--root", "/nonexistent/subcap-root"],
            "--root /nonexistent/subcap-root: not a directory",
        ),
        (&["scan", "--format", "yaml"], "yaml"),
        (
            &["scan", "--cpuid-vendor", "ThirteenChars"],
            "--cpuid-vendor",
        ),
        (&["scan", "--ibm-max-depth", "deep"], "--ibm-max-depth"),
        (&["scan", "--bogus"], "--bogus"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let out = agent(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle),
            "{args:?}: stderr {err:?} lacks {needle:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
