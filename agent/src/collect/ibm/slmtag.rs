//! IBM Software License Metric tags (`.slmtag`): usage logs a product appends to, which ILMT
//! collects. The file is a sequence of elements without a common root:
//!
//! ```text
//! <SchemaVersion>2.1.1</SchemaVersion>
//! <SoftwareIdentity>
//!   <PersistentId>…</PersistentId><Name>…</Name><InstanceId>/opt/ibm/…</InstanceId>
//! </SoftwareIdentity>
//! <Metric logTime="…"><Type>…</Type><Value>…</Value><Period>…</Period></Metric>
//! …
//! ```
//!
//! Some products write `<Product><ProductName>…` instead of `<SoftwareIdentity><Name>…`; both
//! are read. Only the identifying header matters here, so parsing stops after it and callers read
//! just the beginning of the file (they grow to a megabyte before rotating).

use super::xml::{self, Flow, Node, Path, XmlError};

/// Bytes read from the start of a `.slmtag` file: the header comes first.
pub const HEADER_READ_LIMIT: u64 = 64 * 1024;

/// The identifying header of one `.slmtag` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlmTag {
    pub schema_version: String,
    pub persistent_id: String,
    pub name: String,
    /// Usually the product instance's directory.
    pub instance_id: String,
    /// Metric types seen before parsing stopped (`MANAGED_SOCKET`, `RESOURCE_VALUE_UNIT`, …).
    pub metrics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlmTagError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("no SoftwareIdentity (or Product) element with a name or persistent id")]
    NoIdentity,
}

/// Parses the beginning of a `.slmtag` file.
pub fn parse(text: &str) -> Result<SlmTag, SlmTagError> {
    let mut tag = SlmTag::default();
    let mut path = Path::default();
    let mut identity_done = false;
    let result = xml::parse(text, |node| {
        path.track(&node);
        match &node {
            Node::Text(s) => {
                let s = s.trim();
                if path.ends_with(&["schemaversion"]) {
                    tag.schema_version = s.to_string();
                } else if path.ends_with(&["softwareidentity", "persistentid"])
                    || path.ends_with(&["product", "persistentid"])
                {
                    tag.persistent_id = s.to_string();
                } else if path.ends_with(&["softwareidentity", "name"])
                    || path.ends_with(&["product", "productname"])
                    || path.ends_with(&["product", "name"])
                {
                    tag.name = s.to_string();
                } else if path.ends_with(&["softwareidentity", "instanceid"])
                    || path.ends_with(&["product", "instanceid"])
                {
                    tag.instance_id = s.to_string();
                } else if path.ends_with(&["metric", "type"]) {
                    if !tag.metrics.iter().any(|m| m == s) {
                        tag.metrics.push(s.to_string());
                    }
                    // One metric read is enough to show the file is in use.
                    if identity_done {
                        return Flow::Stop;
                    }
                }
            }
            Node::End(name)
                if name.eq_ignore_ascii_case("SoftwareIdentity")
                    || name.eq_ignore_ascii_case("Product") =>
            {
                identity_done = true;
            }
            _ => {}
        }
        Flow::Continue
    });
    if tag.name.is_empty() && tag.persistent_id.is_empty() {
        result?;
        return Err(SlmTagError::NoIdentity);
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOREDIQ: &str = "<SchemaVersion>2.1.1</SchemaVersion>
<SoftwareIdentity>
<PersistentId>cb98e260a2a14872902578de1b8e2016</PersistentId>
<Name>IBM StoredIQ Data Assessment</Name>
<InstanceId>/var/siq/ilmt</InstanceId>
</SoftwareIdentity>
<Metric logTime=\"2019-01-25T15:58:26+00:00\">
<Type>TERABYTE</Type>
<SubType>All Data Objects</SubType>
<Value>0.005</Value>
<Period>
<StartTime>2019-01-25T15:58:26+00:00</StartTime>
<EndTime>2019-01-25T15:58:26+00:00</EndTime>
</Period>
</Metric>
";

    const LSF_PRODUCT: &str = "<SchemaVersion>2.1.1</SchemaVersion>
<Product>
<ProductName>LSF Standard 10.1</ProductName>
  <PersistentId>0c4b5e4a1a2b4f6e9d8c7b6a59483726</PersistentId>
  <InstanceId>/opt/ibm/lsf/properties/version</InstanceId>
</Product>
<Metric logTime=\"2023-05-02T10:20+02:00\">
<Type>RESOURCE_VALUE_UNIT</Type>
  <SubType>Current Cores</SubType>
  <Value>64</Value>
</Metric>
";

    #[test]
    fn table() {
        for (text, name, id, instance, metric) in [
            (
                STOREDIQ,
                "IBM StoredIQ Data Assessment",
                "cb98e260a2a14872902578de1b8e2016",
                "/var/siq/ilmt",
                "TERABYTE",
            ),
            (
                LSF_PRODUCT,
                "LSF Standard 10.1",
                "0c4b5e4a1a2b4f6e9d8c7b6a59483726",
                "/opt/ibm/lsf/properties/version",
                "RESOURCE_VALUE_UNIT",
            ),
        ] {
            let t = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.schema_version, "2.1.1");
            assert_eq!(t.name, name);
            assert_eq!(t.persistent_id, id);
            assert_eq!(t.instance_id, instance);
            assert_eq!(t.metrics, vec![metric.to_string()]);
        }
    }

    #[test]
    fn a_cut_file_still_names_its_product() {
        let cut = STOREDIQ.find("<Value>").unwrap();
        let t = parse(&STOREDIQ[..cut]).unwrap();
        assert_eq!(t.name, "IBM StoredIQ Data Assessment");
    }

    #[test]
    fn metrics_only_or_garbage_is_an_error() {
        let only_metric = "<Metric logTime=\"2015-05-28T11:25:46-04:00\"><Type>APPLICATION</Type><Value>1</Value></Metric>";
        assert!(matches!(parse(only_metric), Err(SlmTagError::NoIdentity)));
        assert!(parse("").is_err());
        // What was read before a syntax error is kept.
        assert_eq!(parse("<SoftwareIdentity><Name>x</Nme>").unwrap().name, "x");
        for cut in 0..STOREDIQ.len() {
            let _ = parse(&STOREDIQ[..cut]);
        }
    }
}
