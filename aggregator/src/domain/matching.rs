//! Matching agent hosts to ILMT computers, strongest key first, in time linear in the input:
//! one hash index per key kind, whose entries hold both the ILMT records and the agents with that
//! value; each agent looks its own keys up. The indexes use std's SipHash on purpose: the keys
//! come from agent reports and imports, and a predictable hash would let crafted names collide.
//!
//! The rules, in the order they apply:
//! 1. **One current record per ILMT computer.** Records with the same ILMT `id` (a VM that moved
//!    to another server shows up under its old and its new `server_id`) collapse to the one last
//!    seen (ties: the later in the input); the others are *superseded*: neither matched nor ghosts.
//!    Records without an id are never collapsed.
//! 2. **Keys, strongest first** ([`MatchKey`]): BigFix computer id; UUID (DMI product_uuid in the
//!    kernel's byte order and in SMBIOS' raw order, which is VMware's `VMware-42 1c ...` serial
//!    and the BIOS UUID vCenter shows, against the UUID in ILMT's `TLM_VM_<uuid>` server name or
//!    serial, with or without dashes); serial (bare-metal agents against physical ILMT computers
//!    only: a VM's `server_serial_number` is its host's, shared by every VM on it); FQDN to
//!    `dns_name`; short hostname to short `name`; a `TLM_VM_` value holding only the first 8 or
//!    more hex digits of a UUID; IP addresses. Text compares case-insensitively. Placeholder
//!    values (all-zero UUIDs, "To Be Filled By O.E.M.", `localhost`, loopback addresses) are no
//!    keys.
//! 3. **A key shared by agents is no key.** A name, FQDN or address reported by several agents is
//!    not used for any of them. A machine key (BigFix id, UUID, serial) shared by several
//!    non-container agents belongs to the one that reported last when every other one's report
//!    is old (a renamed host: the old name is *superseded*); when several reported recently it
//!    is used for none. Containers see their machine's UUID and serial: they may use them but do
//!    not compete for them (a container matches its machine's ILMT computer).
//! 4. **A weaker key does not override a stronger one that disagrees.** A candidate found by a
//!    key is dropped when a stronger key among BigFix id, UUID, FQDN and short hostname is known
//!    on both sides and differs (web01.a.example is not web01.b.example). A BigFix id, UUID or
//!    serial match always stands (a machine registered twice with BigFix is a DUPLICATE, not two
//!    machines).
//! 5. **One ILMT computer, one machine.** When several non-container agents match the same record,
//!    those with the strongest key keep it.
//! 6. Deleted ILMT computers are matched but kept apart: they cover nothing and are no ghosts.
//! 7. Several records left for one agent are a DUPLICATE; they are ordered by key, then last
//!    seen (latest first), then id, and the first is the one whose capacity data is used.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;

use super::model::{AgentHost, IlmtRef, MatchKey, UtcTime};
use crate::ilmt::{ComputerType, IlmtComputer};

/// A record an agent matched, and by what.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Index into the ILMT slice.
    pub record: usize,
    pub key: MatchKey,
    /// The values that matched, e.g. `bigfix_id 1612345678`.
    pub evidence: String,
}

/// What matching found for one agent host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostMatches {
    /// Undeleted records, the one to use first.
    pub matched: Vec<Candidate>,
    /// Deleted records the host matched (they cover nothing).
    pub deleted: Vec<Candidate>,
    /// The agent (index) that reported later with this host's machine identity: this host key
    /// is an old name of that machine.
    pub superseded_by: Option<usize>,
    /// Rejected candidates, keys not used, records superseded, in words.
    pub notes: Vec<String>,
}

/// The whole answer: one [`HostMatches`] per agent (same order), and per ILMT record whether it
/// is current and whether an agent claimed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matching {
    pub hosts: Vec<HostMatches>,
    /// Per ILMT record: `Some(i)` when record `i` (same ILMT id, seen later) replaces it.
    pub superseded: Vec<Option<usize>>,
    /// Per ILMT record: some agent matched it (deleted or not).
    pub claimed: Vec<bool>,
}

