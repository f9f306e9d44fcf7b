//! The IBM install and ILMT agent collectors run on the IBM fixture hosts
//! (`tests/fixtures/ibm-hosts/*`, described in `tests/fixtures/ibm-hosts/README.md`).
//!
//! Fixtures whose signals are file times carry an `mtimes.txt` (git keeps no file times): the
//! tests copy such a fixture to a temporary directory and give its files those fixed times, so
//! nothing depends on today's date or on when the tree was checked out.

use std::time::SystemTime;

use subcap_agent::collect::ilmt_agent::timefmt::parse_iso8601;
use subcap_agent::collect::{ibm, ilmt_agent, Warnings};
use subcap_agent::root::Root;
use subcap_agent::scan;
use subcap_proto::v1 as pb;
use subcap_tests::{fixture_root, ibm_fixture, FixtureRoot};

fn host(name: &str) -> FixtureRoot {
    fixture_root(&ibm_fixture(name))
}

/// (signature, product name, version, product id, install path, source) of each install.
type Row = (String, String, String, String, String, String);

fn installs(name: &str) -> (Vec<Row>, Vec<pb::Warning>) {
    let h = host(name);
    let mut w = Warnings::new("ibm_installs");
    let found = ibm::collect(&Root::new(&h.root), &ibm::SearchLimits::default(), &mut w);
    let rows = found
        .into_iter()
        .map(|i| {
            (
                i.signature,
                i.product_name,
                i.version,
                i.product_id,
                i.install_path,
                i.source,
            )
        })
        .collect();
    (rows, w.into_vec())
}

/// A row as the test tables write it.
type Expected<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

fn rows(expected: &[Expected]) -> Vec<Row> {
    expected
        .iter()
        .map(|(a, b, c, d, e, f)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
                f.to_string(),
            )
        })
        .collect()
}

#[test]
fn ibm_install_fixtures() {
    const IM: &str = "var/ibm/InstallationManager/installed.xml";
    const WAS_TAG: &str = "opt/IBM/WebSphere/AppServer/properties/version/ibm.com_IBM_WebSphere_Application_Server_Network_Deployment-9.0.5.swidtag";
    const DB2_TAG: &str =
        "opt/ibm/db2/V11.5/property/iso-swid/ibm.com_IBM_Db2_Standard_Edition-11.5.8.swidtag";
    const MQ_TAG: &str = "opt/mqm/swidtag/ibm.com_IBM_MQ-9.3.4.swidtag";
    const DPKG: &str = "var/lib/dpkg/status";
    const RPMDB: &str = "var/lib/rpm/rpmdb.sqlite";
    const BDB: &str = "var/lib/rpm/Packages";
    let rpm_rows = |source: &'static str| {
        vec![
            (
                "rpm",
                "IBM MQ Runtime FileSet",
                "9.3.4-0",
                "MQSeriesRuntime",
                "",
                source,
            ),
            (
                "rpm",
                "IBM MQ Server FileSet",
                "9.3.4-0",
                "MQSeriesServer",
                "",
                source,
            ),
            (
                "rpm",
                "IBM SDK, Java Technology Edition",
                "8.0-8.15",
                "ibm-java-x86_64-sdk",
                "",
                source,
            ),
        ]
    };
    let cases: Vec<(&str, Vec<Expected>)> = vec![
        (
            "ibm-websphere-im",
            vec![
                ("install_root", "CustomTool", "", "", "/opt/IBM/CustomTool", "opt/IBM/CustomTool"),
                (
                    "installation_manager",
                    "IBM® Installation Manager",
                    "1.9.2007.20230721_1401",
                    "com.ibm.cic.agent",
                    "/opt/IBM/InstallationManager/eclipse",
                    IM,
                ),
                (
                    "installation_manager",
                    "IBM SDK, Java Technology Edition, Version 8",
                    "8.0.8010.20230721_0720",
                    "com.ibm.java.jdk.v8",
                    "/opt/IBM/WebSphere/AppServer",
                    IM,
                ),
                (
                    "installation_manager",
                    "IBM WebSphere Application Server Network Deployment",
                    "9.0.5017.20230818_0107",
                    "com.ibm.websphere.ND.v90",
                    "/opt/IBM/WebSphere/AppServer",
                    IM,
                ),
                (
                    "swid_tag",
                    "IBM WebSphere Application Server Network Deployment",
                    "9.0.5.17",
                    "ibm.com-8f1e2d3c4b5a69788796a5b4c3d2e1f0-9.0.5",
                    "/opt/IBM/WebSphere/AppServer",
                    WAS_TAG,
                ),
            ],
        ),
        (
            "ibm-db2",
            vec![
                ("db2_global_reg", "IBM Db2", "11.5.8.0", "", "/opt/ibm/db2/V11.5", "var/db2/global.reg"),
                (
                    "swid_tag",
                    "IBM Db2 Standard Edition",
                    "11.5.8.0",
                    "ibm.com-3c9a7e51b2d04f6a8e1c0b9d7f6a5e43-11.5.8",
                    "/opt/ibm/db2/V11.5",
                    DB2_TAG,
                ),
            ],
        ),
        (
            "ibm-mq-swid",
            vec![
                ("dpkg", "IBM MQ GSKit FileSet", "9.3.4.0", "ibmmq-gskit", "", DPKG),
                ("dpkg", "IBM MQ Runtime FileSet", "9.3.4.0", "ibmmq-runtime", "", DPKG),
                ("dpkg", "IBM MQ Server FileSet", "9.3.4.0", "ibmmq-server", "", DPKG),
                (
                    "mq_mqinst",
                    "IBM MQ",
                    "9.3.4",
                    "ibm.com-IBM_MQ-9.3.4",
                    "/opt/mqm",
                    "etc/opt/mqm/mqinst.ini",
                ),
                ("swid_tag", "IBM MQ", "9.3.4", "ibm.com-IBM_MQ-9.3.4", "/opt/mqm", MQ_TAG),
            ],
        ),
        ("ibm-rpm", rpm_rows(RPMDB)),
        ("ibm-rpm-bdb", rpm_rows(BDB)),
        (
            "bigfix-absent",
            vec![(
                "swid_tag",
                "IBM MQ",
                "9.4.0.0",
                "ibm.com-5e1d2c3b4a59687766554433221100ff-9.4.0",
                "/opt/mqm",
                "opt/mqm/swidtag/ibm.com_IBM_MQ-9.4.0.swidtag",
            )],
        ),
        (
            "bigfix-stale",
            vec![("dpkg", "BigFix Agent", "10.0.4.32", "besagent", "", DPKG)],
        ),
        (
            "lmt-scanner-disconnected",
            vec![(
                "slmtag",
                "IBM Spectrum Conductor",
                "",
                "4f8e2a1c9b7d4e3fa6c5b0d1e2f3a4b5",
                "/opt/ibm/spectrumcomputing",
                "opt/ibm/spectrumcomputing/properties/slmtags/4f8e2a1c9b7d4e3fa6c5b0d1e2f3a4b5.slmtag",
            )],
        ),
        ("bigfix-healthy", vec![]),
    ];
    for (name, expected) in cases {
        let (got, warnings) = installs(name);
        assert_eq!(got, rows(&expected), "{name}");
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        // Same host, same output.
        assert_eq!(installs(name).0, got, "{name}: not deterministic");
    }
}

