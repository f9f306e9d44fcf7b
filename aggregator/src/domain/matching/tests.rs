//! Table-driven tests of matching: one case per rule, plus the key normalizers.

use subcap_proto::vocab::Technology as T;

use super::*;
use crate::domain::testkit::{at, computer, host, virtual_host, vm_computer};
use crate::ilmt::ComputerType;

/// product_uuid as the kernel shows it, and the same UUID in SMBIOS' raw order (VMware's serial).
const KERNEL_UUID: &str = "2b5f1c42-7e3a-9d41-06b2-8c4e1a9f7d35";
const VMWARE_SERIAL: &str = "VMware-42 1c 5f 2b 3a 7e 41 9d-06 b2 8c 4e 1a 9f 7d 35";
const RAW_HEX: &str = "421c5f2b3a7e419d06b28c4e1a9f7d35";

fn old_before() -> UtcTime {
    at(2026, 11, 6)
}

/// What one agent should end with: (ILMT id, key) of its matched records in order, of its
/// deleted records, and whether it is superseded.
struct Want {
    matched: Vec<(i64, MatchKey)>,
    deleted: Vec<i64>,
    superseded_by: Option<usize>,
    note: Option<&'static str>,
}

fn want(matched: &[(i64, MatchKey)]) -> Want {
    Want {
        matched: matched.to_vec(),
        deleted: Vec::new(),
        superseded_by: None,
        note: None,
    }
}

impl Want {
    fn note(mut self, n: &'static str) -> Want {
        self.note = Some(n);
        self
    }
}

struct Case {
    name: &'static str,
    agents: Vec<AgentHost>,
    ilmt: Vec<IlmtComputer>,
    want: Vec<Want>,
    /// ILMT ids of the current, undeleted records no agent matched.
    unclaimed: Vec<i64>,
}

fn bigfix(mut h: AgentHost, id: &str) -> AgentHost {
    h.bigfix_computer_id = id.into();
    h
}

fn uuid(mut h: AgentHost, product_uuid: &str, serial: &str) -> AgentHost {
    h.product_uuid = product_uuid.into();
    h.product_serial = serial.into();
    h
}

fn ips(mut h: AgentHost, list: &[&str]) -> AgentHost {
    h.ip_addresses = list.iter().map(|s| s.to_string()).collect();
    h
}

fn reported(mut h: AgentHost, y: i32, m: u8, d: u8) -> AgentHost {
    h.last_report = at(y, m, d);
    h
}

fn rec(id: i64, f: impl FnOnce(&mut IlmtComputer)) -> IlmtComputer {
    let mut r = computer(id, &format!("unrelated{id}.bank.example"));
    f(&mut r);
    r
}

