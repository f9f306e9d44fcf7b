//! End to end over real fixture reports: `tests/fixtures/{hosts,ibm-hosts}/*/expected.json` (the
//! canonical JSON of what the agent reports for each fixture host) go through `convert` and
//! `reconcile` against ILMT records written here as a saved `api/sam/v2/computers` response and
//! read by the real ILMT importer.

use std::path::PathBuf;

use subcap_aggregator::convert::agent_host;
use subcap_aggregator::domain::model::{CivilDate, FullCapacity, MatchKey};
use subcap_aggregator::domain::{
    reconcile, AgentHost, Code, Coverage, Policy, PvuTable, Reconciliation, Thresholds,
};
use subcap_aggregator::ilmt::{json, Limits};
use subcap_proto::v1 as pb;

/// ILMT's view of the same estate, as `api/sam/v2/computers` answers it.
const ILMT_COMPUTERS: &str = r#"{"total": 9, "rows": [
 {"id": 101, "name": "app01", "dns_name": "app01.bank.example", "first_seen": "2025-03-01T00:00:00Z",
  "last_seen": "2026-11-28T06:00:00Z", "is_deleted": 0,
  "computer_hardware": {"computer_type": 1, "status": 4, "server_id": 501,
   "server_name": "TLM_VM_421c8a5e-3b9d-2f11-7a6c-0e4d2b198f33", "partition_cores": 4}},
 {"id": 102, "name": "dockervm01", "dns_name": "dockervm01.bank.example", "last_seen": "2026-11-28T06:00:00Z",
  "computer_hardware": {"computer_type": 1, "status": 1, "server_id": 502,
   "server_name": "TLM_VM_421c5f2b3a7e419d06b28c4e1a9f7d35", "partition_cores": 4}},
 {"id": 103, "name": "devbox", "dns_name": "devbox.lab.bank.example", "last_seen": "2026-11-29 08:00:00",
  "computer_hardware": {"computer_type": 1, "status": 1, "server_id": 503, "server_name": "lab-ws-17",
   "partition_cores": 2}},
 {"id": 104, "name": "dbsrv-legacy", "dns_name": "dbsrv-legacy.bank.example", "last_seen": "2026-11-29T08:00:00Z",
  "computer_hardware": {"computer_type": 0, "status": 1, "server_serial_number": "7XK2QJ3", "server_cores": 32,
   "partition_cores": 40, "node_total_processors": 2, "processor_vendor": "Intel", "processor_brand": "Xeon"}},
 {"id": 105, "name": "aixlnx01", "dns_name": "aixlnx01.bank.example", "last_seen": "2026-11-29T08:00:00Z",
  "computer_hardware": {"computer_type": 1, "status": 1, "server_id": 505, "server_name": "E980-PROD",
   "partition_cores": 2, "entitlement": 0.5, "online_vp_count": 2, "is_capped": 0}},
 {"id": 106, "bigfix_id": 1600000042, "name": "legacy01", "last_seen": "2023-09-02T01:00:00Z",
  "computer_hardware": {"computer_type": 0, "status": 1}},
 {"id": 900, "name": "retired01", "dns_name": "retired01.bank.example", "last_seen": "2026-05-01T00:00:00Z",
  "computer_hardware": {"computer_type": 1, "status": 1, "partition_cores": 8, "server_cores": 64}},
 {"id": 901, "name": "dmz01", "is_deleted": 1, "deletion_date": "2026-10-01T00:00:00Z",
  "last_seen": "2026-09-30T00:00:00Z"}
]}"#;

fn fixture(dir: &str) -> pb::HostReport {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(dir)
        .join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn date(y: i32, m: u8, d: u8) -> CivilDate {
    CivilDate::new(y, m, d).unwrap_or_else(|| panic!("bad date"))
}

fn estate() -> Reconciliation {
    let first_seen = |dir: &str| match dir {
        "ibm-hosts/ibm-db2" => Some(date(2026, 11, 1)),
        _ => None,
    };
    let agents: Vec<AgentHost> = [
        "hosts/vmware-vm",
        "hosts/docker-in-vmware",
        "hosts/virtualbox",
        "hosts/baremetal-x86-2socket",
        "hosts/powervm-shared-lpar",
        "ibm-hosts/bigfix-stale",
        "ibm-hosts/ibm-db2",
        "ibm-hosts/lmt-scanner-disconnected",
    ]
    .iter()
    .map(|dir| agent_host(&fixture(dir), first_seen(dir)).unwrap_or_else(|e| panic!("{dir}: {e}")))
    .collect();
    let import = json::parse_v2(
        "computers.json",
        ILMT_COMPUTERS.as_bytes(),
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(import.computers.len(), 8, "{:?}", import.warnings);
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let table = PvuTable::builtin().unwrap_or_else(|e| panic!("{e}"));
    reconcile(
        &agents,
        &import.computers,
        &policy,
        &table,
        &Thresholds::default(),
        date(2026, 11, 30),
    )
}

#[test]
fn the_fixture_estate_reconciles_to_these_findings() {
    let r = estate();
    let got: Vec<(Code, Option<&str>, Vec<i64>)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.code,
                f.host_key.as_deref(),
                f.ilmt.iter().filter_map(|i| i.id).collect(),
            )
        })
        .collect();
    use Code::*;
    let want: Vec<(Code, Option<&str>, Vec<i64>)> = vec![
        (Uncovered, Some("db2host"), vec![]),
        (Uncovered, Some("dmz01"), vec![]),
        (Deadline, Some("db2host"), vec![]),
        (Deadline, Some("dmz01"), vec![]),
        (Stale, Some("legacy01"), vec![106]),
        (IlmtAgentDown, Some("aixlnx01.bank.example"), vec![]),
        (IlmtAgentDown, Some("app01.bank.example"), vec![]),
        (IlmtAgentDown, Some("db01.bank.example"), vec![]),
        (IlmtAgentDown, Some("db2host"), vec![]),
        (IlmtAgentDown, Some("devbox.lab.bank.example"), vec![]),
        (IlmtAgentDown, Some("dmz01"), vec![]),
        (IlmtAgentDown, Some("legacy01"), vec![]),
        (
            IneligibleVirtualization,
            Some("devbox.lab.bank.example"),
            vec![],
        ),
        (VmManagerDataMissing, Some("3f1ae0c2b4d5"), vec![102]),
        (VmManagerDataMissing, Some("app01.bank.example"), vec![101]),
        (CapacityMismatch, Some("db01.bank.example"), vec![104]),
        (UnknownProcessor, Some("db2host"), vec![]),
        (UnknownProcessor, Some("dmz01"), vec![]),
        (UnknownProcessor, Some("legacy01"), vec![]),
        (Ghost, None, vec![900]),
    ];
    assert_eq!(got, want, "{:#?}", r.findings);
}