impl Matching {
    /// Current, undeleted records no agent matched.
    pub fn unclaimed<'a>(&'a self, ilmt: &'a [IlmtComputer]) -> impl Iterator<Item = usize> + 'a {
        (0..ilmt.len()).filter(move |&i| {
            self.superseded.get(i).is_some_and(Option::is_none)
                && !self.claimed.get(i).copied().unwrap_or(true)
                && ilmt.get(i).is_some_and(|r| r.is_deleted != Some(true))
        })
    }
}

/// Record indexes under one key value: one, without allocating, or many.
#[derive(Debug, Clone)]
enum Slot {
    One(u32),
    Many(Vec<u32>),
}

impl Slot {
    fn push(&mut self, v: u32) {
        match self {
            Slot::One(first) => *self = Slot::Many(vec![*first, v]),
            Slot::Many(list) => list.push(v),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Slot::One(v) => std::slice::from_ref(v),
            Slot::Many(list) => list,
        }
    }
}

fn insert<K: Eq + Hash>(map: &mut HashMap<K, Slot>, key: K, v: u32) {
    map.entry(key)
        .and_modify(|s| s.push(v))
        .or_insert(Slot::One(v));
}

/// A UUID read from a DMI field or an ILMT `TLM_VM_` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UuidValue {
    Full(u128),
    /// The leading hex digits of a UUID (8 to 31 of them), lower case.
    Prefix(String),
}

/// The well-known placeholder UUID of unconfigured firmware, in the kernel's order.
const PLACEHOLDER_UUID: u128 = 0x0300_0200_0400_0500_0006_0007_0008_0009;

/// Reads a UUID from `text`: an optional `TLM_VM_` prefix, an optional `VMware-` prefix, then hex
/// digits with dashes, spaces, colons or braces between them. 32 digits are a full UUID; 8 to 31
/// after `TLM_VM_` are a prefix. Placeholders (all zeros, all `f`, one digit repeated, the
/// unconfigured-firmware value) are `None`.
pub fn parse_uuid(text: &str) -> Option<UuidValue> {
    let mut t = text.trim();
    let tlm = strip_prefix_ci(t, "TLM_VM_");
    if let Some(rest) = tlm {
        t = rest;
    }
    if let Some(rest) = strip_prefix_ci(t, "VMware-") {
        t = rest;
    }
    // Read the digits into an integer as they come; only a prefix keeps its text.
    let mut value: u128 = 0;
    let mut digits = 0usize;
    let mut first: Option<u8> = None;
    let mut repeated = true;
    for b in t.bytes() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b'-' | b' ' | b':' | b'{' | b'}' => continue,
            _ => return None,
        };
        digits += 1;
        if digits > 32 {
            return None;
        }
        value = (value << 4) | u128::from(d);
        match first {
            None => first = Some(d),
            Some(f) => repeated &= f == d,
        }
    }
    if first.is_none() || repeated {
        return None;
    }
    match digits {
        32 => (value != PLACEHOLDER_UUID && value != swap_uuid(PLACEHOLDER_UUID))
            .then_some(UuidValue::Full(value)),
        8..=31 if tlm.is_some() => Some(UuidValue::Prefix(format!("{value:0digits$x}"))),
        _ => None,
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// The other byte order of a UUID: SMBIOS 2.6+ stores the first three fields little-endian, and
/// tools disagree on whether to swap them (the kernel does; VMware's serial and vCenter do not).
pub fn swap_uuid(v: u128) -> u128 {
    let mut b = v.to_be_bytes();
    for field in [0..4, 4..6, 6..8] {
        if let Some(bytes) = b.get_mut(field) {
            bytes.reverse();
        }
    }
    u128::from_be_bytes(b)
}

fn uuid_hex(v: u128) -> String {
    format!("{v:032x}")
}

fn uuid_text(v: u128) -> String {
    let h = uuid_hex(v);
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    )
}

/// A lower-case FQDN (trailing dot removed), if `text` looks like one.
pub fn norm_fqdn(text: &str) -> Option<Cow<'_, str>> {
    let t = lower(text.trim().trim_end_matches('.'));
    let placeholder = t.starts_with("localhost") || t.parse::<IpAddr>().is_ok();
    (t.contains('.') && !placeholder && !t.contains(char::is_whitespace)).then_some(t)
}

