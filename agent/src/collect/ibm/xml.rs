//! A small pull layer over quick-xml for the IBM tag and registry files: namespace-blind element
//! names, attributes looked up by local name, and text with entity references resolved.
//!
//! The files are untrusted: parsing stops at the first syntax error (the caller keeps what it had
//! read) and after [`MAX_EVENTS`] events, so a hostile file costs bounded time.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Most XML events read from one file before giving up.
pub const MAX_EVENTS: usize = 2_000_000;

/// One element start (`<a>` or `<a/>`), with its local name and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// `<a/>`: no end event follows.
    pub empty: bool,
}

impl Tag {
    /// The value of the attribute whose local name is `name` (ASCII case-insensitive).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the element's local name is `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// What the pull layer hands to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Start(Tag),
    /// The local name of the element that ends.
    End(String),
    /// Text between tags, entity references resolved; whitespace-only text is not reported.
    Text(String),
}

/// Whether the caller wants more nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Why a file stopped parsing before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("more than {MAX_EVENTS} XML events: not read further")]
    TooManyEvents,
}

/// Feeds the nodes of `text` to `f` until the end, an error, or `f` says stop. Several root
/// elements are accepted (`.slmtag` files are a sequence of elements without a common root).
pub fn parse(text: &str, mut f: impl FnMut(Node) -> Flow) -> Result<(), XmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut pending = String::new();
    let mut events = 0usize;
    loop {
        events += 1;
        if events > MAX_EVENTS {
            return Err(XmlError::TooManyEvents);
        }
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                // Text read before the damage is still the caller's.
                flush(&mut pending, &mut f);
                return Err(XmlError::Syntax {
                    position: reader.error_position(),
                    message: e.to_string(),
                });
            }
        };
        let node = match event {
            Event::Text(t) => {
                pending.push_str(&t.xml10_content().unwrap_or_default());
                continue;
            }
            Event::CData(t) => {
                pending.push_str(&t.decode().unwrap_or_default());
                continue;
            }
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    pending.push(c);
                } else if let Ok(name) = r.decode() {
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => pending.push_str(s),
                        None => {
                            pending.push('&');
                            pending.push_str(&name);
                            pending.push(';');
                        }
                    }
                }
                continue;
            }
            Event::Start(s) => Node::Start(tag(&s, false)),
            Event::Empty(s) => Node::Start(tag(&s, true)),
            Event::End(e) => Node::End(name_of(e.local_name().as_ref())),
            Event::Eof => {
                flush(&mut pending, &mut f);
                return Ok(());
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
        };
        if flush(&mut pending, &mut f) == Flow::Stop {
            return Ok(());
        }
        let empty_end = match &node {
            Node::Start(t) if t.empty => Some(t.name.clone()),
            _ => None,
        };
        if f(node) == Flow::Stop {
            return Ok(());
        }
        if let Some(name) = empty_end {
            if f(Node::End(name)) == Flow::Stop {
                return Ok(());
            }
        }
    }
}

fn flush(pending: &mut String, f: &mut impl FnMut(Node) -> Flow) -> Flow {
    if pending.trim().is_empty() {
        pending.clear();
        return Flow::Continue;
    }
    let text = std::mem::take(pending).trim().to_string();
    f(Node::Text(text))
}

fn name_of(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn tag(s: &quick_xml::events::BytesStart<'_>, empty: bool) -> Tag {
    let attrs = s
        .attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .map(|a| {
            let key = name_of(a.key.local_name().as_ref());
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
            (key, value)
        })
        .collect();
    Tag {
        name: name_of(s.local_name().as_ref()),
        attrs,
        empty,
    }
}

/// Tracks the path of open elements so a caller can ask "am I inside a/b?".
#[derive(Debug, Default)]
pub struct Path {
    stack: Vec<String>,
}

impl Path {
    /// Updates the path for `node` (call for every node, before looking at text).
    pub fn track(&mut self, node: &Node) {
        match node {
            Node::Start(t) => self.stack.push(t.name.to_ascii_lowercase()),
            Node::End(_) => {
                self.stack.pop();
            }
            Node::Text(_) => {}
        }
    }

    /// Whether the innermost open elements are `suffix` (lower-case local names, outermost first).
    pub fn ends_with(&self, suffix: &[&str]) -> bool {
        suffix.len() <= self.stack.len()
            && self.stack[self.stack.len() - suffix.len()..]
                .iter()
                .zip(suffix)
                .all(|(a, b)| a == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(text: &str) -> (Vec<Node>, Result<(), XmlError>) {
        let mut out = Vec::new();
        let r = parse(text, |n| {
            out.push(n);
            Flow::Continue
        });
        (out, r)
    }

    #[test]
    fn names_are_local_and_entities_resolved() {
        let (n, r) = nodes(
            "<?xml version='1.0'?><swid:a xmlns:swid='x' swid:k='v &amp; w'><swid:b>A &lt; B &#65;</swid:b><c/></swid:a>",
        );
        assert_eq!(r, Ok(()));
        let Node::Start(a) = &n[0] else {
            panic!("{n:?}")
        };
        assert_eq!(a.name, "a");
        assert_eq!(a.attr("K"), Some("v & w"));
        assert_eq!(n[2], Node::Text("A < B A".into()));
        assert!(matches!(&n[4], Node::Start(t) if t.empty && t.is("c")));
        assert_eq!(n[5], Node::End("c".into()));
        assert_eq!(n.last(), Some(&Node::End("a".into())));
    }

    #[test]
    fn several_roots_are_accepted() {
        let (n, r) = nodes("<A>1</A>\n<B><C>2</C></B>");
        assert_eq!(r, Ok(()));
        assert_eq!(n.iter().filter(|x| matches!(x, Node::Text(_))).count(), 2);
    }

    #[test]
    fn syntax_errors_say_where() {
        let (_, r) = nodes("<a><b></a>");
        assert!(matches!(r, Err(XmlError::Syntax { .. })), "{r:?}");
    }

    #[test]
    fn stop_ends_early() {
        let mut seen = 0;
        let r = parse("<a/><b/><c/>", |n| {
            if matches!(n, Node::Start(_)) {
                seen += 1;
            }
            if seen == 2 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        });
        assert_eq!(r, Ok(()));
        assert_eq!(seen, 2);
    }

    #[test]
    fn path_tracks_nesting() {
        let mut p = Path::default();
        let mut hits = Vec::new();
        let _ = parse(
            "<x><product_version><name>9</name></product_version><name>t</name></x>",
            |n| {
                p.track(&n);
                if let Node::Text(t) = &n {
                    hits.push((t.clone(), p.ends_with(&["product_version", "name"])));
                }
                Flow::Continue
            },
        );
        assert_eq!(hits, vec![("9".into(), true), ("t".into(), false)]);
    }
}
