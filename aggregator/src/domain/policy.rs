//! The eligibility policy: which virtualization technologies and clouds IBM accepts for
//! sub-capacity counting, which need ILMT's VM Manager Tool, and which IBM installs are the
//! licensing tooling itself. Data, not code: `aggregator/data/eligibility.toml` is compiled in
//! ([`Policy::builtin`]) and a site may load its own copy ([`Policy::parse`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use subcap_proto::vocab::{Cloud, Technology, VirtKind};
use toml::Spanned;

use super::data::DataError;
use super::model::{IbmInstall, Virtualization};

/// The policy shipped with subcap.
pub const BUILTIN_TOML: &str = include_str!("../../data/eligibility.toml");
/// How the embedded policy is named in errors.
pub const BUILTIN_FILE: &str = "aggregator/data/eligibility.toml";

/// IBM's verdict on a layer, as the policy records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    Eligible,
    Uncertain,
    NotEligible,
}

impl Eligibility {
    pub const fn as_str(self) -> &'static str {
        match self {
            Eligibility::Eligible => "eligible",
            Eligibility::Uncertain => "uncertain",
            Eligibility::NotEligible => "not_eligible",
        }
    }
}

impl fmt::Display for Eligibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the policy: the verdict and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub eligibility: Eligibility,
    pub needs_vm_manager: bool,
    /// The source's description (from `[sources]`).
    pub source: String,
    /// What the source says about this entry.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum TechRule {
    Decides(Rule),
    /// A container: the machine layer under it decides.
    Inherit,
}

#[derive(Debug, Clone, PartialEq)]
enum CloudRule {
    Decides(Rule),
    /// The hypervisor's technology decides (a private cloud).
    ByTechnology,
}

/// The loaded policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The date the policy was last reviewed.
    pub version: String,
    technologies: HashMap<Technology, TechRule>,
    clouds: HashMap<Cloud, CloudRule>,
    tooling_products: Vec<String>,
    tooling_publishers: Vec<String>,
}

/// The verdict on one machine layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerVerdict {
    pub technology: Technology,
    pub eligibility: Eligibility,
    pub needs_vm_manager: bool,
    /// `technology vmware` or `cloud aws`, then the source's text.
    pub reason: String,
}

/// The verdict on a host: the worst of its machine layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub overall: Eligibility,
    pub layers: Vec<LayerVerdict>,
    /// Some machine layer's technology needs ILMT's VM Manager Tool.
    pub needs_vm_manager: bool,
    /// Why, when no layer decided (bare metal, or nothing reported).
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    schema: Spanned<u32>,
    version: Spanned<String>,
    sources: BTreeMap<String, String>,
    technology: BTreeMap<Spanned<String>, EntryFile>,
    cloud: BTreeMap<Spanned<String>, EntryFile>,
    not_licensable: ToolingFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    eligibility: Spanned<String>,
    #[serde(default)]
    needs_vm_manager: bool,
    source: Spanned<String>,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolingFile {
    products: Vec<String>,
    publishers: Vec<String>,
    source: Spanned<String>,
    #[allow(dead_code)]
    text: String,
}

impl Policy {
    /// The embedded policy.
    pub fn builtin() -> Result<Policy, DataError> {
        Policy::parse(BUILTIN_FILE, BUILTIN_TOML)
    }