/// `text` in lower case, borrowed when it already is.
fn lower(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The lower-case first label of a host name, if it is a name.
pub fn short_name(text: &str) -> Option<Cow<'_, str>> {
    let t = text.trim();
    if t.parse::<IpAddr>().is_ok() {
        return None;
    }
    let label = lower(t.split('.').next()?);
    (!label.is_empty() && label != "localhost" && !label.contains(char::is_whitespace))
        .then_some(label)
}

/// A hardware serial number worth matching: upper-case, without placeholders or UUID forms.
pub fn norm_serial(text: &str) -> Option<String> {
    let t = text.trim();
    if strip_prefix_ci(t, "TLM_VM_").is_some() || strip_prefix_ci(t, "VMware-").is_some() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    const PLACEHOLDERS: &[&str] = &[
        "",
        "0",
        "none",
        "n/a",
        "na",
        "not specified",
        "not available",
        "not applicable",
        "to be filled by o.e.m.",
        "system serial number",
        "chassis serial number",
        "default string",
        "0123456789",
        "1234567890",
        "unknown",
    ];
    let repeated = lower
        .chars()
        .next()
        .is_some_and(|c| lower.chars().all(|d| d == c));
    (!PLACEHOLDERS.contains(&lower.as_str()) && !repeated && t.len() >= 4)
        .then(|| t.to_ascii_uppercase())
}

/// An address worth matching (not loopback, unspecified or link-local).
pub fn norm_ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.trim().parse().ok()?;
    let useless = ip.is_loopback()
        || ip.is_unspecified()
        || match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80),
        };
    (!useless).then_some(ip)
}

/// A UUID as stored in the indexes: the smaller of its two byte orders, so that the kernel's
/// order and SMBIOS' raw order meet in one entry.
fn canonical_uuid(v: u128) -> u128 {
    v.min(swap_uuid(v))
}

/// The keys of one agent host, normalized once.
#[derive(Debug, Clone, Default)]
struct AgentKeys<'a> {
    container: bool,
    bigfix: Option<i64>,
    /// product_uuid (and VMware serial): (canonical, as read).
    uuids: Vec<(u128, u128)>,
    serial: Option<String>,
    fqdn: Option<Cow<'a, str>>,
    short: Option<Cow<'a, str>>,
    ips: Vec<IpAddr>,
}

impl<'a> AgentKeys<'a> {
    fn of(h: &'a AgentHost) -> AgentKeys<'a> {
        let mut uuids: Vec<(u128, u128)> = Vec::with_capacity(2);
        let mut add = |v: u128| {
            let c = canonical_uuid(v);
            if !uuids.iter().any(|(u, _)| *u == c) {
                uuids.push((c, v));
            }
        };
        if let Some(UuidValue::Full(v)) = parse_uuid(&h.product_uuid) {
            add(v);
        }
        if strip_prefix_ci(h.product_serial.trim(), "VMware-").is_some() {
            if let Some(UuidValue::Full(v)) = parse_uuid(&h.product_serial) {
                add(v);
            }
        }
        let mut ips: Vec<IpAddr> = h.ip_addresses.iter().filter_map(|a| norm_ip(a)).collect();
        if ips.len() > 1 {
            ips.sort_unstable();
            ips.dedup();
        }
        let on_metal = h.virtualization.on_bare_metal();
        AgentKeys {
            container: h.virtualization.in_container(),
            bigfix: h.bigfix_computer_id.trim().parse().ok(),
            uuids,
            serial: on_metal.then(|| norm_serial(&h.product_serial)).flatten(),
            fqdn: norm_fqdn(&h.fqdn),
            short: short_name(&h.hostname).or_else(|| short_name(&h.fqdn)),
            ips,
        }
    }

    fn has_uuid(&self, canonical: u128) -> bool {
        self.uuids.iter().any(|(u, _)| *u == canonical)
    }
}

/// The keys of one ILMT computer, normalized once.
#[derive(Debug, Clone, Default)]
struct RecordKeys<'a> {
    /// Canonical (see [`canonical_uuid`]).
    uuid: Option<u128>,
    uuid_prefix: Option<String>,
    serial: Option<String>,
    fqdn: Option<Cow<'a, str>>,
    short: Option<Cow<'a, str>>,
}

