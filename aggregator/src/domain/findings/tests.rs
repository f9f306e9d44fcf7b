//! Table-driven tests of `reconcile`: one or more cases per finding code, each asserting the
//! exact set of findings (code, host, ILMT ids) and then the details that decide it.

use subcap_proto::vocab::{Signature, Technology as T};

use super::*;
use crate::domain::model::{FullCapacity, IbmInstall, MatchKey};
use crate::domain::testkit::{
    at, computer, date, host, policy, table, virtual_host, vm_computer, with_ibm,
};
use crate::ilmt::HardwareStatus;

fn now() -> CivilDate {
    date(2026, 11, 23)
}

type Check = fn(&Reconciliation);

struct Case {
    name: &'static str,
    agents: Vec<AgentHost>,
    ilmt: Vec<IlmtComputer>,
    /// Exactly these findings: code, host key, ILMT ids.
    want: Vec<(Code, Option<&'static str>, Vec<i64>)>,
    check: Check,
}

fn run(agents: &[AgentHost], ilmt: &[IlmtComputer]) -> Reconciliation {
    reconcile(
        agents,
        ilmt,
        &policy(),
        &table(),
        &Thresholds::default(),
        now(),
    )
}

fn finding(r: &Reconciliation, code: Code) -> &Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:#?}", r.findings))
}

fn has(f: &Finding, text: &str) -> bool {
    f.summary.contains(text) || f.evidence.iter().any(|e| e.contains(text))
}

fn coverage(r: &Reconciliation, key: &str) -> Coverage {
    r.hosts
        .iter()
        .find(|h| h.host_key == key)
        .map(|h| h.coverage)
        .unwrap_or_else(|| panic!("no host {key}"))
}

fn fqdn_of(h: &AgentHost) -> &str {
    &h.fqdn
}

/// A host with IBM software first seen on 2026-10-01 and its fresh, matching ILMT computer.
fn covered(fqdn: &str, id: i64) -> (AgentHost, IlmtComputer) {
    let h = with_ibm(host(fqdn), date(2026, 10, 1));
    let mut r = computer(id, fqdn_of(&h));
    r.server_cores = Some(32.0);
    r.partition_cores = Some(32.0);
    (h, r)
}

fn covered_vm(fqdn: &str, id: i64, layers: &[T]) -> (AgentHost, IlmtComputer) {
    let h = with_ibm(virtual_host(fqdn, layers, 4), date(2026, 10, 1));
    (h, vm_computer(id, fqdn, 4.0, 32.0))
}

