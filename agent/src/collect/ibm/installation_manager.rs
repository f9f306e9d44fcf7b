//! IBM Installation Manager (IM): the installer of WebSphere, Integration Bus, Rational and many
//! other IBM products, and its record of what it installed.
//!
//! Where the record is:
//! - The registry file `etc/.ibm/registry/InstallationManager.dat` (admin mode; nonadmin and group
//!   modes keep one under the user's home) says `location=` (IM's own install directory, whose
//!   `eclipse/configuration/config.ini` holds `cic.appDataLocation=`; some IM releases document
//!   the agent data location itself under `location=`, so both readings are tried).
//! - The agent data location defaults to `var/ibm/InstallationManager` (admin),
//!   `<home>/var/ibm/InstallationManager` (nonadmin) and `<home>/var/ibm/InstallationManager_Group`
//!   (group mode).
//! - In it, `installed.xml` lists every installation location and the packages in it:
//!   `<installInfo><location id= kind= path=><package id= name= version= kind=>`.
//!   `installRegistry.xml` repeats the same as profiles (`<profile id=>` with
//!   `<property name='installLocation' value=>` and `<offering id= version=>`); it is read only
//!   when `installed.xml` is missing or unreadable.

use subcap_proto::v1 as pb;
use subcap_proto::vocab::Signature;

use super::xml::{self, Flow, Node, XmlError};
use super::{abs_path, install, rel_path};
use crate::collect::Warnings;
use crate::root::{ReadError, Root};

/// The admin-mode registry file.
pub const REGISTRY: &str = "etc/.ibm/registry/InstallationManager.dat";
/// The admin-mode default agent data location.
pub const DEFAULT_DATA: &str = "var/ibm/InstallationManager";

/// Most home directories looked at for nonadmin and group installations.
const MAX_HOMES: usize = 1_000;

/// One package Installation Manager installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImPackage {
    /// `com.ibm.websphere.ND.v90`.
    pub id: String,
    pub name: String,
    /// IM's offering version, `9.0.5017.20230818_0107`.
    pub version: String,
    /// The installation location (package group) directory.
    pub location: String,
}

/// `key=value` lines of `InstallationManager.dat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryFile {
    pub location: Option<String>,
    pub app_data_location: Option<String>,
    pub version: Option<String>,
}

pub fn parse_registry(text: &str) -> RegistryFile {
    let mut r = RegistryFile::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_string();
        if v.is_empty() {
            continue;
        }
        match k.trim() {
            "location" => r.location = Some(v),
            "appDataLocation" | "cic.appDataLocation" => r.app_data_location = Some(v),
            "version" => r.version = Some(v),
            _ => {}
        }
    }
    r
}

/// `cic.appDataLocation` of IM's `config.ini` (a Java properties file: `\:` and `\\` escapes).
pub fn config_app_data_location(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        if k.trim() != "cic.appDataLocation" {
            return None;
        }
        let mut out = String::new();
        let mut chars = v.trim().chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        (!out.is_empty()).then_some(out)
    })
}

/// The packages of `installed.xml`. A damaged file yields the packages read before the damage
/// and the error.
pub fn parse_installed(text: &str) -> (Vec<ImPackage>, Option<XmlError>) {
    let mut out = Vec::new();
    let mut location = String::new();
    let r = xml::parse(text, |node| {
        match &node {
            Node::Start(t) if t.is("location") => {
                location = t.attr("path").unwrap_or_default().trim().to_string();
            }
            Node::End(n) if n.eq_ignore_ascii_case("location") => location.clear(),
            Node::Start(t) if t.is("package") => {
                let id = t.attr("id").unwrap_or_default().trim().to_string();
                if !id.is_empty() {
                    out.push(ImPackage {
                        name: t.attr("name").unwrap_or_default().trim().to_string(),
                        version: t.attr("version").unwrap_or_default().trim().to_string(),
                        location: location.clone(),
                        id,
                    });
                }
            }
            _ => {}
        }
        Flow::Continue
    });
    (out, r.err())
}