impl<'a> RecordKeys<'a> {
    fn of(r: &'a IlmtComputer) -> RecordKeys<'a> {
        let mut keys = RecordKeys::default();
        for value in [
            &r.server_name,
            &r.server_serial_number,
            &r.hardware_serial_number,
        ]
        .into_iter()
        .flatten()
        {
            if strip_prefix_ci(value.trim(), "TLM_VM_").is_none() {
                continue;
            }
            match parse_uuid(value) {
                Some(UuidValue::Full(v)) if keys.uuid.is_none() => {
                    keys.uuid = Some(canonical_uuid(v))
                }
                Some(UuidValue::Prefix(p)) if keys.uuid_prefix.is_none() => {
                    keys.uuid_prefix = Some(p)
                }
                _ => {}
            }
        }
        if r.computer_type == Some(ComputerType::Physical) {
            keys.serial = r.server_serial_number.as_deref().and_then(norm_serial);
        }
        keys.fqdn = r.dns_name.as_deref().and_then(norm_fqdn);
        keys.short = r
            .name
            .as_deref()
            .and_then(short_name)
            .or_else(|| r.host_name.as_deref().and_then(short_name))
            .or_else(|| r.dns_name.as_deref().and_then(short_name));
        keys
    }
}

/// Who holds one key value: the current ILMT records, and the agents (how many, which reported
/// last). One hash entry serves both sides, so each agent key costs one insert and one lookup.
/// Kept small (32 bytes): the indexes are large and probed at random.
struct Entry {
    /// The first record holding the key, or [`NONE`].
    first: u32,
    /// Further records: an index into [`Index::overflow`], or [`NONE`].
    more: u32,
    agents: u32,
    /// Holders whose report is not old.
    live: u32,
    /// The latest-reporting holder, and whether another holder reported at the same time.
    latest: u32,
    tied: bool,
    latest_at: i64,
}

const NONE: u32 = u32::MAX;

impl Entry {
    fn empty() -> Entry {
        Entry {
            first: NONE,
            more: NONE,
            agents: 0,
            live: 0,
            latest: NONE,
            tied: false,
            latest_at: i64::MIN,
        }
    }

    fn latest(&self) -> usize {
        self.latest as usize
    }

    fn hold(&mut self, agent: u32, at: UtcTime, live: bool) {
        let at = at.unix();
        self.agents += 1;
        self.live += u32::from(live);
        if self.agents == 1 || at > self.latest_at {
            self.latest = agent;
            self.latest_at = at;
            self.tied = false;
        } else if at == self.latest_at {
            self.tied = true;
        }
    }
}

/// The records under one key: the first, then the others.
#[derive(Clone, Copy)]
struct Records<'a> {
    first: u32,
    more: &'a [u32],
}

impl<'a> Records<'a> {
    fn iter(self) -> impl Iterator<Item = usize> + 'a {
        (self.first != NONE)
            .then_some(self.first)
            .into_iter()
            .chain(self.more.iter().copied())
            .map(|r| r as usize)
    }
}

/// One map per key kind.
struct Index<K> {
    map: HashMap<K, Entry>,
    overflow: Vec<Vec<u32>>,
}

impl<K: Eq + Hash> Index<K> {
    fn with_capacity(n: usize) -> Index<K> {
        Index {
            map: HashMap::with_capacity(n),
            overflow: Vec::new(),
        }
    }

    fn add_record(&mut self, key: K, record: u32) {
        let e = self.map.entry(key).or_insert_with(Entry::empty);
        if e.first == NONE {
            e.first = record;
        } else if let Some(list) = self.overflow.get_mut(e.more as usize) {
            list.push(record);
        } else if let Ok(at) = u32::try_from(self.overflow.len()) {
            e.more = at;
            self.overflow.push(vec![record]);
        }
    }