fn health(name: &str) -> (ilmt_agent::Collected, Vec<pb::Warning>) {
    let h = host(name);
    let mut w = Warnings::new("ilmt_agent");
    let c = ilmt_agent::collect(&Root::new(&h.root), &mut w);
    (c, w.into_vec())
}

fn at(s: &str) -> Option<subcap_proto::Timestamp> {
    parse_iso8601(s).map(|seconds| subcap_proto::Timestamp { seconds, nanos: 0 })
}

/// The health fields that matter, for comparison in one assertion.
#[derive(Debug, PartialEq)]
struct Health {
    bigfix_installed: bool,
    bigfix_version: String,
    bigfix_running: bool,
    computer_id: String,
    scanner_installed: bool,
    scanner_version: String,
    scanner_running: bool,
    last_software_scan: Option<subcap_proto::Timestamp>,
    last_capacity_scan: Option<subcap_proto::Timestamp>,
    last_upload: Option<subcap_proto::Timestamp>,
    vm_manager_present: bool,
}

fn summary(c: &ilmt_agent::Collected) -> Health {
    let h = &c.health;
    Health {
        bigfix_installed: h.bigfix_installed,
        bigfix_version: h.bigfix_version.clone(),
        bigfix_running: h.bigfix_running,
        computer_id: c.bigfix_computer_id.clone(),
        scanner_installed: h.scanner_installed,
        scanner_version: h.scanner_version.clone(),
        scanner_running: h.scanner_running,
        last_software_scan: h.last_software_scan,
        last_capacity_scan: h.last_capacity_scan,
        last_upload: h.last_upload,
        vm_manager_present: h.vm_manager_present,
    }
}

#[test]
fn bigfix_healthy() {
    let (c, w) = health("bigfix-healthy");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        summary(&c),
        Health {
            bigfix_installed: true,
            bigfix_version: "10.0.9.21".into(),
            bigfix_running: true,
            computer_id: "1612345678".into(),
            scanner_installed: false,
            scanner_version: String::new(),
            scanner_running: false,
            last_software_scan: at("2024-03-10T01:10:30Z"),
            last_capacity_scan: at("2024-03-11T00:30:00Z"),
            last_upload: at("2024-03-11T02:00:00Z"),
            vm_manager_present: true,
        }
    );
    let ev: Vec<(&str, &str)> = c
        .health
        .evidence
        .iter()
        .map(|e| (e.source.as_str(), e.value.as_str()))
        .collect();
    for (source, value) in [
        (
            "var/opt/BESClient/besclient.config",
            "ComputerId = 1612345678",
        ),
        (
            "var/opt/BESClient/__BESData/__Global/Logs/20240311.log",
            "client version 10.0.9.21",
        ),
        ("proc/*/comm", "BESClient running as pid 812"),
        (
            "var/opt/BESClient/LMT/CIT/isotag_scan.xml",
            "newest software scan output, modified 2024-03-10T01:10:30Z",
        ),
        (
            "var/opt/BESClient/LMT/VMMAN",
            "VM manager tool folder present",
        ),
        ("var/opt/ibm/LMTScanner", "not found"),
    ] {
        assert!(
            ev.iter().any(|(s, v)| *s == source && v.contains(value)),
            "no evidence {source} = {value}: {ev:#?}"
        );
    }
}