/// The offerings of `installRegistry.xml`, each with its profile's `installLocation`.
pub fn parse_install_registry(text: &str) -> (Vec<ImPackage>, Option<XmlError>) {
    let mut out: Vec<ImPackage> = Vec::new();
    let mut profile_start = 0usize;
    let mut location = String::new();
    let mut profile_name = String::new();
    let r = xml::parse(text, |node| {
        match &node {
            Node::Start(t) if t.is("profile") => {
                profile_start = out.len();
                location.clear();
                profile_name = t.attr("id").unwrap_or_default().trim().to_string();
            }
            Node::Start(t) if t.is("property") && t.attr("name") == Some("installLocation") => {
                location = t.attr("value").unwrap_or_default().trim().to_string();
                // Offerings listed before the property get the location too.
                for p in &mut out[profile_start..] {
                    p.location = location.clone();
                }
            }
            Node::Start(t) if t.is("offering") => {
                let id = t.attr("id").unwrap_or_default().trim().to_string();
                if !id.is_empty() {
                    out.push(ImPackage {
                        name: profile_name.clone(),
                        version: t.attr("version").unwrap_or_default().trim().to_string(),
                        location: location.clone(),
                        id,
                    });
                }
            }
            _ => {}
        }
        Flow::Continue
    });
    (out, r.err())
}

/// Whether a package is IBM's (Installation Manager also installs HCL's and others'): an IBM
/// package id (`com.ibm.…`) or name.
pub fn is_ibm(p: &ImPackage) -> bool {
    p.id.starts_with("com.ibm.") || super::swid::is_ibm_name(&p.name)
}

/// Where to look for agent data, with the reason each place is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DataDir {
    /// Relative to the root.
    rel: String,
    /// Named by a registry or config file: its absence is worth a warning.
    declared: bool,
}

/// Reads every Installation Manager record under `root`; returns the installation directories
/// (absolute) so the tag search can look into them.
pub fn collect(root: &Root, w: &mut Warnings, out: &mut Vec<pb::IbmInstall>) -> Vec<String> {
    fn add(dirs: &mut Vec<DataDir>, rel: String, declared: bool) {
        if let Some(d) = dirs.iter_mut().find(|d| d.rel == rel) {
            d.declared |= declared;
        } else {
            dirs.push(DataDir { rel, declared });
        }
    }
    let mut dirs: Vec<DataDir> = Vec::new();
    // Other users' homes are often unreadable without root: counted, warned about once.
    let mut denied = 0usize;

    // Registries: admin, then each user's (nonadmin and group modes).
    let mut registries = vec![(REGISTRY.to_string(), None::<String>)];
    for home in homes(root, w) {
        registries.push((format!("{home}/{REGISTRY}"), Some(home)));
    }
    for (reg, home) in &registries {
        if let Some(home) = home {
            add(&mut dirs, format!("{home}/{DEFAULT_DATA}"), false);
            add(&mut dirs, format!("{home}/{DEFAULT_DATA}_Group"), false);
        }
        let Some(text) = read(root, reg, w, &mut denied) else {
            continue;
        };
        let r = parse_registry(&text);
        if let Some(a) = &r.app_data_location {
            add(&mut dirs, rel_path(a), true);
        }
        if let Some(loc) = &r.location {
            let loc = rel_path(loc);
            let mut from_config = false;
            for ini in [
                format!("{loc}/configuration/config.ini"),
                format!("{loc}/eclipse/configuration/config.ini"),
            ] {
                if let Some(a) =
                    read(root, &ini, w, &mut denied).and_then(|t| config_app_data_location(&t))
                {
                    add(&mut dirs, rel_path(&a), true);
                    from_config = true;
                }
            }
            if root.exists(&format!("{loc}/installed.xml")) {
                add(&mut dirs, loc, true);
            } else if !from_config && r.app_data_location.is_none() {
                w.warn(
                    reg.clone(),
                    format!(
                        "Installation Manager at {} has no readable configuration/config.ini: \
                         agent data location assumed to be the default",
                        abs_path(&loc)
                    ),
                );
            }
        }
    }
    add(&mut dirs, DEFAULT_DATA.to_string(), false);

    let mut locations = Vec::new();
    for d in &dirs {
        let installed = format!("{}/installed.xml", d.rel);
        let registry = format!("{}/installRegistry.xml", d.rel);
        let (packages, source) = match read(root, &installed, w, &mut denied) {
            Some(text) => {
                let (p, err) = parse_installed(&text);
                if let Some(e) = err {
                    w.warn(
                        installed.clone(),
                        format!("{e}; packages after it not read"),
                    );
                }
                if p.is_empty() {
                    fallback(root, &registry, w, &mut denied)
                } else {
                    (p, installed)
                }
            }
            None => {
                let (p, src) = fallback(root, &registry, w, &mut denied);
                if p.is_empty() && d.declared && !root.is_dir(&d.rel) {
                    w.warn(
                        d.rel.clone(),
                        "Installation Manager agent data location named by its registry is missing",
                    );
                }
                (p, src)
            }
        };
        for p in packages.into_iter().filter(is_ibm) {
            if !p.location.is_empty() {
                locations.push(p.location.clone());
            }
            out.push(install(
                Signature::InstallationManager,
                &p.name,
                &p.version,
                &p.id,
                "IBM",
                &p.location,
                &source,
            ));
        }
    }
    if denied > 0 {
        w.warn(
            "home",
            format!(
                "{denied} Installation Manager files under home directories could not be read \
                 (permission denied; run as root): nonadmin and group installations may be missed"
            ),
        );
    }
    locations.sort();
    locations.dedup();
    locations
}