    fn add_agent(&mut self, key: K, agent: u32, at: UtcTime, live: bool) {
        let e = self.map.entry(key).or_insert_with(Entry::empty);
        e.hold(agent, at, live);
    }

    /// Counts an agent for a key only when some record has it: a name no record has matches
    /// nothing, so whether agents share it does not matter.
    fn add_agent_if_indexed<Q>(&mut self, key: &Q, agent: u32, at: UtcTime, live: bool)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Some(e) = self.map.get_mut(key) {
            e.hold(agent, at, live);
        }
    }

    fn get<Q>(&self, key: &Q) -> Option<&Entry>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map.get(key)
    }

    fn records(&self, e: &Entry) -> Records<'_> {
        Records {
            first: e.first,
            more: self
                .overflow
                .get(e.more as usize)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        }
    }
}

/// Who may use a machine key held by several non-container agents: the latest holder when every
/// other holder's report is old; nobody when several are live or the latest is tied.
fn machine_owner(e: &Entry, latest_is_live: bool) -> Option<usize> {
    if e.agents <= 1 {
        return (e.agents == 1).then_some(e.latest());
    }
    let others_live = e.live - u32::from(latest_is_live);
    (!e.tied && others_live == 0).then_some(e.latest())
}

/// Matches every agent host to ILMT computers. An agent report collected before `old_before` is
/// *old*: it yields a shared machine key to a later report (see the module rules).
pub fn match_hosts(agents: &[AgentHost], ilmt: &[IlmtComputer], old_before: UtcTime) -> Matching {
    let superseded = current_records(ilmt);
    let record_keys: Vec<Option<RecordKeys>> = ilmt
        .iter()
        .zip(&superseded)
        .map(|(r, s)| s.is_none().then(|| RecordKeys::of(r)))
        .collect();
    let keys: Vec<AgentKeys> = agents.iter().map(AgentKeys::of).collect();
    let live: Vec<bool> = agents.iter().map(|a| a.last_report >= old_before).collect();

    // One index per key kind, ILMT records first, then the agents that hold each key.
    let n = ilmt.len() + agents.len();
    let mut by_bigfix: Index<i64> = Index::with_capacity(n);
    let mut by_uuid: Index<u128> = Index::with_capacity(n / 2);
    let mut by_serial: Index<&str> = Index::with_capacity(16);
    let mut by_fqdn: Index<&str> = Index::with_capacity(ilmt.len());
    let mut by_short: Index<&str> = Index::with_capacity(ilmt.len());
    let mut by_ip: Index<IpAddr> = Index::with_capacity(ilmt.len());
    for (i, (r, keys)) in ilmt.iter().zip(&record_keys).enumerate() {
        let (Some(keys), Ok(i)) = (keys, u32::try_from(i)) else {
            continue;
        };
        if let Some(b) = r.bigfix_id {
            by_bigfix.add_record(b, i);
        }
        if let Some(u) = keys.uuid {
            by_uuid.add_record(u, i);
        }
        if let Some(s) = &keys.serial {
            by_serial.add_record(s.as_ref(), i);
        }
        if let Some(f) = &keys.fqdn {
            by_fqdn.add_record(f.as_ref(), i);
        }
        if let Some(s) = &keys.short {
            by_short.add_record(s.as_ref(), i);
        }
        let mut seen: Vec<IpAddr> = Vec::new();
        for ip in r.ip_addresses.iter().filter_map(|a| norm_ip(a)) {
            if !seen.contains(&ip) {
                seen.push(ip);
                by_ip.add_record(ip, i);
            }
        }
    }
    for (i, (k, a)) in keys.iter().zip(agents).enumerate() {
        let alive = live.get(i).copied().unwrap_or(false);
        let Ok(i) = u32::try_from(i) else { break };
        let at = a.last_report;
        // Containers see their machine's keys: they use them but do not hold them.
        if !k.container {
            if let Some(b) = k.bigfix {
                by_bigfix.add_agent(b, i, at, alive);
            }
            for (u, _) in &k.uuids {
                by_uuid.add_agent(*u, i, at, alive);
            }
            if let Some(s) = &k.serial {
                by_serial.add_agent(s.as_ref(), i, at, alive);
            }
        }
        if let Some(f) = &k.fqdn {
            by_fqdn.add_agent_if_indexed(f.as_ref(), i, at, alive);
        }
        if let Some(s) = &k.short {
            by_short.add_agent_if_indexed(s.as_ref(), i, at, alive);
        }
        for ip in &k.ips {
            by_ip.add_agent_if_indexed(ip, i, at, alive);
        }
    }

    let mut hosts: Vec<HostMatches> = Vec::with_capacity(agents.len());
    let mut found: Vec<Vec<Candidate>> = Vec::with_capacity(agents.len());
    for (i, k) in keys.iter().enumerate() {
        let mut host = HostMatches::default();
        let mut cands: Vec<Candidate> = Vec::new();
        let mut add = |records: Records<'_>, key: MatchKey, evidence: &dyn Fn() -> String| {
            for r in records.iter() {
                if !cands.iter().any(|c| c.record == r) {
                    cands.push(Candidate {
                        record: r,
                        key,
                        evidence: evidence(),
                    });
                }
            }
        };
        // A machine key this agent may use: its own, or (a container) its machine's.
        let usable = |e: &Entry, what: &dyn Fn() -> String, host: &mut HostMatches| -> bool {
            if e.agents == 0 {
                return true; // Only a container's machine key is held by no agent.
            }
            let alive = live.get(e.latest()).copied().unwrap_or(false);
            match machine_owner(e, alive) {
                Some(owner) if owner == i || k.container => true,
                Some(owner) => {
                    host.superseded_by = Some(owner);
                    let name = agents.get(owner).map_or("", |a| a.host_key.as_str());
                    host.notes.push(format!(
                        "{} is also reported by {name}, later: that host key is this machine now",
                        what()
                    ));
                    false
                }
                None => {
                    host.notes.push(format!(
                        "{} is reported by {} agent hosts recently: not used as a key",
                        what(),
                        e.agents
                    ));
                    false
                }
            }
        };
        if let Some(b) = k.bigfix {
            if let Some(e) = by_bigfix.get(&b) {
                if usable(e, &|| format!("BigFix id {b}"), &mut host) {
                    add(by_bigfix.records(e), MatchKey::BigfixId, &|| {
                        format!("bigfix_id {b}")
                    });
                }
            }
        }
        for (u, read) in &k.uuids {
            if let Some(e) = by_uuid.get(u) {
                if usable(e, &|| format!("UUID {}", uuid_text(*read)), &mut host) {
                    add(by_uuid.records(e), MatchKey::Uuid, &|| {
                        format!("UUID {} (TLM_VM_)", uuid_text(*read))
                    });
                }
            }
        }
        if let Some(s) = &k.serial {
            if let Some(e) = by_serial.get(s.as_str()) {
                if usable(e, &|| format!("serial {s}"), &mut host) {
                    add(by_serial.records(e), MatchKey::Serial, &|| {
                        format!("serial {s}")
                    });
                }
            }
        }
        // A name or address several agents report is no key.
        let mut by_name = |found: Option<(&Entry, Records<'_>)>,
                           key: MatchKey,
                           what: &str,
                           value: &dyn fmt::Display| {
            let Some((e, records)) = found else { return };
            if e.agents > 1 {
                host.notes.push(format!(
                    "{what} {value} is reported by several agent hosts: not used as a key"
                ));
            } else {
                let field = match key {
                    MatchKey::Fqdn => " = dns_name",
                    MatchKey::Hostname => " = name",
                    _ => "",
                };
                add(records, key, &|| format!("{what} {value}{field}"));
            }
        };
        if let Some(f) = &k.fqdn {
            let e = by_fqdn.get(f.as_ref()).map(|e| (e, by_fqdn.records(e)));
            by_name(e, MatchKey::Fqdn, "FQDN", f);
        }
        if let Some(s) = &k.short {
            let e = by_short.get(s.as_ref()).map(|e| (e, by_short.records(e)));
            by_name(e, MatchKey::Hostname, "hostname", s);
        }
        for ip in &k.ips {
            let e = by_ip.get(ip).map(|e| (e, by_ip.records(e)));
            by_name(e, MatchKey::IpAddress, "address", ip);
        }
        hosts.push(host);
        found.push(cands);
    }

    // Truncated TLM_VM_ UUIDs: record-driven, through an index of agents by the first 8 digits of
    // both byte orders of their UUIDs (built only when some record needs it).
    let prefixed: Vec<(usize, &str)> = record_keys
        .iter()
        .enumerate()
        .filter_map(|(r, k)| Some((r, k.as_ref()?.uuid_prefix.as_deref()?)))
        .collect();
    if !prefixed.is_empty() {
        let mut by_head: HashMap<u32, Slot> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            let Ok(i32_) = u32::try_from(i) else { continue };
            let mut heads: Vec<u32> = k
                .uuids
                .iter()
                .flat_map(|(c, _)| [*c, swap_uuid(*c)])
                .map(|u| (u >> 96) as u32)
                .collect();
            heads.sort_unstable();
            heads.dedup();
            for h in heads {
                insert(&mut by_head, h, i32_);
            }
        }
        for (r, prefix) in prefixed {
            let Some(head) = prefix
                .get(..8)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
            else {
                continue;
            };
            let fits = |a: usize| {
                keys.get(a).is_some_and(|k| {
                    k.uuids.iter().any(|(c, _)| {
                        uuid_hex(*c).starts_with(prefix)
                            || uuid_hex(swap_uuid(*c)).starts_with(prefix)
                    })
                })
            };
            let holders: Vec<usize> = by_head
                .get(&head)
                .map(Slot::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|&a| a as usize)
                .filter(|&a| fits(a))
                .collect();
            let machines = holders
                .iter()
                .filter(|&&a| keys.get(a).is_some_and(|k| !k.container))
                .count();
            if machines > 1 {
                continue; // The truncated UUID fits several machines: no key.
            }
            for a in holders {
                if let Some(cands) = found.get_mut(a) {
                    if !cands.iter().any(|c| c.record == r) {
                        cands.push(Candidate {
                            record: r,
                            key: MatchKey::UuidPrefix,
                            evidence: format!("UUID starts with {prefix} (TLM_VM_{prefix})"),
                        });
                    }
                }
            }
        }
    }

    // Rule 4: a weaker key does not override a stronger one that disagrees.
    for ((cands, k), host) in found.iter_mut().zip(&keys).zip(hosts.iter_mut()) {
        cands.retain(|c| {
            let (Some(r), Some(Some(rk))) = (ilmt.get(c.record), record_keys.get(c.record)) else {
                return false;
            };
            match contradiction(c.key, k, r, rk) {
                None => true,
                Some(why) => {
                    host.notes.push(format!(
                        "{} matched by {} but {why}: not the same machine",
                        IlmtRef::of(r),
                        c.evidence
                    ));
                    false
                }
            }
        });
    }

    // Rule 5: among non-container agents, the strongest key keeps a record.
    let mut best: Vec<Option<(MatchKey, usize)>> = vec![None; ilmt.len()];
    for (a, (cands, k)) in found.iter().zip(&keys).enumerate() {
        if k.container {
            continue;
        }
        for c in cands {
            if let Some(b) = best.get_mut(c.record) {
                if b.is_none_or(|(key, _)| c.key < key) {
                    *b = Some((c.key, a));
                }
            }
        }
    }
    let mut claimed = vec![false; ilmt.len()];
    for ((cands, k), host) in found.into_iter().zip(&keys).zip(hosts.iter_mut()) {
        for c in cands {
            if !k.container {
                if let Some(Some((key, owner))) = best.get(c.record).copied() {
                    if key < c.key {
                        let name = agents.get(owner).map_or("", |h| h.host_key.as_str());
                        if let Some(r) = ilmt.get(c.record) {
                            host.notes.push(format!(
                                "{} matched by {} but {name} matches it by a stronger key ({key})",
                                IlmtRef::of(r),
                                c.evidence
                            ));
                        }
                        continue;
                    }
                }
            }
            if let Some(flag) = claimed.get_mut(c.record) {
                *flag = true;
            }
            let deleted = ilmt
                .get(c.record)
                .is_some_and(|r| r.is_deleted == Some(true));
            if deleted {
                host.deleted.push(c);
            } else {
                host.matched.push(c);
            }
        }
        let order = |c: &Candidate| {
            let r = ilmt.get(c.record);
            (
                c.key,
                std::cmp::Reverse(r.and_then(|r| r.last_seen)),
                r.and_then(|r| r.id),
                c.record,
            )
        };
        host.matched.sort_by_key(order);
        host.deleted.sort_by_key(order);
    }

    // Superseded records: say so on the hosts that matched the current one.
    let mut replaced: HashMap<usize, Vec<usize>> = HashMap::new();
    for (old, cur) in superseded.iter().enumerate() {
        if let Some(cur) = cur {
            replaced.entry(*cur).or_default().push(old);
        }
    }
    if !replaced.is_empty() {
        for host in &mut hosts {
            for c in host.matched.iter().chain(&host.deleted) {
                for old in replaced
                    .get(&c.record)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    let (Some(o), Some(n)) = (ilmt.get(*old), ilmt.get(c.record)) else {
                        continue;
                    };
                    host.notes.push(format!(
                        "{} is also listed on server {} (last seen {}); the latest record, on server {} (last seen {}), is used",
                        IlmtRef::of(o),
                        server_of(o),
                        seen(o.last_seen),
                        server_of(n),
                        seen(n.last_seen)
                    ));
                }
            }
        }
    }

    Matching {
        hosts,
        superseded,
        claimed,
    }
}

