//! ISO/IEC 19770-2 software identification (SWID) tags: the 2009 schema
//! (`swid:software_identification_tag`) and the 2015 schema (`SoftwareIdentity`).
//!
//! IBM ships one `ibm.com_<Product>-<version>.swidtag` per chargeable component, in a `swidtag/`
//! or `iso-swid/` folder of the install directory (WebSphere: `properties/version/`). What the
//! parser keeps: product name, version, tag id, the software creator's name (the publisher) and
//! every registration id, so [`SwidTag::is_ibm`] can tell IBM's tags from others'.

use super::xml::{self, Flow, Node, Path, XmlError};

/// Which edition of ISO/IEC 19770-2 a tag follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Iso2009,
    Iso2015,
}

/// The identifying part of one SWID tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwidTag {
    pub schema: Schema,
    pub name: String,
    pub version: String,
    /// 2015 `tagId`; 2009 `software_id/unique_id`.
    pub tag_id: String,
    /// The software creator's name (2015: the `Entity` with role `softwareCreator`, else the
    /// licensor, else the tag creator).
    pub publisher: String,
    /// Registration ids of the creator, licensor and tag creator (e.g. `ibm.com`,
    /// `regid.1986-04.com.ibm`).
    pub regids: Vec<String>,
    /// Names of every entity the tag mentions.
    pub entity_names: Vec<String>,
    /// 2015 `corpus="true"`: the tag describes installation media, not an installed product.
    pub corpus: bool,
}

/// Why a file is not a usable SWID tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwidError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("not a SWID tag: the root element is <{0}>")]
    NotSwid(String),
    #[error("empty file")]
    Empty,
    #[error("SWID tag without a product name")]
    NoName,
}

impl SwidTag {
    /// Whether IBM made (or licenses) the product: a registration id of IBM (`ibm.com`,
    /// `regid.YYYY-MM.com.ibm`) or an entity named IBM / International Business Machines.
    pub fn is_ibm(&self) -> bool {
        self.regids.iter().any(|r| is_ibm_regid(r))
            || self.entity_names.iter().any(|n| is_ibm_name(n))
    }
}

/// `ibm.com`, `www.ibm.com`, `http://ibm.com`, `regid.1986-04.com.ibm` (2009 style).
pub fn is_ibm_regid(regid: &str) -> bool {
    let r = regid.trim().to_ascii_lowercase();
    let r = r
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.");
    let r = r.trim_end_matches('/');
    if r == "ibm.com" {
        return true;
    }
    // regid.<date>.com.ibm[.<sub>]
    r.strip_prefix("regid.")
        .and_then(|rest| rest.split_once('.'))
        .map(|(_, reversed)| reversed == "com.ibm" || reversed.starts_with("com.ibm."))
        .unwrap_or(false)
}

/// A publisher name that is IBM: the word `IBM` or "International Business Machines".
pub fn is_ibm_name(name: &str) -> bool {
    const LONG: &[u8] = b"international business machines";
    name.as_bytes()
        .windows(LONG.len())
        .any(|w| w.eq_ignore_ascii_case(LONG))
        || name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "IBM")
}

