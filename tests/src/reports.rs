//! Hand-made host reports for the end-to-end tests of the aggregator (fixture scans are in the
//! crate root): one shape, varied by what a test is about.

use subcap_proto::v1 as pb;

/// The seconds of "now", for reports collected now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The seconds of noon UTC on `day` (`YYYY-MM-DD`).
pub fn noon(day: &str) -> i64 {
    let d = subcap_aggregator::ilmt::time::parse_date(day).expect("a YYYY-MM-DD day");
    d.days_since_epoch() * 86_400 + 12 * 3600
}

/// What a test varies.
#[derive(Debug, Clone)]
pub struct Host<'a> {
    pub fqdn: &'a str,
    /// Collection time, seconds since 1970.
    pub at: i64,
    /// `bare_metal` (no technology) or `virtual_machine` with `technology`.
    pub technology: Option<&'a str>,
    pub product: &'a str,
    /// The processor's model name; `None`: a Xeon Gold 6248.
    pub model: Option<&'a str>,
}

/// A report of a 4-core Xeon host running `product`, whose BigFix client is installed, running,
/// and scanned and uploaded shortly before the report.
pub fn ibm_report(id: &str, h: &Host<'_>) -> pb::HostReport {
    let ts = |s: i64| {
        Some(pbjson_types::Timestamp {
            seconds: s,
            nanos: 0,
        })
    };
    let (kind, technology) = match h.technology {
        Some(t) => ("virtual_machine", t),
        None => ("bare_metal", ""),
    };
    pb::HostReport {
        report_id: id.into(),
        collected_at: ts(h.at),
        identity: Some(pb::HostIdentity {
            hostname: h.fqdn.split('.').next().unwrap_or_default().into(),
            fqdn: h.fqdn.into(),
            architecture: "x86_64".into(),
            os_name: "Red Hat Enterprise Linux".into(),
            ..Default::default()
        }),
        topology: Some(pb::Topology {
            online_cpus: Some(4),
            sockets: Some(1),
            cores_per_socket: Some(4),
            threads_per_core: Some(1),
            cores: Some(4),
            vendor: "GenuineIntel".into(),
            model_name: h
                .model
                .unwrap_or("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
                .into(),
            ..Default::default()
        }),
        virtualization: Some(pb::Virtualization {
            kind: kind.into(),
            technology: technology.into(),
            cloud: "none".into(),
            ..Default::default()
        }),
        ibm_installs: vec![pb::IbmInstall {
            signature: "swid_tag".into(),
            product_name: h.product.into(),
            publisher: "IBM".into(),
            ..Default::default()
        }],
        ilmt_agent: Some(pb::IlmtAgentHealth {
            bigfix_installed: true,
            bigfix_running: true,
            last_software_scan: ts(h.at - 86_400),
            last_capacity_scan: ts(h.at - 3_600),
            last_upload: ts(h.at - 3_600),
            ..Default::default()
        }),
        ..Default::default()
    }
}