#[test]
fn bigfix_stale() {
    let (c, w) = health("bigfix-stale");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        summary(&c),
        Health {
            bigfix_installed: true,
            bigfix_version: "10.0.4.32".into(),
            bigfix_running: false,
            computer_id: "1600000042".into(),
            scanner_installed: false,
            scanner_version: String::new(),
            scanner_running: false,
            last_software_scan: at("2023-09-02T01:00:00Z"),
            last_capacity_scan: at("2023-08-20T00:30:00Z"),
            last_upload: None,
            vm_manager_present: false,
        }
    );
    assert!(c
        .health
        .evidence
        .iter()
        .any(|e| e.source == "var/lib/dpkg/status" && e.value == "package besagent 10.0.4.32"));
}

#[test]
fn bigfix_absent_is_one_line_of_evidence_not_warnings() {
    let (c, w) = health("bigfix-absent");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        summary(&c),
        Health {
            bigfix_installed: false,
            bigfix_version: String::new(),
            bigfix_running: false,
            computer_id: String::new(),
            scanner_installed: false,
            scanner_version: String::new(),
            scanner_running: false,
            last_software_scan: None,
            last_capacity_scan: None,
            last_upload: None,
            vm_manager_present: false,
        }
    );
    let ev: Vec<&str> = c.health.evidence.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(
        ev,
        vec![
            "not found: BigFix client not installed",
            "not found: disconnected scanner not installed"
        ]
    );
}

#[test]
fn lmt_scanner_disconnected() {
    let (c, w) = health("lmt-scanner-disconnected");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        summary(&c),
        Health {
            bigfix_installed: false,
            bigfix_version: String::new(),
            bigfix_running: false,
            computer_id: String::new(),
            scanner_installed: true,
            scanner_version: "9.2.34.0".into(),
            scanner_running: true,
            last_software_scan: at("2024-03-10T01:00:04Z"),
            // The last capacity scan attempt (2024-03-11) failed: the last success counts.
            last_capacity_scan: at("2024-03-04T00:30:00Z"),
            last_upload: at("2024-03-10T01:05:00Z"),
            vm_manager_present: false,
        }
    );
    let ev: Vec<String> = c
        .health
        .evidence
        .iter()
        .map(|e| format!("{} = {}", e.source, e.value))
        .collect();
    for want in [
        "var/opt/ibm/LMTScanner/config/endpoint_id.txt = endpoint id b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "var/opt/ibm/LMTScanner/work/scanner_status.yml = last_hw_scan: last attempt 2024-03-11T00:30:00Z failed with status 3",
        "var/spool/cron/root = scanner scheduled: 30 0 * * * \"/var/opt/ibm/LMTScanner/bin/run_hw_CRON.sh\"",
        "proc/*/comm = scanner running: run_sw_and_pack pid 4242",
    ] {
        assert!(ev.iter().any(|e| e == want), "no evidence {want}: {ev:#?}");
    }
}

/// The whole scan puts the BigFix computer id into the host identity and the collectors'
/// results into the report.
#[test]
fn scan_report_carries_both_collectors() {
    let h = host("bigfix-healthy");
    let opts = scan::ScanOptions {
        root: h.root.clone(),
        cpuid: subcap_agent::collect::virt::CpuidSource::Override(String::new()),
        ibm: ibm::SearchLimits::default(),
    };
    let report = scan::scan(&opts, SystemTime::UNIX_EPOCH, "fixture".into());
    let identity = report.identity.unwrap();
    assert_eq!(identity.hostname, "app01");
    assert_eq!(identity.bigfix_computer_id, "1612345678");
    assert!(report.ilmt_agent.unwrap().bigfix_running);
    assert!(report.ibm_installs.is_empty());
    assert!(
        !report
            .warnings
            .iter()
            .any(|w| w.collector == "ibm_installs" || w.collector == "ilmt_agent"),
        "{:?}",
        report.warnings
    );
}

/// A search bound reached on a fixture is a warning naming the flag, and what was found before
/// it is kept.
#[test]
fn search_bounds_are_reported() {
    let h = host("ibm-websphere-im");
    let mut w = Warnings::new("ibm_installs");
    let limits = ibm::SearchLimits {
        max_depth: 1,
        ..ibm::SearchLimits::default()
    };
    let found = ibm::collect(&Root::new(&h.root), &limits, &mut w);
    assert!(
        !found.iter().any(|i| i.signature == "swid_tag"),
        "the WAS tag is 2 levels below the WebSphere install directory"
    );
    assert!(found.iter().any(|i| i.signature == "installation_manager"));
    let w = w.into_vec();
    assert!(
        w.iter().any(|x| x.message.contains("--ibm-max-depth")),
        "{w:?}"
    );
}