/// Parses the text of a `.swidtag` file.
pub fn parse(text: &str) -> Result<SwidTag, SwidError> {
    if text.trim().is_empty() {
        return Err(SwidError::Empty);
    }
    let mut tag = SwidTag {
        schema: Schema::Iso2015,
        name: String::new(),
        version: String::new(),
        tag_id: String::new(),
        publisher: String::new(),
        regids: Vec::new(),
        entity_names: Vec::new(),
        corpus: false,
    };
    let mut root: Option<String> = None;
    let mut path = Path::default();
    // 2015 publisher candidates by role: creator, licensor, tag creator.
    let mut by_role: [String; 3] = Default::default();
    // 2009 numeric version parts, used when product_version/name is missing.
    let mut numeric: Vec<(usize, String)> = Vec::new();
    let mut creator_2009 = String::new();
    let mut licensor_2009 = String::new();
    let mut tag_creator_2009 = String::new();

    let result = xml::parse(text, |node| {
        path.track(&node);
        match &node {
            Node::Start(t) => {
                if root.is_none() {
                    root = Some(t.name.clone());
                    if t.is("software_identification_tag") {
                        tag.schema = Schema::Iso2009;
                    } else if t.is("SoftwareIdentity") {
                        tag.schema = Schema::Iso2015;
                        tag.name = t.attr("name").unwrap_or_default().trim().to_string();
                        tag.version = t.attr("version").unwrap_or_default().trim().to_string();
                        tag.tag_id = t.attr("tagId").unwrap_or_default().trim().to_string();
                        tag.corpus = t.attr("corpus").is_some_and(|v| v.trim() == "true");
                    } else {
                        return Flow::Stop;
                    }
                } else if tag.schema == Schema::Iso2015 && t.is("Entity") {
                    let name = t.attr("name").unwrap_or_default().trim().to_string();
                    let regid = t.attr("regid").unwrap_or_default().trim().to_string();
                    let roles = t.attr("role").unwrap_or_default().to_string();
                    for (i, role) in ["softwareCreator", "licensor", "tagCreator"]
                        .iter()
                        .enumerate()
                    {
                        let has = roles
                            .split_whitespace()
                            .any(|r| r.eq_ignore_ascii_case(role));
                        if has && by_role[i].is_empty() {
                            by_role[i] = name.clone();
                        }
                    }
                    if !regid.is_empty() {
                        tag.regids.push(regid);
                    }
                    if !name.is_empty() {
                        tag.entity_names.push(name);
                    }
                }
            }
            Node::Text(s) if tag.schema == Schema::Iso2009 => {
                let s = s.trim().to_string();
                if path.ends_with(&["product_title"]) {
                    tag.name = s;
                } else if path.ends_with(&["product_version", "name"]) {
                    tag.version = s;
                } else if path.ends_with(&["numeric", "major"]) {
                    numeric.push((0, s));
                } else if path.ends_with(&["numeric", "minor"]) {
                    numeric.push((1, s));
                } else if path.ends_with(&["numeric", "build"]) {
                    numeric.push((2, s));
                } else if path.ends_with(&["numeric", "review"]) {
                    numeric.push((3, s));
                } else if path.ends_with(&["software_creator", "name"]) {
                    creator_2009 = s;
                } else if path.ends_with(&["software_licensor", "name"]) {
                    licensor_2009 = s;
                } else if path.ends_with(&["tag_creator", "name"]) {
                    tag_creator_2009 = s;
                } else if path.ends_with(&["software_id", "unique_id"]) {
                    tag.tag_id = s;
                } else if path.ends_with(&["regid"]) || path.ends_with(&["tag_creator_regid"]) {
                    tag.regids.push(s);
                }
            }
            _ => {}
        }
        Flow::Continue
    });

    let Some(root) = root else {
        result?;
        return Err(SwidError::NotSwid(String::new()));
    };
    if !(root.eq_ignore_ascii_case("software_identification_tag")
        || root.eq_ignore_ascii_case("SoftwareIdentity"))
    {
        return Err(SwidError::NotSwid(root));
    }
    // A tag whose end is damaged still identifies its product when the name was read.
    if tag.schema == Schema::Iso2009 {
        if tag.version.is_empty() && !numeric.is_empty() {
            numeric.sort();
            tag.version = numeric
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(".");
        }
        for n in [&creator_2009, &licensor_2009, &tag_creator_2009] {
            if !n.is_empty() {
                tag.entity_names.push(n.clone());
            }
        }
        tag.publisher = [creator_2009, licensor_2009, tag_creator_2009]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or_default();
    } else {
        tag.publisher = by_role
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or_default();
    }
    if tag.name.is_empty() {
        result?;
        return Err(SwidError::NoName);
    }
    Ok(tag)
}