fn cases() -> Vec<Case> {
    use MatchKey::*;
    vec![
        Case {
            name: "BigFix id wins over a different name",
            agents: vec![bigfix(host("db01.bank.example"), "1612345678")],
            ilmt: vec![rec(1, |r| r.bigfix_id = Some(1_612_345_678))],
            want: vec![want(&[(1, BigfixId)])],
            unclaimed: vec![],
        },
        Case {
            name: "renamed host: the TLM_VM_ UUID (raw order, no dashes) ties it",
            agents: vec![uuid(virtual_host("db02.bank.example", &[T::Vmware], 4), KERNEL_UUID, "")],
            ilmt: vec![rec(1, |r| {
                r.name = Some("DB01".into());
                r.dns_name = Some("db01.bank.example".into());
                r.server_name = Some(format!("TLM_VM_{RAW_HEX}"));
            })],
            want: vec![want(&[(1, Uuid)])],
            unclaimed: vec![],
        },
        Case {
            name: "UUID in the kernel's order with dashes, in v1's hardware serial",
            agents: vec![uuid(virtual_host("a.bank.example", &[T::Vmware], 4), "", VMWARE_SERIAL)],
            ilmt: vec![rec(1, |r| r.hardware_serial_number = Some(format!("TLM_VM_{KERNEL_UUID}")))],
            want: vec![want(&[(1, Uuid)])],
            unclaimed: vec![],
        },
        Case {
            name: "a truncated TLM_VM_ UUID on a record without names",
            agents: vec![uuid(virtual_host("a.bank.example", &[T::Vmware], 4), KERNEL_UUID, "")],
            ilmt: vec![rec(1, |r| {
                r.name = None;
                r.dns_name = None;
                r.server_serial_number = Some("TLM_VM_421c5f2b".into());
            })],
            want: vec![want(&[(1, UuidPrefix)])],
            unclaimed: vec![],
        },
        Case {
            name: "a truncated TLM_VM_ UUID does not override a different name",
            agents: vec![uuid(virtual_host("a.bank.example", &[T::Vmware], 4), KERNEL_UUID, "")],
            ilmt: vec![rec(1, |r| {
                r.server_serial_number = Some("TLM_VM_421c5f2b".into());
            })],
            want: vec![want(&[]).note("its dns_name is unrelated1.bank.example")],
            unclaimed: vec![1],
        },
        Case {
            name: "placeholder UUIDs are no keys",
            agents: vec![uuid(virtual_host("a.bank.example", &[T::Kvm], 4), "03000200-0400-0500-0006-000700080009", "")],
            ilmt: vec![rec(1, |r| r.server_name = Some("TLM_VM_03000200-0400-0500-0006-000700080009".into()))],
            want: vec![want(&[])],
            unclaimed: vec![1],
        },
        Case {
            name: "bare-metal serial to a physical computer only",
            agents: vec![uuid(host("db01.bank.example"), "", "CZ3456789A")],
            ilmt: vec![
                rec(1, |r| r.server_serial_number = Some("cz3456789a".into())),
                rec(2, |r| {
                    r.server_serial_number = Some("CZ3456789A".into());
                    r.computer_type = Some(ComputerType::Virtual);
                }),
            ],
            want: vec![want(&[(1, Serial)])],
            unclaimed: vec![2],
        },
        Case {
            name: "FQDN, case and trailing dot aside",
            agents: vec![host("App01.Bank.Example")],
            ilmt: vec![rec(1, |r| r.dns_name = Some("app01.bank.example.".into()))],
            want: vec![want(&[(1, Fqdn)])],
            unclaimed: vec![],
        },
        Case {
            name: "short hostname to name, case-insensitive",
            agents: vec![host("web01.a.example")],
            ilmt: vec![rec(1, |r| {
                r.name = Some("WEB01".into());
                r.dns_name = None;
            })],
            want: vec![want(&[(1, Hostname)])],
            unclaimed: vec![],
        },
        Case {
            name: "same short name, another domain: not the same machine",
            agents: vec![host("web01.a.example")],
            ilmt: vec![rec(1, |r| {
                r.name = Some("web01".into());
                r.dns_name = Some("web01.b.example".into());
            })],
            want: vec![want(&[]).note("its dns_name is web01.b.example, the agent's FQDN web01.a.example")],
            unclaimed: vec![1],
        },
        Case {
            name: "an address, when no name disagrees",
            agents: vec![ips(host("app07.bank.example"), &["10.1.2.3", "127.0.0.1", "fe80::1"])],
            ilmt: vec![
                rec(1, |r| {
                    r.name = None;
                    r.dns_name = None;
                    r.ip_addresses = vec!["10.1.2.3".into()];
                }),
                rec(2, |r| r.ip_addresses = vec!["10.1.2.3".into()]),
                rec(3, |r| {
                    r.name = None;
                    r.dns_name = None;
                    r.ip_addresses = vec!["127.0.0.1".into()];
                }),
            ],
            want: vec![want(&[(1, IpAddress)]).note("its dns_name is unrelated2.bank.example")],
            unclaimed: vec![2, 3],
        },
        Case {
            name: "DUPLICATE: BigFix id and FQDN find two records",
            agents: vec![bigfix(host("app01.bank.example"), "100")],
            ilmt: vec![
                rec(2, |r| r.dns_name = Some("app01.bank.example".into())),
                rec(1, |r| r.bigfix_id = Some(100)),
            ],
            want: vec![want(&[(1, BigfixId), (2, Fqdn)])],
            unclaimed: vec![],
        },
        Case {
            name: "DUPLICATE: BigFix reinstalled, the old registration has the same UUID",
            agents: vec![uuid(bigfix(virtual_host("app01.bank.example", &[T::Vmware], 4), "200"), KERNEL_UUID, "")],
            ilmt: vec![
                rec(1, |r| {
                    r.bigfix_id = Some(100);
                    r.server_name = Some(format!("TLM_VM_{RAW_HEX}"));
                    r.last_seen = Some(at(2026, 6, 1));
                }),
                rec(2, |r| {
                    r.bigfix_id = Some(200);
                    r.server_name = Some(format!("TLM_VM_{RAW_HEX}"));
                }),
            ],
            want: vec![want(&[(2, BigfixId), (1, Uuid)])],
            unclaimed: vec![],
        },
        Case {
            name: "VM moved: the record last seen wins, the older one is no ghost",
            agents: vec![bigfix(virtual_host("app01.bank.example", &[T::Vmware], 4), "300")],
            ilmt: vec![
                IlmtComputer {
                    bigfix_id: Some(300),
                    server_id: Some(5),
                    last_seen: Some(at(2026, 11, 20)),
                    ..vm_computer(17, "app01.bank.example", 4.0, 32.0)
                },
                IlmtComputer {
                    bigfix_id: Some(300),
                    server_id: Some(3),
                    last_seen: Some(at(2026, 10, 1)),
                    source_row: 99,
                    ..vm_computer(17, "app01.bank.example", 4.0, 32.0)
                },
            ],
            want: vec![want(&[(17, BigfixId)]).note("is also listed on server 3 (esx17.bank.example) (last seen 2026-10-01); the latest record, on server 5")],
            unclaimed: vec![],
        },
        Case {
            name: "deleted records cover nothing and are no ghosts",
            agents: vec![host("app01.bank.example")],
            ilmt: vec![rec(1, |r| {
                r.dns_name = Some("app01.bank.example".into());
                r.is_deleted = Some(true);
            })],
            want: vec![Want { deleted: vec![1], ..want(&[]) }],
            unclaimed: vec![],
        },
        Case {
            name: "a hostname two agents report is no key",
            agents: vec![
                {
                    let mut h = host("web.a.example");
                    h.fqdn = String::new();
                    h
                },
                {
                    let mut h = host("web.b.example");
                    h.fqdn = String::new();
                    h
                },
            ],
            ilmt: vec![rec(1, |r| {
                r.name = Some("web".into());
                r.dns_name = None;
            })],
            want: vec![
                want(&[]).note("hostname web is reported by several agent hosts"),
                want(&[]).note("hostname web is reported by several agent hosts"),
            ],
            unclaimed: vec![1],
        },
        Case {
            name: "renamed host with its old report still stored: the new name has the machine",
            agents: vec![
                reported(uuid(virtual_host("db01.bank.example", &[T::Vmware], 4), KERNEL_UUID, ""), 2026, 9, 1),
                uuid(virtual_host("db02.bank.example", &[T::Vmware], 4), KERNEL_UUID, ""),
            ],
            ilmt: vec![rec(1, |r| {
                r.name = Some("db01".into());
                r.dns_name = Some("db01.bank.example".into());
                r.server_name = Some(format!("TLM_VM_{KERNEL_UUID}"));
            })],
            want: vec![
                Want {
                    superseded_by: Some(1),
                    ..want(&[]).note("db02.bank.example matches it by a stronger key (uuid)")
                },
                want(&[(1, Uuid)]),
            ],
            unclaimed: vec![],
        },
        Case {
            name: "two live clones share a UUID: it is no key",
            agents: vec![
                uuid(virtual_host("clone1.bank.example", &[T::Vmware], 4), KERNEL_UUID, ""),
                reported(uuid(virtual_host("clone2.bank.example", &[T::Vmware], 4), KERNEL_UUID, ""), 2026, 11, 19),
            ],
            ilmt: vec![rec(1, |r| r.server_name = Some(format!("TLM_VM_{KERNEL_UUID}")))],
            want: vec![
                want(&[]).note("is reported by 2 agent hosts recently: not used as a key"),
                want(&[]).note("is reported by 2 agent hosts recently: not used as a key"),
            ],
            unclaimed: vec![1],
        },
        Case {
            name: "a container matches its machine's record beside the machine",
            agents: vec![
                uuid(bigfix(virtual_host("vm01.bank.example", &[T::Vmware], 4), "400"), KERNEL_UUID, VMWARE_SERIAL),
                uuid(virtual_host("3f1ae0c2b4d5", &[T::Vmware, T::Docker], 4), KERNEL_UUID, VMWARE_SERIAL),
            ],
            ilmt: vec![rec(1, |r| {
                r.bigfix_id = Some(400);
                r.server_name = Some(format!("TLM_VM_{RAW_HEX}"));
            })],
            want: vec![want(&[(1, BigfixId)]), want(&[(1, Uuid)])],
            unclaimed: vec![],
        },
        Case {
            name: "one record, two machines: the stronger key keeps it",
            agents: vec![
                bigfix(host("x.bank.example"), "5"),
                ips(host("y.bank.example"), &["10.0.0.9"]),
            ],
            ilmt: vec![rec(1, |r| {
                r.name = None;
                r.dns_name = None;
                r.bigfix_id = Some(5);
                r.ip_addresses = vec!["10.0.0.9".into()];
            })],
            want: vec![
                want(&[(1, BigfixId)]),
                want(&[]).note("x.bank.example matches it by a stronger key (bigfix_id)"),
            ],
            unclaimed: vec![],
        },
        Case {
            name: "a BigFix id that differs rejects a name match",
            agents: vec![bigfix(host("app01.bank.example"), "7")],
            ilmt: vec![rec(1, |r| {
                r.bigfix_id = Some(8);
                r.dns_name = Some("app01.bank.example".into());
            })],
            want: vec![want(&[]).note("its bigfix_id is 8, the agent's 7")],
            unclaimed: vec![1],
        },
    ]
}