    /// Reads a policy file; `file` names it in errors. Every technology and cloud of the
    /// vocabulary must have exactly one entry.
    pub fn parse(file: &str, text: &str) -> Result<Policy, DataError> {
        let raw: PolicyFile = toml::from_str(text).map_err(|e| DataError::toml(file, text, &e))?;
        let err = |span: std::ops::Range<usize>, field: String, problem: String| {
            DataError::new(file, text, Some(span), Some(field), problem)
        };
        if *raw.schema.get_ref() != 1 {
            return Err(err(
                raw.schema.span(),
                "schema".into(),
                format!(
                    "schema {} is not 1, the one this build reads",
                    raw.schema.get_ref()
                ),
            ));
        }
        super::pvu::check_version(raw.version.get_ref())
            .map_err(|problem| err(raw.version.span(), "version".into(), problem))?;
        let source = |s: &Spanned<String>, field: String| -> Result<String, DataError> {
            raw.sources.get(s.get_ref()).cloned().ok_or_else(|| {
                err(
                    s.span(),
                    field,
                    format!("unknown source {:?}: add it to [sources]", s.get_ref()),
                )
            })
        };

        let mut technologies = HashMap::new();
        for (name, entry) in &raw.technology {
            let field = format!("technology.{}", name.get_ref());
            let technology: Technology =
                name.get_ref()
                    .parse()
                    .map_err(|e: subcap_proto::vocab::UnknownWord| {
                        err(name.span(), field.clone(), e.to_string())
                    })?;
            let container = technology.kind() == VirtKind::Container;
            let word = entry.eligibility.get_ref().as_str();
            let rule = match (word, container) {
                ("inherit", true) => TechRule::Inherit,
                ("inherit", false) => {
                    return Err(err(
                        entry.eligibility.span(),
                        format!("{field}.eligibility"),
                        "only container technologies inherit their machine's eligibility".into(),
                    ))
                }
                (_, true) => {
                    return Err(err(
                        entry.eligibility.span(),
                        format!("{field}.eligibility"),
                        format!("{word:?}: a container technology must say \"inherit\""),
                    ))
                }
                (_, false) => TechRule::Decides(Rule {
                    eligibility: eligibility_word(word).ok_or_else(|| {
                        err(
                            entry.eligibility.span(),
                            format!("{field}.eligibility"),
                            format!("{word:?} is not one of: eligible, not_eligible, uncertain"),
                        )
                    })?,
                    needs_vm_manager: entry.needs_vm_manager,
                    source: source(&entry.source, format!("{field}.source"))?,
                    text: entry.text.clone(),
                }),
            };
            if matches!(rule, TechRule::Inherit) {
                source(&entry.source, format!("{field}.source"))?;
            }
            technologies.insert(technology, rule);
        }
        if let Some(missing) = Technology::ALL
            .iter()
            .find(|t| !technologies.contains_key(t))
        {
            return Err(DataError::new(
                file,
                text,
                None,
                Some(format!("technology.{missing}")),
                "missing: every technology of the vocabulary needs an entry",
            ));
        }

        let mut clouds = HashMap::new();
        for (name, entry) in &raw.cloud {
            let field = format!("cloud.{}", name.get_ref());
            let cloud: Cloud =
                name.get_ref()
                    .parse()
                    .map_err(|e: subcap_proto::vocab::UnknownWord| {
                        err(name.span(), field.clone(), e.to_string())
                    })?;
            if cloud == Cloud::None {
                return Err(err(name.span(), field, "\"none\" is not a cloud".into()));
            }
            let word = entry.eligibility.get_ref().as_str();
            let src = source(&entry.source, format!("{field}.source"))?;
            let rule = if word == "by_technology" {
                CloudRule::ByTechnology
            } else {
                CloudRule::Decides(Rule {
                    eligibility: eligibility_word(word).ok_or_else(|| {
                        err(
                            entry.eligibility.span(),
                            format!("{field}.eligibility"),
                            format!(
                                "{word:?} is not one of: eligible, not_eligible, uncertain, by_technology"
                            ),
                        )
                    })?,
                    needs_vm_manager: entry.needs_vm_manager,
                    source: src,
                    text: entry.text.clone(),
                })
            };
            clouds.insert(cloud, rule);
        }
        if let Some(missing) = Cloud::ALL
            .iter()
            .find(|c| **c != Cloud::None && !clouds.contains_key(c))
        {
            return Err(DataError::new(
                file,
                text,
                None,
                Some(format!("cloud.{missing}")),
                "missing: every cloud of the vocabulary needs an entry",
            ));
        }
        source(&raw.not_licensable.source, "not_licensable.source".into())?;

        Ok(Policy {
            version: raw.version.into_inner(),
            technologies,
            clouds,
            tooling_products: lower_all(&raw.not_licensable.products),
            tooling_publishers: lower_all(&raw.not_licensable.publishers),
        })
    }