/// The version in an IBM tag file name, `ibm.com_IBM_MQ-9.3.4.swidtag` → `9.3.4`: used when the
/// tag itself carries none.
pub fn version_from_file_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".swidtag").unwrap_or(file_name);
    let (_, v) = stem.rsplit_once('-')?;
    let looks_like_version = v.chars().next().is_some_and(|c| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    looks_like_version.then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAS_2015: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" name="IBM WebSphere Application Server Network Deployment" tagId="ibm.com-c2f2a1b0e3d34a6c9a0d4f6ab5b1d9e2-9.0" version="9.0.5.17" versionScheme="multipartnumeric" xml:lang="en">
  <Meta persistentId="c2f2a1b0e3d34a6c9a0d4f6ab5b1d9e2"/>
  <Entity name="IBM" regid="ibm.com" role="licensor tagCreator softwareCreator"/>
</SoftwareIdentity>
"#;

    const MQ_2009: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<swid:software_identification_tag xmlns:swid="http://standards.iso.org/iso/19770/-2/2009/schema.xsd">
  <swid:entitlement_required_indicator>true</swid:entitlement_required_indicator>
  <swid:product_title>IBM MQ</swid:product_title>
  <swid:product_version>
    <swid:name>9.3.4</swid:name>
    <swid:numeric><swid:major>9</swid:major><swid:minor>3</swid:minor><swid:build>4</swid:build><swid:review>0</swid:review></swid:numeric>
  </swid:product_version>
  <swid:software_creator><swid:name>IBM Corp.</swid:name><swid:regid>regid.1986-04.com.ibm</swid:regid></swid:software_creator>
  <swid:software_licensor><swid:name>IBM Corp.</swid:name><swid:regid>regid.1986-04.com.ibm</swid:regid></swid:software_licensor>
  <swid:software_id><swid:unique_id>ibm.com-MQ-9.3.4</swid:unique_id><swid:tag_creator_regid>regid.1986-04.com.ibm</swid:tag_creator_regid></swid:software_id>
  <swid:tag_creator><swid:name>IBM Corp.</swid:name><swid:regid>regid.1986-04.com.ibm</swid:regid></swid:tag_creator>
</swid:software_identification_tag>
"#;

    const OTHER_2015: &str = r#"<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" name="ACME Widget" tagId="acme-1" version="1.2">
  <Entity name="ACME Inc." regid="acme.example" role="tagCreator softwareCreator"/>
</SoftwareIdentity>"#;

    #[test]
    fn table() {
        struct Case {
            text: &'static str,
            schema: Schema,
            name: &'static str,
            version: &'static str,
            tag_id: &'static str,
            publisher: &'static str,
            ibm: bool,
        }
        let cases = [
            Case {
                text: WAS_2015,
                schema: Schema::Iso2015,
                name: "IBM WebSphere Application Server Network Deployment",
                version: "9.0.5.17",
                tag_id: "ibm.com-c2f2a1b0e3d34a6c9a0d4f6ab5b1d9e2-9.0",
                publisher: "IBM",
                ibm: true,
            },
            Case {
                text: MQ_2009,
                schema: Schema::Iso2009,
                name: "IBM MQ",
                version: "9.3.4",
                tag_id: "ibm.com-MQ-9.3.4",
                publisher: "IBM Corp.",
                ibm: true,
            },
            Case {
                text: OTHER_2015,
                schema: Schema::Iso2015,
                name: "ACME Widget",
                version: "1.2",
                tag_id: "acme-1",
                publisher: "ACME Inc.",
                ibm: false,
            },
        ];
        for c in cases {
            let t = parse(c.text).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert_eq!(t.schema, c.schema, "{}", c.name);
            assert_eq!(t.name, c.name);
            assert_eq!(t.version, c.version, "{}", c.name);
            assert_eq!(t.tag_id, c.tag_id, "{}", c.name);
            assert_eq!(t.publisher, c.publisher, "{}", c.name);
            assert_eq!(t.is_ibm(), c.ibm, "{}", c.name);
            assert!(!t.corpus);
        }
    }

    #[test]
    fn version_2009_from_numeric_parts_when_name_missing() {
        let text = MQ_2009.replace("<swid:name>9.3.4</swid:name>", "");
        assert_eq!(parse(&text).unwrap().version, "9.3.4.0");
    }

    #[test]
    fn creator_wins_over_tag_creator_2015() {
        let t = parse(
            r#"<SoftwareIdentity name="X" version="1" tagId="t"><Entity name="Packager" regid="p.example" role="tagCreator"/><Entity name="IBM" regid="ibm.com" role="softwareCreator"/></SoftwareIdentity>"#,
        )
        .unwrap();
        assert_eq!(t.publisher, "IBM");
        assert!(t.is_ibm());
    }

    #[test]
    fn corpus_tags_are_marked() {
        let t = parse(r#"<SoftwareIdentity name="X" corpus="true"/>"#).unwrap();
        assert!(t.corpus);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(parse(""), Err(SwidError::Empty));
        assert!(matches!(parse("<html><body/></html>"), Err(SwidError::NotSwid(r)) if r == "html"));
        assert!(matches!(
            parse("<SoftwareIdentity version='1'/>"),
            Err(SwidError::NoName)
        ));
        assert!(parse("\u{0}\u{1}garbage<<<").is_err());
        // Every prefix of a real tag parses or fails cleanly.
        for cut in 0..WAS_2015.len() {
            if WAS_2015.is_char_boundary(cut) {
                let _ = parse(&WAS_2015[..cut]);
            }
        }
    }

    #[test]
    fn truncated_tag_keeps_what_the_root_said() {
        let cut = WAS_2015.find("<Meta").unwrap();
        let t = parse(&WAS_2015[..cut]).unwrap();
        assert_eq!(t.version, "9.0.5.17");
        assert!(!t.is_ibm(), "no entity read yet: not proven IBM");
    }

    #[test]
    fn ibm_regids_and_names() {
        for (r, want) in [
            ("ibm.com", true),
            ("http://www.ibm.com/", true),
            ("regid.1986-04.com.ibm", true),
            ("regid.1986-04.com.ibm.software", true),
            ("regid.2010-04.com.labs64", false),
            ("hcltech.com", false),
            ("notibm.com", false),
        ] {
            assert_eq!(is_ibm_regid(r), want, "{r}");
        }
        for (n, want) in [
            ("IBM", true),
            ("IBM Corp.", true),
            ("International Business Machines Corporation", true),
            ("Ibmiconic Ltd", false),
            ("HCL Technologies", false),
        ] {
            assert_eq!(is_ibm_name(n), want, "{n}");
        }
    }

    #[test]
    fn version_in_file_names() {
        for (f, want) in [
            ("ibm.com_IBM_MQ-9.3.4.swidtag", Some("9.3.4")),
            (
                "ibm.com_IBM_License_Metric_Tool-9.2.30.0.swidtag",
                Some("9.2.30.0"),
            ),
            ("ibm.com_IBM_MQ.swidtag", None),
            ("ibm.com_IBM-Db2-beta.swidtag", None),
        ] {
            assert_eq!(version_from_file_name(f).as_deref(), want, "{f}");
        }
    }
}