fn cases() -> Vec<Case> {
    let (ok_host, ok_rec) = covered("ok.bank.example", 1);

    let (down_missing, down_missing_r) = covered("nobigfix.bank.example", 11);
    let mut down_missing = down_missing;
    down_missing.ilmt_agent = Default::default();

    let (mut stopped, stopped_r) = covered("stopped.bank.example", 12);
    stopped.ilmt_agent.bigfix_running = false;

    let (mut old_scan, old_scan_r) = covered("oldscan.bank.example", 13);
    old_scan.ilmt_agent.last_software_scan = Some(at(2026, 9, 2));

    let (mut no_scan_time, no_scan_time_r) = covered("noscantime.bank.example", 14);
    no_scan_time.ilmt_agent.last_capacity_scan = None;

    let (docker_vbox, docker_vbox_r) =
        covered_vm("c1.lab.bank.example", 21, &[T::Virtualbox, T::Docker]);
    let (mut docker_vmware, docker_vmware_r) =
        covered_vm("c2.bank.example", 22, &[T::Vmware, T::Docker]);
    docker_vmware.ilmt_agent = Default::default();

    let (vm4, mut vm4_r) = covered_vm("vm4.bank.example", 31, &[T::Vmware]);
    vm4_r.status = Some(HardwareStatus::MissingVmManagerData);
    let (vm_tlm, mut vm_tlm_r) = covered_vm("vmtlm.bank.example", 32, &[T::Vmware]);
    vm_tlm_r.server_name = Some("TLM_VM_421c5f2b3a7e419d06b28c4e1a9f7d35".into());
    let (kvm_tlm, mut kvm_tlm_r) = covered_vm("kvmtlm.bank.example", 33, &[T::Kvm]);
    kvm_tlm_r.server_name = Some("TLM_VM_421c5f2b3a7e419d06b28c4e1a9f7d35".into());

    let (dup, dup_a) = covered("dup.bank.example", 41);
    let mut dup = dup;
    dup.bigfix_computer_id = "4100".into();
    let mut dup_b = computer(42, "dup.bank.example");
    dup_b.bigfix_id = Some(4100);
    dup_b.last_seen = Some(at(2026, 11, 21));

    let (mut cap_vm, mut cap_r) = covered_vm("cap.bank.example", 51, &[T::Vmware]);
    cap_r.partition_cores = Some(8.0);
    cap_vm.topology.cores = Some(4);
    let (cap_ok_vm, mut cap_ok_r) = covered_vm("capok.bank.example", 52, &[T::Vmware]);
    cap_ok_r.partition_cores = Some(4.4);

    let (mut arm, arm_r) = covered("arm.bank.example", 61);
    arm.topology.vendor = "ARM".into();
    arm.topology.model_name = "Neoverse-N1".into();
    let (xeon, mut xeon_default_r) = covered("xeon.bank.example", 62);
    xeon_default_r.default_pvu_value = Some(true);

    vec![
        Case {
            name: "covered and healthy: nothing to say",
            agents: vec![ok_host.clone()],
            ilmt: vec![ok_rec.clone()],
            want: vec![],
            check: |r| {
                assert_eq!(coverage(r, "ok.bank.example"), Coverage::Covered);
                let h = &r.hosts[0];
                assert_eq!(h.matches.len(), 1);
                assert_eq!(h.matches[0].key, MatchKey::Fqdn);
            },
        },
        Case {
            name: "no IBM software, no ILMT: nothing, and ILMT tooling is no IBM software",
            agents: vec![host("plain.bank.example"), {
                let mut h = host("tooling.bank.example");
                h.ilmt_agent = Default::default();
                h.ibm_installs.push(IbmInstall {
                    product: "BigFix Agent".into(),
                    version: "10.0.4.32".into(),
                    signature: Signature::Dpkg,
                    publisher: "HCL Technologies Ltd.".into(),
                });
                h
            }],
            ilmt: vec![],
            want: vec![],
            check: |r| {
                assert_eq!(coverage(r, "plain.bank.example"), Coverage::NotRequired);
                assert_eq!(coverage(r, "tooling.bank.example"), Coverage::NotRequired);
            },
        },
        Case {
            name: "bare metal with IBM software and no ILMT record: UNCOVERED and DEADLINE",
            agents: vec![with_ibm(host("db01.bank.example"), date(2026, 10, 1))],
            ilmt: vec![],
            want: vec![
                (Code::Uncovered, Some("db01.bank.example"), vec![]),
                (Code::Deadline, Some("db01.bank.example"), vec![]),
            ],
            check: |r| {
                assert_eq!(coverage(r, "db01.bank.example"), Coverage::Uncovered);
                let u = finding(r, Code::Uncovered);
                assert!(
                    has(
                        u,
                        "IBM software: IBM Db2 Standard Edition 11.5.8.0 (swid_tag)"
                    ),
                    "{u:#?}"
                );
                assert!(
                    has(
                        u,
                        "keys looked up in ILMT: FQDN db01.bank.example, hostname db01"
                    ),
                    "{u:#?}"
                );
                assert_eq!(u.first_seen, Some(date(2026, 10, 1)));
                // Bare metal: sub-capacity is full capacity, both known.
                let e = u.exposure.as_ref().unwrap_or_else(|| panic!("no exposure"));
                assert_eq!(e.exposed_pvu, Some(0.0));
                assert!(matches!(e.full_capacity, FullCapacity::Known(_)));
                let d = finding(r, Code::Deadline);
                assert_eq!(d.due, Some(date(2026, 12, 30)));
                assert_eq!(
                    d.summary,
                    "37 days left to cover it in ILMT (due 2026-12-30)"
                );
                assert!(!d.uncertain);
            },
        },
        Case {
            name: "DEADLINE overdue",
            agents: vec![with_ibm(host("late.bank.example"), date(2026, 7, 1))],
            ilmt: vec![],
            want: vec![
                (Code::Uncovered, Some("late.bank.example"), vec![]),
                (Code::Deadline, Some("late.bank.example"), vec![]),
            ],
            check: |r| {
                let d = finding(r, Code::Deadline);
                assert_eq!(
                    d.summary,
                    "overdue by 55 days (due 2026-09-29): not covered by ILMT"
                );
            },
        },
        Case {
            name: "DEADLINE without a first-seen date: the report's date stands in, uncertain",
            agents: vec![{
                let mut h = with_ibm(host("new.bank.example"), date(2026, 1, 1));
                h.first_ibm_seen = None;
                h
            }],
            ilmt: vec![],
            want: vec![
                (Code::Uncovered, Some("new.bank.example"), vec![]),
                (Code::Deadline, Some("new.bank.example"), vec![]),
            ],
            check: |r| {
                let d = finding(r, Code::Deadline);
                assert!(d.uncertain);
                assert_eq!(d.due, Some(date(2027, 2, 18)));
                assert!(has(d, "first-seen date unknown: the report of 2026-11-20 stands in, so at most 87 days are left"), "{d:#?}");
            },
        },
        Case {
            name: "a deleted ILMT record covers nothing",
            agents: vec![with_ibm(host("del.bank.example"), date(2026, 10, 1))],
            ilmt: vec![{
                let mut r = computer(9, "del.bank.example");
                r.is_deleted = Some(true);
                r.deletion_date = Some(at(2026, 11, 1));
                r
            }],
            want: vec![
                (Code::Uncovered, Some("del.bank.example"), vec![]),
                (Code::Deadline, Some("del.bank.example"), vec![]),
            ],
            check: |r| {
                let u = finding(r, Code::Uncovered);
                assert!(has(u, "ILMT computer 9 (DEL) matched by FQDN del.bank.example = dns_name is deleted in ILMT (since 2026-11-01)"), "{u:#?}");
            },
        },
        Case {
            name: "STALE: ILMT last saw the host 53 days ago",
            agents: vec![ok_host.clone()],
            ilmt: vec![IlmtComputer {
                last_seen: Some(at(2026, 10, 1)),
                ..ok_rec.clone()
            }],
            want: vec![(Code::Stale, Some("ok.bank.example"), vec![1])],
            check: |r| {
                assert_eq!(coverage(r, "ok.bank.example"), Coverage::Stale);
                let s = finding(r, Code::Stale);
                assert!(
                    has(
                        s,
                        "ILMT last saw it on 2026-10-01 (53 days before 2026-11-23; limit 14)"
                    ),
                    "{s:#?}"
                );
                assert_eq!(s.last_seen, Some(date(2026, 10, 1)));
                assert_eq!(s.first_seen, Some(date(2025, 1, 10)));
            },
        },
        Case {
            name: "ILMT_AGENT_DOWN: missing, stopped, old scan, scan time unreadable",
            agents: vec![down_missing, stopped, old_scan, no_scan_time],
            ilmt: vec![down_missing_r, stopped_r, old_scan_r, no_scan_time_r],
            want: vec![
                (Code::IlmtAgentDown, Some("nobigfix.bank.example"), vec![]),
                (Code::IlmtAgentDown, Some("noscantime.bank.example"), vec![]),
                (Code::IlmtAgentDown, Some("oldscan.bank.example"), vec![]),
                (Code::IlmtAgentDown, Some("stopped.bank.example"), vec![]),
            ],
            check: |r| {
                let by = |key: &str| {
                    r.findings
                        .iter()
                        .find(|f| f.host_key.as_deref() == Some(key))
                        .unwrap_or_else(|| panic!("{key}"))
                };
                assert!(has(
                    by("nobigfix.bank.example"),
                    "neither the BigFix client nor the ILMT disconnected scanner is installed"
                ));
                assert!(has(by("stopped.bank.example"), "not running: BigFix client installed, not running, disconnected scanner not installed"));
                let old = by("oldscan.bank.example");
                assert!(
                    has(
                        old,
                        "last software scan on 2026-09-02 (82 days before 2026-11-23; limit 14)"
                    ),
                    "{old:#?}"
                );
                assert!(!old.uncertain);
                let unreadable = by("noscantime.bank.example");
                assert!(has(
                    unreadable,
                    "no last capacity scan time found on the host"
                ));
                assert!(unreadable.uncertain);
            },
        },
        Case {
            name: "a container on an ineligible VM: INELIGIBLE, and no agent check inside it",
            agents: vec![docker_vbox, docker_vmware],
            ilmt: vec![docker_vbox_r, docker_vmware_r],
            want: vec![(
                Code::IneligibleVirtualization,
                Some("c1.lab.bank.example"),
                vec![],
            )],
            check: |r| {
                let f = finding(r, Code::IneligibleVirtualization);
                assert!(!f.uncertain);
                assert_eq!(f.summary, "runs on virtualbox: not eligible for sub-capacity counting, so full capacity applies");
                assert!(has(f, "technology virtualbox: not_eligible"), "{f:#?}");
                assert!(has(f, "it takes its machine's eligibility"), "{f:#?}");
            },
        },
        Case {
            name: "uncertain eligibility is a finding marked uncertain",
            agents: vec![covered_vm("ntnx.bank.example", 71, &[T::NutanixAhv]).0],
            ilmt: vec![covered_vm("ntnx.bank.example", 71, &[T::NutanixAhv]).1],
            want: vec![(
                Code::IneligibleVirtualization,
                Some("ntnx.bank.example"),
                vec![],
            )],
            check: |r| {
                let f = finding(r, Code::IneligibleVirtualization);
                assert!(f.uncertain);
                assert!(has(f, "Nutanix AHV (uncertain)"), "{f:#?}");
            },
        },
        Case {
            name: "VM_MANAGER_DATA_MISSING: status 4, and TLM_VM_ on VMware; not TLM_VM_ on KVM",
            agents: vec![vm4, vm_tlm, kvm_tlm],
            ilmt: vec![vm4_r, vm_tlm_r, kvm_tlm_r],
            want: vec![
                (
                    Code::IneligibleVirtualization,
                    Some("kvmtlm.bank.example"),
                    vec![],
                ),
                (
                    Code::VmManagerDataMissing,
                    Some("vm4.bank.example"),
                    vec![31],
                ),
                (
                    Code::VmManagerDataMissing,
                    Some("vmtlm.bank.example"),
                    vec![32],
                ),
            ],
            check: |r| {
                let of = |key: &str| {
                    r.findings
                        .iter()
                        .find(|f| {
                            f.code == Code::VmManagerDataMissing
                                && f.host_key.as_deref() == Some(key)
                        })
                        .unwrap_or_else(|| panic!("{key}"))
                };
                assert!(has(
                    of("vm4.bank.example"),
                    "ILMT status 4: missing VM manager data"
                ));
                let tlm = of("vmtlm.bank.example");
                assert!(has(tlm, "ILMT server \"TLM_VM_421c5f2b3a7e419d06b28c4e1a9f7d35\" (a VM UUID): the VM is counted by default"), "{tlm:#?}");
                assert!(
                    has(
                        tlm,
                        "vmware hosts need ILMT's VM Manager Tool connection (policy)"
                    ),
                    "{tlm:#?}"
                );
                // ILMT's server figures of a VM counted by default are not the host's.
                let e = tlm
                    .exposure
                    .as_ref()
                    .unwrap_or_else(|| panic!("no exposure"));
                assert!(
                    matches!(&e.full_capacity, FullCapacity::Unknown { why, .. } if why.contains("default capacity")),
                    "{e:#?}"
                );
            },
        },
        Case {
            name: "DUPLICATE: two ILMT computers for one host, the stronger key first",
            agents: vec![dup],
            ilmt: vec![dup_a, dup_b],
            want: vec![(Code::Duplicate, Some("dup.bank.example"), vec![42, 41])],
            check: |r| {
                let f = finding(r, Code::Duplicate);
                assert_eq!(f.summary, "2 ILMT computers for one host");
                assert!(has(f, "ILMT computer 42 (DUP) matched by bigfix_id 4100; last seen 2026-11-21 (its capacity data is used)"), "{f:#?}");
                assert!(
                    has(
                        f,
                        "ILMT computer 41 (DUP) matched by FQDN dup.bank.example = dns_name"
                    ),
                    "{f:#?}"
                );
            },
        },
        Case {
            name: "CAPACITY_MISMATCH beyond the tolerance only",
            agents: vec![cap_vm, cap_ok_vm],
            ilmt: vec![cap_r, cap_ok_r],
            want: vec![(Code::CapacityMismatch, Some("cap.bank.example"), vec![51])],
            check: |r| {
                let f = finding(r, Code::CapacityMismatch);
                assert!(has(f, "ILMT partition_cores 8, the agent 4 (4 cores (4 logical CPUs, 1 threads per core)): ILMT counts more, beyond the 0.5 tolerance"), "{f:#?}");
            },
        },
        Case {
            name:
                "GHOST: an ILMT computer nobody reports; deleted and superseded ones are no ghosts",
            agents: vec![ok_host.clone()],
            ilmt: vec![
                ok_rec.clone(),
                {
                    let mut g = vm_computer(81, "gone.bank.example", 4.0, 16.0);
                    g.last_seen = Some(at(2026, 8, 1));
                    g
                },
                IlmtComputer {
                    is_deleted: Some(true),
                    ..computer(82, "deleted.bank.example")
                },
                IlmtComputer {
                    last_seen: Some(at(2026, 1, 1)),
                    source_row: 500,
                    ..ok_rec.clone()
                },
            ],
            want: vec![(Code::Ghost, None, vec![81])],
            check: |r| {
                let g = finding(r, Code::Ghost);
                assert_eq!(g.summary, "ILMT computer 81 (GONE) has no reporting agent");
                assert!(has(g, "no agent report matches its keys (name GONE, dns_name gone.bank.example, server esx81.bank.example)"), "{g:#?}");
                assert!(
                    has(
                        g,
                        "ILMT last saw it on 2026-08-01 (114 days before 2026-11-23)"
                    ),
                    "{g:#?}"
                );
                assert_eq!(
                    g.exposure.as_ref().and_then(|e| e.exposed_pvu),
                    Some(12.0 * 120.0)
                );
            },
        },
        Case {
            name: "UNKNOWN_PROCESSOR: not in the table, or ILMT's own default",
            agents: vec![arm, xeon],
            ilmt: vec![arm_r, xeon_default_r],
            want: vec![
                (Code::UnknownProcessor, Some("arm.bank.example"), vec![]),
                (Code::UnknownProcessor, Some("xeon.bank.example"), vec![62]),
            ],
            check: |r| {
                let arm = &r.findings[0];
                assert_eq!(
                    arm.summary,
                    "processor not identified: 120 PVU per core used"
                );
                assert!(has(arm, "no entry of PVU table 2026-05-20 matches vendor \"ARM\", processor \"Neoverse-N1\""), "{arm:#?}");
                let xeon = &r.findings[1];
                assert!(
                    has(
                        xeon,
                        "ILMT applied its default PVU value to ILMT computer 62 (XEON)"
                    ),
                    "{xeon:#?}"
                );
            },
        },
        Case {
            name: "a renamed host matched by its UUID is covered",
            agents: vec![{
                let mut h = with_ibm(
                    virtual_host("db02.bank.example", &[T::Vmware], 4),
                    date(2026, 10, 1),
                );
                h.product_uuid = "2b5f1c42-7e3a-9d41-06b2-8c4e1a9f7d35".into();
                h
            }],
            ilmt: vec![{
                let mut r = vm_computer(91, "db01.bank.example", 4.0, 32.0);
                r.status = Some(HardwareStatus::Ok);
                r.server_serial_number = Some("TLM_VM_421c5f2b3a7e419d06b28c4e1a9f7d35".into());
                r.is_managed_by_vm_manager = Some(true);
                r
            }],
            want: vec![(
                Code::VmManagerDataMissing,
                Some("db02.bank.example"),
                vec![91],
            )],
            check: |r| {
                assert_eq!(coverage(r, "db02.bank.example"), Coverage::Covered);
                assert_eq!(r.hosts[0].matches[0].key, MatchKey::Uuid);
            },
        },
        Case {
            name: "a moved VM: the latest record is used, no ghost, no duplicate",
            agents: vec![{
                let mut h = covered_vm("moved.bank.example", 95, &[T::Vmware]).0;
                h.bigfix_computer_id = "9500".into();
                h
            }],
            ilmt: vec![
                IlmtComputer {
                    bigfix_id: Some(9500),
                    server_id: Some(3),
                    server_cores: Some(16.0),
                    last_seen: Some(at(2026, 10, 1)),
                    ..vm_computer(95, "moved.bank.example", 4.0, 16.0)
                },
                IlmtComputer {
                    bigfix_id: Some(9500),
                    server_id: Some(5),
                    source_row: 200,
                    ..vm_computer(95, "moved.bank.example", 4.0, 48.0)
                },
            ],
            want: vec![],
            check: |r| {
                let h = &r.hosts[0];
                assert_eq!(h.coverage, Coverage::Covered);
                assert_eq!(h.matches.len(), 1);
                assert_eq!(h.matches[0].ilmt.source_row, 200);
                assert_eq!(h.exposure.exposed_pvu, Some(44.0 * 120.0));
                assert!(
                    h.notes
                        .iter()
                        .any(|n| n.contains("also listed on server 3")),
                    "{:?}",
                    h.notes
                );
            },
        },
        Case {
            name: "an old name of a renamed host is superseded: no findings for it",
            agents: vec![
                {
                    let mut h = with_ibm(
                        virtual_host("old.bank.example", &[T::Vmware], 4),
                        date(2026, 1, 1),
                    );
                    h.bigfix_computer_id = "777".into();
                    h.last_report = at(2026, 6, 1);
                    h
                },
                {
                    let mut h = with_ibm(
                        virtual_host("new.bank.example", &[T::Vmware], 4),
                        date(2026, 1, 1),
                    );
                    h.bigfix_computer_id = "777".into();
                    h
                },
            ],
            ilmt: vec![IlmtComputer {
                bigfix_id: Some(777),
                ..vm_computer(99, "new.bank.example", 4.0, 32.0)
            }],
            want: vec![],
            check: |r| {
                assert_eq!(coverage(r, "old.bank.example"), Coverage::Superseded);
                assert_eq!(coverage(r, "new.bank.example"), Coverage::Covered);
            },
        },
    ]
}