    /// The rule for a machine technology; `None` for a container technology (it inherits).
    pub fn rule(&self, technology: Technology) -> Option<&Rule> {
        match self.technologies.get(&technology) {
            Some(TechRule::Decides(rule)) => Some(rule),
            _ => None,
        }
    }

    /// Judges every machine layer of `v` (containers inherit the layer under them); a host in a
    /// public cloud has its outermost machine layer judged by the cloud's entry.
    pub fn assess(&self, v: &Virtualization) -> Assessment {
        if v.kind.is_none() {
            return Assessment {
                overall: Eligibility::Uncertain,
                layers: Vec::new(),
                needs_vm_manager: false,
                note: Some("the report does not say where the host runs".into()),
            };
        }
        let machine = v.machine_layers();
        if machine.is_empty() {
            let note = if v.in_container() {
                "container on bare metal: no virtualization under it"
            } else {
                "bare metal: no virtualization"
            };
            return Assessment {
                overall: Eligibility::Eligible,
                layers: Vec::new(),
                needs_vm_manager: false,
                note: Some(note.into()),
            };
        }
        let cloud_rule =
            v.cloud
                .filter(|c| *c != Cloud::None)
                .and_then(|c| match self.clouds.get(&c) {
                    Some(CloudRule::Decides(rule)) => Some((c, rule)),
                    _ => None,
                });
        let mut layers = Vec::with_capacity(machine.len());
        for (i, layer) in machine.iter().enumerate() {
            let verdict = match (i, cloud_rule) {
                (0, Some((cloud, rule))) => LayerVerdict {
                    technology: layer.technology,
                    eligibility: rule.eligibility,
                    needs_vm_manager: rule.needs_vm_manager,
                    reason: format!(
                        "{} in cloud {cloud}: {} ({}: {})",
                        layer.technology, rule.eligibility, rule.source, rule.text
                    ),
                },
                _ => match self.rule(layer.technology) {
                    Some(rule) => LayerVerdict {
                        technology: layer.technology,
                        eligibility: rule.eligibility,
                        needs_vm_manager: rule.needs_vm_manager,
                        reason: format!(
                            "technology {}: {} ({}: {})",
                            layer.technology, rule.eligibility, rule.source, rule.text
                        ),
                    },
                    // Unreachable with a parsed policy (every machine technology has a rule).
                    None => LayerVerdict {
                        technology: layer.technology,
                        eligibility: Eligibility::Uncertain,
                        needs_vm_manager: false,
                        reason: format!("technology {}: no policy entry", layer.technology),
                    },
                },
            };
            layers.push(verdict);
        }
        Assessment {
            overall: layers
                .iter()
                .map(|l| l.eligibility)
                .max()
                .unwrap_or(Eligibility::Eligible),
            needs_vm_manager: layers.iter().any(|l| l.needs_vm_manager),
            layers,
            note: None,
        }
    }

    /// Whether an install is the ILMT/BigFix tooling itself (not software needing coverage).
    pub fn is_tooling(&self, install: &IbmInstall) -> bool {
        self.tooling_products
            .iter()
            .any(|p| contains_ci(&install.product, p))
            || self
                .tooling_publishers
                .iter()
                .any(|p| contains_ci(&install.publisher, p))
    }
}

/// Whether `haystack` contains `needle` (lower case), ignoring ASCII case, without allocating.
fn contains_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    !n.is_empty() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn eligibility_word(word: &str) -> Option<Eligibility> {
    match word {
        "eligible" => Some(Eligibility::Eligible),
        "not_eligible" => Some(Eligibility::NotEligible),
        "uncertain" => Some(Eligibility::Uncertain),
        _ => None,
    }
}