#[test]
fn hosts_match_by_the_keys_their_reports_carry() {
    let r = estate();
    let host = |key: &str| {
        r.hosts
            .iter()
            .find(|h| h.host_key == key)
            .unwrap_or_else(|| panic!("no host {key}"))
    };
    // (host key, coverage, key of the first match)
    let cases: &[(&str, Coverage, Option<MatchKey>)] = &[
        // VMware: the kernel's product_uuid against ILMT's TLM_VM_ in the BIOS (raw) order.
        (
            "app01.bank.example",
            Coverage::Covered,
            Some(MatchKey::Uuid),
        ),
        // A container matches its machine's computer by the machine's UUID.
        ("3f1ae0c2b4d5", Coverage::Covered, Some(MatchKey::Uuid)),
        (
            "devbox.lab.bank.example",
            Coverage::Covered,
            Some(MatchKey::Fqdn),
        ),
        // The Dell service tag ties the bare-metal host to a record under an old name.
        (
            "db01.bank.example",
            Coverage::Covered,
            Some(MatchKey::Serial),
        ),
        (
            "aixlnx01.bank.example",
            Coverage::Covered,
            Some(MatchKey::Fqdn),
        ),
        ("legacy01", Coverage::Stale, Some(MatchKey::BigfixId)),
        ("db2host", Coverage::Uncovered, None),
        ("dmz01", Coverage::Uncovered, None),
    ];
    for (key, coverage, first) in cases {
        let h = host(key);
        assert_eq!(h.coverage, *coverage, "{key}: {h:#?}");
        assert_eq!(h.matches.first().map(|m| m.key), *first, "{key}: {h:#?}");
    }
    assert!(
        host("dmz01").notes.iter().any(|n| n.contains("ILMT computer 901 (dmz01) matched by hostname dmz01 = name is deleted in ILMT (since 2026-10-01)")),
        "{:?}",
        host("dmz01").notes
    );
}

#[test]
fn exposures_of_the_fixture_hosts() {
    let r = estate();
    let exposure = |key: &str| {
        &r.hosts
            .iter()
            .find(|h| h.host_key == key)
            .unwrap_or_else(|| panic!("no host {key}"))
            .exposure
    };
    // POWER shared uncapped LPAR on a 20-core E980: 2 VPs x 70 vs 20 x 70.
    let power = exposure("aixlnx01.bank.example");
    assert_eq!(
        power.summary,
        "2 of 20 cores at 70 PVU/core: 140 vs 1400 PVU, 1260 PVU exposed"
    );
    // Bare metal: the agent's 40 cores are both sides, at the (uncertain) 2-socket x86 value.
    let metal = exposure("db01.bank.example");
    assert_eq!(metal.exposed_pvu, Some(0.0));
    assert_eq!(metal.rate.pvu_per_core, 70.0);
    assert!(metal.rate.uncertain, "{}", metal.rate.how);
    // VirtualBox without ILMT server data: capacity unknown, at least the VM's 2 cores.
    match &exposure("devbox.lab.bank.example").full_capacity {
        FullCapacity::Unknown {
            lower_bound: Some(lb),
            why,
        } => {
            assert_eq!((lb.cores, lb.pvu), (2.0, 240.0));
            assert!(why.starts_with("host capacity unknown"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // A report without topology: nothing to count, said so.
    let bare = exposure("db2host");
    assert!(bare.sub_capacity.is_none());
    assert!(
        bare.summary.contains("sub-capacity unknown too"),
        "{}",
        bare.summary
    );
}

#[test]
fn deadlines_count_from_the_first_sighting() {
    let r = estate();
    let deadline = |key: &str| {
        r.findings
            .iter()
            .find(|f| f.code == Code::Deadline && f.host_key.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no DEADLINE for {key}"))
    };
    let db2 = deadline("db2host");
    assert_eq!(
        db2.summary,
        "61 days left to cover it in ILMT (due 2027-01-30)"
    );
    assert!(!db2.uncertain);
    // dmz01 has no first-seen date: its report of 2026-11-23 stands in.
    let dmz = deadline("dmz01");
    assert_eq!(dmz.due, Some(date(2027, 2, 21)));
    assert!(dmz.uncertain);
}