#[test]
fn matching_follows_the_rules() {
    for case in cases() {
        let m = match_hosts(&case.agents, &case.ilmt, old_before());
        assert_eq!(m.hosts.len(), case.agents.len(), "{}", case.name);
        let id = |i: usize| case.ilmt.get(i).and_then(|r| r.id).unwrap_or(-1);
        for (a, (got, want)) in m.hosts.iter().zip(&case.want).enumerate() {
            let matched: Vec<(i64, MatchKey)> =
                got.matched.iter().map(|c| (id(c.record), c.key)).collect();
            assert_eq!(
                matched, want.matched,
                "{} (agent {a}): {:?}",
                case.name, got.notes
            );
            let deleted: Vec<i64> = got.deleted.iter().map(|c| id(c.record)).collect();
            assert_eq!(deleted, want.deleted, "{} (agent {a})", case.name);
            assert_eq!(
                got.superseded_by, want.superseded_by,
                "{} (agent {a})",
                case.name
            );
            if let Some(note) = want.note {
                assert!(
                    got.notes.iter().any(|n| n.contains(note)),
                    "{} (agent {a}): no note with {note:?} in {:?}",
                    case.name,
                    got.notes
                );
            }
        }
        let unclaimed: Vec<i64> = m.unclaimed(&case.ilmt).map(id).collect();
        assert_eq!(unclaimed, case.unclaimed, "{}", case.name);
    }
}