fn server_of(r: &IlmtComputer) -> String {
    match (r.server_id, &r.server_name) {
        (Some(id), Some(name)) => format!("{id} ({name})"),
        (Some(id), None) => id.to_string(),
        (None, Some(name)) => name.clone(),
        (None, None) => "(unknown)".into(),
    }
}

fn seen(t: Option<UtcTime>) -> String {
    t.map_or_else(|| "unknown".into(), |t| t.date().to_string())
}

/// Rule 1: for each record, `Some(current)` when a later record has the same ILMT id.
fn current_records(ilmt: &[IlmtComputer]) -> Vec<Option<usize>> {
    let mut latest: HashMap<i64, usize> = HashMap::new();
    for (i, r) in ilmt.iter().enumerate() {
        let Some(id) = r.id else { continue };
        latest
            .entry(id)
            .and_modify(|cur| {
                let newer = ilmt.get(*cur).is_none_or(|c| r.last_seen >= c.last_seen);
                if newer {
                    *cur = i;
                }
            })
            .or_insert(i);
    }
    ilmt.iter()
        .enumerate()
        .map(|(i, r)| {
            r.id.and_then(|id| latest.get(&id).copied())
                .filter(|&cur| cur != i)
        })
        .collect()
}

/// Rule 4: why a candidate found by `key` is not this agent's machine, if a stronger key
/// known on both sides disagrees.
fn contradiction(
    key: MatchKey,
    a: &AgentKeys,
    r: &IlmtComputer,
    rk: &RecordKeys,
) -> Option<String> {
    if key.is_identity() {
        return None;
    }
    if let (Some(x), Some(y)) = (a.bigfix, r.bigfix_id) {
        if x != y {
            return Some(format!("its bigfix_id is {y}, the agent's {x}"));
        }
    }
    if let Some(u) = rk.uuid {
        if !a.uuids.is_empty() && !a.has_uuid(u) {
            return Some(format!(
                "its TLM_VM_ UUID ({}) is not the agent's in either byte order",
                uuid_text(u)
            ));
        }
    }
    if key > MatchKey::Fqdn {
        if let (Some(x), Some(y)) = (&a.fqdn, &rk.fqdn) {
            if x != y {
                return Some(format!("its dns_name is {y}, the agent's FQDN {x}"));
            }
        }
    }
    if key > MatchKey::Hostname {
        if let (Some(x), Some(y)) = (&a.short, &rk.short) {
            if x != y {
                return Some(format!("its name is {y}, the agent's hostname {x}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
