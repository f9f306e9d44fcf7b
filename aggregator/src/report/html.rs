//! `report.html`: one self-contained page (inline CSS and script, nothing fetched; the template is
//! `handoff.html` beside this file) that embeds `handoff.json` byte for byte in a
//! `<script type="application/json" id="data">` element and draws every figure, chart and table
//! from it in the browser. The page names the JSON's SHA-256 and checks it on opening.

/// The page, with `{{JSON_SHA256}}` and `{{DATA}}` to fill.
const TEMPLATE: &str = include_str!("handoff.html");

const DATA_OPEN: &str = "<script type=\"application/json\" id=\"data\">";
const DATA_MARK: &str = "{{DATA}}";
const SHA_MARK: &str = "{{JSON_SHA256}}";
const SHA_ATTR: &str = "data-json-sha256=\"";

/// The page for `json` (the bytes of `handoff.json`, as [`super::model::to_json`] writes them:
/// no `<` in it, so nothing in it can close the script element) whose SHA-256 is `json_sha256`
/// (hex). `None` when `json` holds a `<` (it was not written by `to_json`).
pub fn render(json: &str, json_sha256: &str) -> Option<String> {
    if json.contains('<') || !json_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // The marks are filled in the template only, never in the data.
    let page = TEMPLATE.replace(SHA_MARK, json_sha256);
    let (head, tail) = page.split_once(DATA_MARK)?;
    let mut out = String::with_capacity(page.len() + json.len());
    out.push_str(head);
    out.push_str(json);
    out.push_str(tail);
    Some(out)
}

/// The text of the page's data element: what the browser parses (`handoff.json`'s bytes).
pub fn embedded_json(html: &str) -> Option<&str> {
    let start = html.find(DATA_OPEN)? + DATA_OPEN.len();
    let rest = html.get(start..)?;
    let end = rest.find("</script>")?;
    rest.get(..end)
}

/// The SHA-256 of `handoff.json` the page names.
pub fn stated_json_sha256(html: &str) -> Option<&str> {
    let start = html.find(SHA_ATTR)? + SHA_ATTR.len();
    let rest = html.get(start..)?;
    let end = rest.find('"')?;
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{escape_for_html, to_json};
    use crate::report::testkit;

    #[test]
    fn the_page_embeds_the_json_unchanged_and_names_its_hash() {
        let mut h = testkit::handoff();
        // Text that would close the element, or look like a mark, if it were embedded raw.
        h.provider = Some("</script><script>alert(1)</script> {{DATA}} & {{JSON_SHA256}}".into());
        let json = to_json(&h).unwrap();
        let sha = crate::ilmt::model::sha256_hex(json.as_bytes());
        let page = render(&json, &sha).unwrap();
        assert_eq!(embedded_json(&page), Some(json.as_str()));
        assert_eq!(stated_json_sha256(&page), Some(sha.as_str()));
        // The data element is closed once, by the template; the provider's text is escaped.
        assert_eq!(
            page.matches("</script>").count(),
            TEMPLATE.matches("</script>").count()
        );
        let back: serde_json::Value = serde_json::from_str(embedded_json(&page).unwrap()).unwrap();
        assert_eq!(
            back["provider"],
            "</script><script>alert(1)</script> {{DATA}} & {{JSON_SHA256}}"
        );
    }

    #[test]
    fn json_with_a_raw_angle_bracket_is_refused() {
        assert!(render("{\"a\":\"</script>\"}", "00").is_none());
        let escaped = escape_for_html("{\"a\":\"</script>&\"}");
        assert_eq!(escaped, "{\"a\":\"\\u003c/script\\u003e\\u0026\"}");
        assert!(render(&escaped, "00").is_some());
    }

    #[test]
    fn the_template_is_self_contained() {
        // Nothing to fetch: no external script, style, font, image or link.
        for needle in ["src=", "href=", "@import", "url(", "http://", "https://"] {
            let hits: Vec<&str> = TEMPLATE
                .lines()
                .filter(|l| l.contains(needle))
                // The SVG namespace is a name, not a fetch.
                .filter(|l| !l.contains("'http://www.w3.org/2000/svg'"))
                .collect();
            assert!(hits.is_empty(), "{needle}: {hits:?}");
        }
        assert_eq!(TEMPLATE.matches(DATA_MARK).count(), 1);
        assert!(TEMPLATE.contains("Content-Security-Policy"));
    }
}