#[test]
fn uuids_are_read_in_every_form_ilmt_and_dmi_write() {
    let raw = u128::from_str_radix(RAW_HEX, 16).unwrap_or_default();
    let kernel = swap_uuid(raw);
    let cases: &[(&str, Option<UuidValue>)] = &[
        (KERNEL_UUID, Some(UuidValue::Full(kernel))),
        (VMWARE_SERIAL, Some(UuidValue::Full(raw))),
        (
            "TLM_VM_421c5f2b3a7e419d06b28c4e1a9f7d35",
            Some(UuidValue::Full(raw)),
        ),
        (
            "tlm_vm_421C5F2B-3A7E-419D-06B2-8C4E1A9F7D35",
            Some(UuidValue::Full(raw)),
        ),
        (
            "{421c5f2b-3a7e-419d-06b2-8c4e1a9f7d35}",
            Some(UuidValue::Full(raw)),
        ),
        (
            "TLM_VM_4236ac43",
            Some(UuidValue::Prefix("4236ac43".into())),
        ),
        ("4236ac43", None),
        ("TLM_VM_4236", None),
        ("00000000-0000-0000-0000-000000000000", None),
        ("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", None),
        ("03000200-0400-0500-0006-000700080009", None),
        ("Not Settable", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(&parse_uuid(text), want, "{text:?}");
    }
    assert_eq!(swap_uuid(swap_uuid(raw)), raw);
    assert_eq!(uuid_text(kernel), KERNEL_UUID);
}

#[test]
fn names_serials_and_addresses_are_normalized() {
    let fqdns: &[(&str, Option<&str>)] = &[
        ("DB01.Bank.Example.", Some("db01.bank.example")),
        ("db01", None),
        ("localhost.localdomain", None),
        ("10.0.0.1", None),
        ("", None),
    ];
    for (text, want) in fqdns {
        assert_eq!(norm_fqdn(text).as_deref(), *want, "{text:?}");
    }
    let shorts: &[(&str, Option<&str>)] = &[
        ("DB01.bank.example", Some("db01")),
        ("DESKTOP-7K3Q9PL", Some("desktop-7k3q9pl")),
        ("localhost", None),
        ("10.0.0.1", None),
        ("", None),
    ];
    for (text, want) in shorts {
        assert_eq!(short_name(text).as_deref(), *want, "{text:?}");
    }
    let serials: &[(&str, Option<&str>)] = &[
        (" cz3456789a ", Some("CZ3456789A")),
        ("To Be Filled By O.E.M.", None),
        ("System Serial Number", None),
        ("0000000000", None),
        ("TLM_VM_4236ac43", None),
        (VMWARE_SERIAL, None),
        ("abc", None),
    ];
    for (text, want) in serials {
        assert_eq!(norm_serial(text).as_deref(), *want, "{text:?}");
    }
    let addresses: &[(&str, bool)] = &[
        ("10.1.2.3", true),
        ("2001:db8::1", true),
        ("127.0.0.1", false),
        ("::1", false),
        ("169.254.10.1", false),
        ("fe80::1", false),
        ("0.0.0.0", false),
        ("db01", false),
    ];
    for (text, usable) in addresses {
        assert_eq!(norm_ip(text).is_some(), *usable, "{text:?}");
    }
}