/// `probe`, except that a permission refused under a home directory is only counted.
fn read(root: &Root, rel: &str, w: &mut Warnings, denied: &mut usize) -> Option<String> {
    match root.read_string(rel) {
        Ok(s) => Some(s),
        Err(e) if e.is_not_found() => None,
        Err(ReadError::PermissionDenied { .. })
            if rel.starts_with("home/") || rel.starts_with("root/") =>
        {
            *denied += 1;
            None
        }
        Err(e) => {
            w.read_failed(&e);
            None
        }
    }
}

fn fallback(
    root: &Root,
    registry: &str,
    w: &mut Warnings,
    denied: &mut usize,
) -> (Vec<ImPackage>, String) {
    match read(root, registry, w, denied) {
        Some(text) => {
            let (p, err) = parse_install_registry(&text);
            if let Some(e) = err {
                w.warn(
                    registry.to_string(),
                    format!("{e}; offerings after it not read"),
                );
            }
            (p, registry.to_string())
        }
        None => (Vec::new(), registry.to_string()),
    }
}

/// `home/<user>` directories (and `root`), bounded.
pub fn homes(root: &Root, w: &mut Warnings) -> Vec<String> {
    let mut out = vec!["root".to_string()];
    match root.read_dir("home") {
        Ok(names) => {
            if names.len() > MAX_HOMES {
                w.warn(
                    "home",
                    format!(
                        "{} home directories: only the first {MAX_HOMES} are searched for \
                         Installation Manager registries",
                        names.len()
                    ),
                );
            }
            out.extend(
                names
                    .into_iter()
                    .take(MAX_HOMES)
                    .map(|n| format!("home/{n}")),
            );
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => w.read_failed(&e),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTALLED: &str = "<?xml version='1.0' encoding='UTF-8'?>
<?xml-stylesheet type='text/xsl' href='installed.xsl'?>
<installInfo>
  <location id='IBM WebSphere Application Server V9.0' kind='product' path='/opt/IBM/WebSphere/AppServer'>
    <package id='com.ibm.websphere.ND.v90' kind='offering' name='IBM WebSphere Application Server Network Deployment' version='9.0.5017.20230818_0107'>
      <feature id='core.feature' kind='feature' name='Core WebSphere Application Server' shortName='core.feature'/>
    </package>
    <package id='com.ibm.java.jdk.v8' kind='offering' name='IBM SDK, Java Technology Edition, Version 8' version='8.0.8010.20230721_0720'/>
  </location>
  <location id='IBM Installation Manager' kind='im' path='/opt/IBM/InstallationManager/eclipse'>
    <package id='com.ibm.cic.agent' kind='self' name='IBM&#174; Installation Manager' version='1.9.2003.20220917_1018'/>
  </location>
</installInfo>
";

    const REGISTRY_XML: &str = "<?xml version='1.0' encoding='UTF-8'?>
<installRegistry>
  <profile id='IBM HTTP Server V9.0' kind='product'>
    <offering id='com.ibm.websphere.IHS.v90' version='9.0.5017.20230818_0107' profile='IBM HTTP Server V9.0' features='core.feature,arch.64bit' installFixes='none'/>
    <property name='installLocation' value='/opt/IBM/HTTPServer'/>
  </profile>
</installRegistry>
";

    #[test]
    fn installed_xml() {
        let (p, err) = parse_installed(INSTALLED);
        assert_eq!(err, None);
        let got: Vec<(&str, &str, &str, &str)> = p
            .iter()
            .map(|p| {
                (
                    p.id.as_str(),
                    p.name.as_str(),
                    p.version.as_str(),
                    p.location.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "com.ibm.websphere.ND.v90",
                    "IBM WebSphere Application Server Network Deployment",
                    "9.0.5017.20230818_0107",
                    "/opt/IBM/WebSphere/AppServer"
                ),
                (
                    "com.ibm.java.jdk.v8",
                    "IBM SDK, Java Technology Edition, Version 8",
                    "8.0.8010.20230721_0720",
                    "/opt/IBM/WebSphere/AppServer"
                ),
                (
                    "com.ibm.cic.agent",
                    "IBM® Installation Manager",
                    "1.9.2003.20220917_1018",
                    "/opt/IBM/InstallationManager/eclipse"
                ),
            ]
        );
    }

    #[test]
    fn damaged_installed_xml_keeps_what_came_before() {
        let cut = INSTALLED.find("<location id='IBM Installation").unwrap();
        let text = format!("{}<location <<<", &INSTALLED[..cut]);
        let (p, err) = parse_installed(&text);
        assert_eq!(p.len(), 2);
        assert!(err.is_some());
    }

    #[test]
    fn install_registry_xml() {
        let (p, err) = parse_install_registry(REGISTRY_XML);
        assert_eq!(err, None);
        assert_eq!(
            p,
            vec![ImPackage {
                id: "com.ibm.websphere.IHS.v90".into(),
                name: "IBM HTTP Server V9.0".into(),
                version: "9.0.5017.20230818_0107".into(),
                location: "/opt/IBM/HTTPServer".into(),
            }]
        );
    }

    fn put(base: &std::path::Path, rel: &str, text: &str) {
        let p = base.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn found(base: &std::path::Path) -> (Vec<(String, String)>, Vec<String>) {
        let mut w = Warnings::new("ibm_installs");
        let mut out = Vec::new();
        collect(&Root::new(base), &mut w, &mut out);
        let got = out.into_iter().map(|i| (i.product_id, i.source)).collect();
        (got, w.into_vec().into_iter().map(|x| x.message).collect())
    }

    #[test]
    fn nonadmin_registry_in_a_home() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        put(
            b,
            "home/wasadm/etc/.ibm/registry/InstallationManager.dat",
            "location=/home/wasadm/IBM/InstallationManager/eclipse\n",
        );
        put(
            b,
            "home/wasadm/IBM/InstallationManager/eclipse/configuration/config.ini",
            "cic.appDataLocation=/home/wasadm/imdata\n",
        );
        put(b, "home/wasadm/imdata/installed.xml", INSTALLED);
        let (got, warnings) = found(b);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(got.len(), 3);
        assert!(got
            .iter()
            .all(|(_, s)| s == "home/wasadm/imdata/installed.xml"));
    }

    #[test]
    fn registry_location_naming_the_data_itself() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        put(b, REGISTRY, "location=/srv/im-data\n");
        put(b, "srv/im-data/installed.xml", INSTALLED);
        let (got, warnings) = found(b);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn registry_without_config_falls_back_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        put(
            b,
            REGISTRY,
            "location=/opt/IBM/InstallationManager/eclipse\n",
        );
        put(
            b,
            "var/ibm/InstallationManager/installRegistry.xml",
            REGISTRY_XML,
        );
        let (got, warnings) = found(b);
        assert_eq!(
            got,
            vec![(
                "com.ibm.websphere.IHS.v90".to_string(),
                "var/ibm/InstallationManager/installRegistry.xml".to_string()
            )]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("config.ini"), "{warnings:?}");
    }

    #[test]
    fn only_ibm_packages_count() {
        let p = |id: &str, name: &str| ImPackage {
            id: id.into(),
            name: name.into(),
            version: "1".into(),
            location: "/opt/x".into(),
        };
        assert!(is_ibm(&p("com.ibm.websphere.ND.v90", "WebSphere")));
        assert!(is_ibm(&p("offering.x", "IBM Business Automation Workflow")));
        assert!(!is_ibm(&p(
            "com.hcl.appscan.standard",
            "HCL AppScan Standard"
        )));
    }

    #[test]
    fn registry_and_config() {
        let r = parse_registry(
            "location=/opt/IBM/InstallationManager/eclipse\nlauncher=/opt/IBM/InstallationManager/eclipse/IBMIM\nversion=1.9.2003.20220917_1018\n",
        );
        assert_eq!(
            r.location.as_deref(),
            Some("/opt/IBM/InstallationManager/eclipse")
        );
        assert_eq!(r.version.as_deref(), Some("1.9.2003.20220917_1018"));
        assert_eq!(r.app_data_location, None);
        for (ini, want) in [
            (
                "eclipse.application=com.ibm.cic.agent.ui.rcp\ncic.appDataLocation=/var/ibm/InstallationManager\n",
                Some("/var/ibm/InstallationManager"),
            ),
            (
                "cic.appDataLocation=C\\:\\\\ProgramData\\\\IBM\\\\Installation Manager\n",
                Some("C:\\ProgramData\\IBM\\Installation Manager"),
            ),
            ("osgi.bundles=x\n", None),
            ("cic.appDataLocation=\n", None),
        ] {
            assert_eq!(config_app_data_location(ini).as_deref(), want, "{ini}");
        }
    }
}