fn lower_all(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::VirtLayer;
    use subcap_proto::vocab::Signature;

    fn policy() -> Policy {
        match Policy::builtin() {
            Ok(p) => p,
            Err(e) => panic!("builtin policy: {e}"),
        }
    }

    fn virt(kind: VirtKind, cloud: Option<Cloud>, layers: &[Technology]) -> Virtualization {
        Virtualization {
            kind: Some(kind),
            technology: layers.last().copied(),
            cloud,
            layers: layers
                .iter()
                .map(|t| VirtLayer {
                    kind: t.kind(),
                    technology: *t,
                })
                .collect(),
        }
    }

    #[test]
    fn builtin_policy_covers_the_whole_vocabulary() {
        let p = policy();
        assert_eq!(p.version, "2026-05-20");
        for t in Technology::ALL {
            let is_container = t.kind() == VirtKind::Container;
            assert_eq!(p.rule(*t).is_none(), is_container, "{t}");
        }
    }

    #[test]
    fn hosts_are_judged_by_their_machine_layers() {
        use Eligibility::*;
        use Technology as T;
        let p = policy();
        let cases: &[(&str, Virtualization, Eligibility, bool)] = &[
            (
                "bare metal",
                virt(VirtKind::BareMetal, None, &[]),
                Eligible,
                false,
            ),
            (
                "vmware",
                virt(VirtKind::VirtualMachine, None, &[T::Vmware]),
                Eligible,
                true,
            ),
            (
                "hyper-v",
                virt(VirtKind::VirtualMachine, None, &[T::Hyperv]),
                Eligible,
                true,
            ),
            (
                "rhv",
                virt(VirtKind::VirtualMachine, None, &[T::Ovirt]),
                Eligible,
                true,
            ),
            (
                "virtualbox",
                virt(VirtKind::VirtualMachine, None, &[T::Virtualbox]),
                NotEligible,
                false,
            ),
            (
                "qemu tcg",
                virt(VirtKind::VirtualMachine, None, &[T::QemuTcg]),
                NotEligible,
                false,
            ),
            (
                "bhyve",
                virt(VirtKind::VirtualMachine, None, &[T::Bhyve]),
                NotEligible,
                false,
            ),
            (
                "vm-other",
                virt(VirtKind::VirtualMachine, None, &[T::Other]),
                NotEligible,
                false,
            ),
            (
                "nutanix",
                virt(VirtKind::VirtualMachine, None, &[T::NutanixAhv]),
                Uncertain,
                false,
            ),
            (
                "xen pv",
                virt(VirtKind::VirtualMachine, None, &[T::XenPv]),
                Uncertain,
                false,
            ),
            (
                "powervm",
                virt(VirtKind::Partition, None, &[T::PowervmLparShared]),
                Eligible,
                false,
            ),
            (
                "z/vm in lpar",
                virt(VirtKind::VirtualMachine, None, &[T::ZLpar, T::Zvm]),
                Eligible,
                false,
            ),
            // A container takes its machine's eligibility.
            (
                "docker on virtualbox",
                virt(VirtKind::Container, None, &[T::Virtualbox, T::Docker]),
                NotEligible,
                false,
            ),
            (
                "docker on vmware",
                virt(VirtKind::Container, None, &[T::Vmware, T::Docker]),
                Eligible,
                true,
            ),
            (
                "lxc on bare metal",
                virt(VirtKind::Container, None, &[T::Lxc]),
                Eligible,
                false,
            ),
            // A public cloud's counting rules decide its VM layer; OpenStack leaves it to KVM.
            (
                "kvm on aws",
                virt(VirtKind::VirtualMachine, Some(Cloud::Aws), &[T::Kvm]),
                Eligible,
                false,
            ),
            (
                "kvm on premises",
                virt(VirtKind::VirtualMachine, None, &[T::Kvm]),
                Uncertain,
                false,
            ),
            (
                "kvm on openstack",
                virt(VirtKind::VirtualMachine, Some(Cloud::Openstack), &[T::Kvm]),
                Uncertain,
                false,
            ),
            (
                "virtualbox inside an azure vm",
                virt(
                    VirtKind::VirtualMachine,
                    Some(Cloud::Azure),
                    &[T::Hyperv, T::Virtualbox],
                ),
                NotEligible,
                false,
            ),
            ("not reported", Virtualization::default(), Uncertain, false),
        ];
        for (name, v, want, vm_manager) in cases {
            let a = p.assess(v);
            assert_eq!(a.overall, *want, "{name}: {a:?}");
            assert_eq!(a.needs_vm_manager, *vm_manager, "{name}");
        }
    }

    #[test]
    fn verdicts_quote_their_source() {
        let p = policy();
        let a = p.assess(&virt(
            VirtKind::VirtualMachine,
            None,
            &[Technology::Virtualbox],
        ));
        let reason = &a.layers[0].reason;
        assert!(
            reason.contains("technology virtualbox: not_eligible"),
            "{reason}"
        );
        assert!(reason.contains("DESIGN.md"), "{reason}");
        assert!(reason.contains("hosted desktop hypervisors"), "{reason}");
    }

    #[test]
    fn tooling_installs_do_not_count_as_ibm_software() {
        let p = policy();
        let install = |product: &str, publisher: &str| IbmInstall {
            product: product.into(),
            version: String::new(),
            signature: Signature::Dpkg,
            publisher: publisher.into(),
        };
        assert!(p.is_tooling(&install("BigFix Agent", "HCL Technologies Ltd.")));
        assert!(p.is_tooling(&install("IBM License Metric Tool", "IBM")));
        assert!(!p.is_tooling(&install("IBM Db2", "IBM")));
        assert!(!p.is_tooling(&install("IBM MQ", "")));
    }

    fn replace(from: &str, to: &str) -> String {
        BUILTIN_TOML.replacen(from, to, 1)
    }

    fn line_containing(text: &str, needle: &str) -> Option<usize> {
        text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
    }

    #[test]
    fn bad_files_are_refused_with_file_line_and_field() {
        let cases: Vec<(&str, String, Option<&str>, &str, &str)> = vec![
            (
                "unknown eligibility word",
                replace("eligibility = \"not_eligible\"\nsource = \"design\"\ntext = \"Not eligible: QEMU", "eligibility = \"maybe\"\nsource = \"design\"\ntext = \"Not eligible: QEMU"),
                Some("eligibility = \"maybe\""),
                "technology.qemu_tcg.eligibility",
                "\"maybe\" is not one of",
            ),
            (
                "unknown technology",
                replace("[technology.bhyve]", "[technology.byhve]"),
                Some("[technology.byhve]"),
                "technology.byhve",
                "not one of",
            ),
            (
                "container that does not inherit",
                replace("[technology.docker]\neligibility = \"inherit\"", "[technology.docker]\neligibility = \"eligible\""),
                None,
                "technology.docker.eligibility",
                "must say \"inherit\"",
            ),
            (
                "unknown source",
                replace("[technology.wsl]\neligibility = \"uncertain\"\nsource = \"subcap\"", "[technology.wsl]\neligibility = \"uncertain\"\nsource = \"rumour\""),
                Some("source = \"rumour\""),
                "technology.wsl.source",
                "unknown source \"rumour\"",
            ),
            (
                "bad version",
                replace("version = \"2026-05-20\"", "version = \"May 2026\""),
                Some("version = \"May 2026\""),
                "version",
                "YYYY-MM-DD",
            ),
        ];
        for (name, text, line_of, field, problem) in cases {
            let e = match Policy::parse("site.toml", &text) {
                Ok(_) => panic!("{name}: accepted"),
                Err(e) => e,
            };
            assert_eq!(e.file, "site.toml", "{name}");
            assert_eq!(e.field.as_deref(), Some(field), "{name}: {e}");
            assert!(e.problem.contains(problem), "{name}: {e}");
            if let Some(needle) = line_of {
                assert_eq!(e.line, line_containing(&text, needle), "{name}: {e}");
            }
        }
    }

    #[test]
    fn a_missing_technology_is_named() {
        let text = BUILTIN_TOML.replace(
            "[technology.parallels]\neligibility = \"not_eligible\"\nsource = \"design\"\ntext = \"Not eligible: hosted desktop hypervisors (Parallels Desktop). Treat as full capacity of the physical machine.\"\n",
            "",
        );
        assert_ne!(text, BUILTIN_TOML);
        let e = Policy::parse("site.toml", &text).err();
        assert_eq!(
            e.and_then(|e| e.field),
            Some("technology.parallels".to_string())
        );
    }

    #[test]
    fn toml_syntax_errors_carry_a_line() {
        let text = "schema = 1\nversion = \"2026-05-20\"\n[sources\n";
        let e = Policy::parse("site.toml", text).err();
        assert_eq!(e.and_then(|e| e.line), Some(3));
    }
}