#[test]
fn every_finding_code_is_raised_when_and_only_when_it_applies() {
    let mut seen = std::collections::BTreeSet::new();
    for case in cases() {
        let r = run(&case.agents, &case.ilmt);
        let got: Vec<(Code, Option<&str>, Vec<i64>)> = r
            .findings
            .iter()
            .map(|f| {
                (
                    f.code,
                    f.host_key.as_deref(),
                    f.ilmt.iter().map(|i| i.id.unwrap_or(-1)).collect(),
                )
            })
            .collect();
        assert_eq!(got, case.want, "{}: {:#?}", case.name, r.findings);
        (case.check)(&r);
        seen.extend(got.iter().map(|g| g.0));
    }
    for code in Code::ALL {
        assert!(seen.contains(code), "no case raises {code}");
    }
}

#[test]
fn output_order_does_not_depend_on_input_order() {
    let mut agents = Vec::new();
    let mut ilmt = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for case in cases() {
        // One report per host key, as the store keeps them.
        agents.extend(
            case.agents
                .into_iter()
                .filter(|a| keys.insert(a.host_key.clone())),
        );
        ilmt.extend(case.ilmt);
    }
    assert!(agents.len() > 20);
    let forward = run(&agents, &ilmt);
    agents.reverse();
    let backward = run(&agents, &ilmt);
    assert_eq!(forward, backward);
    let keys: Vec<&str> = forward.hosts.iter().map(|h| h.host_key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    let codes: Vec<Code> = forward.findings.iter().map(|f| f.code).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted);
}

#[test]
fn thresholds_move_the_lines() {
    let (h, r) = covered("ok.bank.example", 1);
    let r = IlmtComputer {
        last_seen: Some(at(2026, 11, 1)),
        ..r
    };
    let strict = Thresholds {
        stale_days: 7,
        ..Thresholds::default()
    };
    let lax = Thresholds {
        stale_days: 30,
        ..Thresholds::default()
    };
    let codes = |t: &Thresholds| -> Vec<Code> {
        reconcile(
            std::slice::from_ref(&h),
            std::slice::from_ref(&r),
            &policy(),
            &table(),
            t,
            now(),
        )
        .findings
        .iter()
        .map(|f| f.code)
        .collect()
    };
    assert_eq!(codes(&strict), [Code::Stale]);
    assert_eq!(codes(&lax), []);
}
