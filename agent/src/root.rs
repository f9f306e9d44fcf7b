//! The scan root: the one door through which collectors read the host.
//!
//! Every path a collector names is relative to the root (`/` on a live host, a fixture tree or a
//! mounted image otherwise). When the root is not `/`, symbolic links are resolved inside the root,
//! so an absolute link target in a mounted image (`/etc/os-release -> /usr/lib/os-release`) stays in
//! the image instead of reading the scanning machine. Reads are bounded in size.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Largest file a collector reads whole unless it asks for another limit.
pub const DEFAULT_READ_LIMIT: u64 = 4 * 1024 * 1024;

/// Most symbolic links followed while resolving one path, as the kernel's own limit.
const MAX_LINK_HOPS: usize = 40;

/// Why a read under the root failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: not found")]
    NotFound { path: String },
    #[error("{path}: permission denied (run as root to read it)")]
    PermissionDenied { path: String },
    #[error("{path}: larger than the {limit}-byte limit")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: too many levels of symbolic links inside the scan root")]
    LinkLoop { path: String },
}

impl ReadError {
    /// The path, relative to the root, that the error is about.
    pub fn path(&self) -> &str {
        match self {
            ReadError::NotFound { path }
            | ReadError::PermissionDenied { path }
            | ReadError::TooLarge { path, .. }
            | ReadError::Io { path, .. }
            | ReadError::LinkLoop { path } => path,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }

    fn from_io(path: &str, e: io::Error) -> Self {
        let path = path.to_string();
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => ReadError::NotFound { path },
            io::ErrorKind::PermissionDenied => ReadError::PermissionDenied { path },
            _ => ReadError::Io { path, source: e },
        }
    }
}

/// A directory that stands for `/` of the host being scanned.
///
/// One `Root` serves one scan: it remembers what it has looked up (what `lstat` said of each path
/// met while resolving links, metadata, the text of files read whole) so collectors that need the
/// same file do not read it twice. The host is taken not to change during one scan. Not `Sync`:
/// a scan runs on one thread.
#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
    live: bool,
    memo: RefCell<Memo>,
    /// The buffer every whole-file read goes through (allocated at the first read, grown to
    /// [`READ_CHUNK`] at the first large file).
    scratch: RefCell<Vec<u8>>,
}

/// Most entries each memo table holds: bounds the memory of a scan (the bounded IBM search alone
/// may name 20,000 paths). Past it lookups are simply not remembered.
const MAX_MEMO: usize = 4096;

/// Most bytes of file text remembered for a second reader (in all): `proc/cpuinfo` of a large
/// host is a few hundred kilobytes.
const MAX_MEMO_TEXT: usize = 1024 * 1024;

/// Bytes asked of a `read` call after one that filled its buffer. Kernel files (`proc`, `sys`)
/// say size 0, so a reader that sizes its buffer from the file's size asks for a few bytes at a
/// time; this one asks for much more once a file proves large.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes asked of the first `read` call (and of any after a short one): most files read whole are
/// smaller. Not more, because `proc/sys` files allocate and zero a kernel buffer as large as each
/// request, and a `seq_file` (`proc/cpuinfo`) gives at most a page per call anyway.
const FIRST_READ: usize = 4096;

/// What one scan has looked up already.
#[derive(Debug, Clone, Default)]
struct Memo {
    /// What `lstat` (and `readlink`) said of each real path met while resolving links under a
    /// root other than `/` (keyed by its bytes: hashing a `Path` goes component by component).
    nodes: HashMap<OsString, Node>,
    /// Where the walk to each directory (as collectors name it, relative to the root) ended.
    dirs: HashMap<String, Walk>,
    /// The text of files read whole, by path relative to the root; `None`: not found.
    texts: HashMap<String, Option<String>>,
    /// Bytes of text in `texts`.
    text_bytes: usize,
    /// Metadata (links followed) by path relative to the root; `None`: not found.
    metas: HashMap<String, Option<fs::Metadata>>,
}

/// One real path as `lstat` saw it.
#[derive(Debug, Clone)]
enum Node {
    /// Anything but a symbolic link, with its metadata (what `stat` would say too).
    Plain(fs::Metadata),
    /// A symbolic link and its target.
    Link(String),
    /// `lstat` failed; `not_found` when it said the path does not exist (or a component of it is
    /// not a directory), which no later open can contradict.
    Missing { not_found: bool },
}

/// Where resolving a path has got to: the real path so far, the links followed, and how many
/// components were joined below the first one that failed `lstat` (and whether it was missing).
#[derive(Debug, Clone)]
struct Walk {
    path: PathBuf,
    hops: usize,
    missing_depth: usize,
    not_found: bool,
}

/// A path resolved inside the root.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    path: PathBuf,
    /// A component of the path was found not to exist: opening it would fail with "not found".
    not_found: bool,
}

impl Root {
    /// A root at `base`. `/` means the live host.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        let base = base.into();
        let live = base == Path::new("/");
        Root {
            base,
            live,
            memo: RefCell::default(),
            scratch: RefCell::default(),
        }
    }

    /// Whether this root is the running system's `/` (native-only sources such as CPUID apply).
    pub fn is_live(&self) -> bool {
        self.live
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The real path of `rel` (relative to the root), with links resolved inside the root when the
    /// root is not `/`. A missing component ends resolution: the rest is joined as it is.
    pub fn path(&self, rel: &str) -> Result<PathBuf, ReadError> {
        self.resolve(rel).map(|r| r.path)
    }

    /// Resolves `rel` as [`Root::path`] does, saying also whether it is known not to exist.
    ///
    /// Each real path is `lstat`ed once per scan (remembered in the memo). Below a component that
    /// does not exist nothing is looked up: every later component is missing too, until a `..`
    /// climbs back to where the path still existed. The walk to each directory is remembered
    /// too, so a path costs the steps of its last component only: resolving is the same walk
    /// component by component, whether it starts from the root or from where its directory's
    /// walk ended.
    fn resolve(&self, rel: &str) -> Result<Resolved, ReadError> {
        let rel = rel.trim_start_matches('/');
        if self.live {
            return Ok(Resolved {
                path: self.base.join(rel),
                not_found: false,
            });
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let walked = match self.walk_dir(dir) {
            Ok(at_dir) => self.walk(at_dir, name, rel),
            // Walked again from the root, so that the error names `rel`.
            Err(_) => self.walk(self.start(), rel, rel),
        }?;
        Ok(Resolved {
            path: walked.path,
            not_found: walked.missing_depth > 0 && walked.not_found,
        })
    }

    /// The walk at the root, before any component.
    fn start(&self) -> Walk {
        Walk {
            path: self.base.clone(),
            hops: 0,
            missing_depth: 0,
            not_found: false,
        }
    }

    /// The walk that ends at directory `dir` (remembered), from the walk to its own directory.
    fn walk_dir(&self, dir: &str) -> Result<Walk, ReadError> {
        if dir.is_empty() {
            return Ok(self.start());
        }
        if let Some(w) = self.memo.borrow().dirs.get(dir) {
            return Ok(w.clone());
        }
        let (parent, name) = dir.rsplit_once('/').unwrap_or(("", dir));
        let walked = self.walk(self.walk_dir(parent)?, name, dir)?;
        let mut memo = self.memo.borrow_mut();
        if memo.dirs.len() < MAX_MEMO {
            memo.dirs.insert(dir.to_string(), walked.clone());
        }
        Ok(walked)
    }

    /// Continues walk `w` through the components of `parts`, links resolved inside the root.
    /// `rel` names errors.
    fn walk(&self, mut w: Walk, parts: &str, rel: &str) -> Result<Walk, ReadError> {
        let mut pending: Vec<String> = split(parts);
        pending.reverse();
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    if w.path != self.base {
                        w.path.pop();
                    }
                    w.missing_depth = w.missing_depth.saturating_sub(1);
                    continue;
                }
                _ => {}
            }
            let next = w.path.join(&part);
            if w.missing_depth > 0 {
                w.path = next;
                w.missing_depth += 1;
                continue;
            }
            match self.node(&next, rel)? {
                Node::Link(target) => {
                    w.hops += 1;
                    if w.hops > MAX_LINK_HOPS {
                        return Err(ReadError::LinkLoop {
                            path: rel.to_string(),
                        });
                    }
                    if target.starts_with('/') {
                        w.path = self.base.clone();
                    }
                    let mut parts = split(&target);
                    parts.reverse();
                    pending.extend(parts);
                }
                Node::Missing { not_found } => {
                    w.path = next;
                    w.missing_depth = 1;
                    w.not_found = not_found;
                }
                Node::Plain(_) => w.path = next,
            }
        }
        Ok(w)
    }

    /// What `lstat` says of the real path `real` (remembered). `rel` names errors.
    fn node(&self, real: &Path, rel: &str) -> Result<Node, ReadError> {
        if let Some(n) = self.memo.borrow().nodes.get(real.as_os_str()) {
            return Ok(n.clone());
        }
        let node = match fs::symlink_metadata(real) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(real).map_err(|e| ReadError::from_io(rel, e))?;
                Node::Link(target.to_string_lossy().into_owned())
            }
            Ok(m) => Node::Plain(m),
            Err(e) => Node::Missing {
                not_found: matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ),
            },
        };
        let mut memo = self.memo.borrow_mut();
        if memo.nodes.len() < MAX_MEMO {
            memo.nodes.insert(real.as_os_str().to_owned(), node.clone());
        }
        Ok(node)
    }

    /// Whether the scan already saw that `rel` does not exist (its metadata or its text).
    fn known_missing(&self, rel_clean: &str) -> bool {
        let memo = self.memo.borrow();
        matches!(memo.metas.get(rel_clean), Some(None))
            || matches!(memo.texts.get(rel_clean), Some(None))
    }

    /// The real path of `rel`, or the error opening it would give when it is known not to exist.
    fn existing(&self, rel_clean: &str) -> Result<PathBuf, ReadError> {
        if self.known_missing(rel_clean) {
            return Err(ReadError::NotFound {
                path: rel_clean.to_string(),
            });
        }
        let r = self.resolve(rel_clean)?;
        if r.not_found {
            return Err(ReadError::NotFound {
                path: rel_clean.to_string(),
            });
        }
        Ok(r.path)
    }

    /// Reads `rel` as UTF-8 (invalid bytes replaced), up to [`DEFAULT_READ_LIMIT`].
    ///
    /// The text (or the file's absence) is remembered, up to a total of 1 MiB: reading it again
    /// in the same scan gives the same text without asking the system.
    pub fn read_string(&self, rel: &str) -> Result<String, ReadError> {
        self.read_text(rel, false)
    }

    /// Reads a sysfs attribute (`sys/devices/system/cpu/online`) as [`Root::read_string`] does,
    /// taking a first `read` that gives less than it asked for as the whole file: the kernel
    /// writes an attribute whole into the first read that has room for it (a binary attribute
    /// gives up to a page per read), and a regular file in a scan root gives all it has. No
    /// second `read` to see the end, which counts on a host with hundreds of CPUs. Not for
    /// `proc` files of many records (`proc/cpuinfo`), which the kernel gives a page at a time.
    pub fn read_attribute(&self, rel: &str) -> Result<String, ReadError> {
        self.read_text(rel, true)
    }

    fn read_text(&self, rel: &str, attribute: bool) -> Result<String, ReadError> {
        let key = rel.trim_start_matches('/');
        if let Some(text) = self.memo.borrow().texts.get(key) {
            return match text {
                Some(t) => Ok(t.clone()),
                None => Err(ReadError::NotFound {
                    path: key.to_string(),
                }),
            };
        }
        let read = self
            .read_limited(rel, DEFAULT_READ_LIMIT, attribute)
            .map(|bytes| match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            });
        let mut memo = self.memo.borrow_mut();
        if memo.texts.len() < MAX_MEMO {
            match &read {
                Ok(text) if memo.text_bytes + text.len() <= MAX_MEMO_TEXT => {
                    memo.text_bytes += text.len();
                    memo.texts.insert(key.to_string(), Some(text.clone()));
                }
                Err(e) if e.is_not_found() => {
                    memo.texts.insert(key.to_string(), None);
                }
                _ => {}
            }
        }
        read
    }

    /// Reads `rel` whole, refusing a file larger than `limit` bytes.
    pub fn read_bytes(&self, rel: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
        self.read_limited(rel, limit, false)
    }

    /// [`Root::read_bytes`]; with `attribute`, a short first read is the whole file.
    fn read_limited(&self, rel: &str, limit: u64, attribute: bool) -> Result<Vec<u8>, ReadError> {
        let mut file = self.open(rel)?;
        let buf = self
            .read_to_end(&mut file, limit.saturating_add(1), attribute)
            .map_err(|e| ReadError::from_io(rel, e))?;
        if buf.len() as u64 > limit {
            return Err(ReadError::TooLarge {
                path: rel.trim_start_matches('/').to_string(),
                limit,
            });
        }
        Ok(buf)
    }

    /// Reads `file` to its end or to `max` bytes through the scratch buffer, asking for
    /// [`FIRST_READ`] bytes, or [`READ_CHUNK`] after a call that filled its buffer; the result is
    /// allocated to the size read. With `attribute`, a short first read ends it.
    fn read_to_end(&self, file: &mut fs::File, max: u64, attribute: bool) -> io::Result<Vec<u8>> {
        let mut scratch = self.scratch.borrow_mut();
        let mut out = Vec::new();
        let mut chunk = FIRST_READ;
        loop {
            if scratch.len() < chunk {
                // Grown only when a file needs it (untouched pages cost nothing).
                *scratch = vec![0; chunk];
            }
            let room = max.saturating_sub(out.len() as u64);
            let want = usize::try_from(room).map_or(chunk, |r| r.min(chunk));
            let Some(buf) = scratch.get_mut(..want) else {
                break;
            };
            if buf.is_empty() {
                break;
            }
            match file.read(buf) {
                Ok(0) => break,
                Ok(n) => {
                    chunk = if n == want { READ_CHUNK } else { FIRST_READ };
                    match buf.get(..n) {
                        Some(read) => out.extend_from_slice(read),
                        None => break,
                    }
                    if attribute && out.len() == n && n < want {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Opens `rel` and makes one `read` call into `buf`, returning the bytes it gave: the whole
    /// file when it is smaller than `buf` and is a kernel file that hands its content to the first
    /// read (`proc/<pid>/comm`, a sysfs attribute) or a regular file on a local filesystem. Half
    /// the system calls of [`Root::read_bytes`] (no read to see the end), for reading many tiny
    /// files.
    pub fn read_once<'b>(&self, rel: &str, buf: &'b mut [u8]) -> Result<&'b [u8], ReadError> {
        let mut file = self.open(rel)?;
        loop {
            match file.read(buf) {
                Ok(n) => return Ok(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::from_io(rel, e)),
            }
        }
    }

    /// Opens `rel` for streaming reads (large databases read line by line).
    pub fn open(&self, rel: &str) -> Result<fs::File, ReadError> {
        let rel_clean = rel.trim_start_matches('/');
        if !self.live && !self.known_missing(rel_clean) {
            if let Some(opened) = self.open_not_following(rel_clean) {
                return opened;
            }
        }
        let path = self.existing(rel_clean)?;
        fs::File::open(path).map_err(|e| ReadError::from_io(rel_clean, e))
    }

    /// Under a root other than `/`: resolves the directory of `rel` and opens its last component
    /// without following it, so a file that is not a link costs no `lstat` of its own. The same
    /// file, or the same error, as resolving the whole path would give. `None` when the last
    /// component is a link (or not a name), or the directory did not resolve: the whole path is
    /// resolved then, and says why.
    fn open_not_following(&self, rel: &str) -> Option<Result<fs::File, ReadError>> {
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        if matches!(name, "" | "." | "..") {
            return None;
        }
        let dir = self.resolve(dir).ok()?;
        if dir.not_found {
            return Some(Err(ReadError::NotFound {
                path: rel.to_string(),
            }));
        }
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dir.path.join(name));
        match opened {
            Ok(file) => Some(Ok(file)),
            // The last component is a symbolic link.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => None,
            Err(e) => Some(Err(ReadError::from_io(rel, e))),
        }
    }

    /// Names in directory `rel`, sorted (so output and evidence are stable).
    pub fn read_dir(&self, rel: &str) -> Result<Vec<String>, ReadError> {
        let rel_clean = rel.trim_start_matches('/');
        let path = self.existing(rel_clean)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| ReadError::from_io(rel_clean, e))? {
            let entry = entry.map_err(|e| ReadError::from_io(rel_clean, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// Metadata of `rel` (links resolved inside the root). Remembered, as is its absence.
    pub fn metadata(&self, rel: &str) -> Result<fs::Metadata, ReadError> {
        let rel_clean = rel.trim_start_matches('/');
        if let Some(meta) = self.memo.borrow().metas.get(rel_clean) {
            return meta.clone().ok_or_else(|| ReadError::NotFound {
                path: rel_clean.to_string(),
            });
        }
        let got = self.look_up_metadata(rel_clean);
        let mut memo = self.memo.borrow_mut();
        if memo.metas.len() < MAX_MEMO {
            match &got {
                Ok(m) => {
                    memo.metas.insert(rel_clean.to_string(), Some(m.clone()));
                }
                Err(e) if e.is_not_found() => {
                    memo.metas.insert(rel_clean.to_string(), None);
                }
                Err(_) => {}
            }
        }
        got
    }

    /// Metadata of `rel`, from what resolving it saw when it could (no second `stat`).
    fn look_up_metadata(&self, rel_clean: &str) -> Result<fs::Metadata, ReadError> {
        let path = self.existing(rel_clean)?;
        if !self.live {
            if let Some(Node::Plain(m)) = self.memo.borrow().nodes.get(path.as_os_str()) {
                return Ok(m.clone());
            }
        }
        fs::metadata(path).map_err(|e| ReadError::from_io(rel_clean, e))
    }

    /// Whether `rel` exists (a dangling link does not).
    pub fn exists(&self, rel: &str) -> bool {
        self.metadata(rel).is_ok()
    }

    pub fn is_dir(&self, rel: &str) -> bool {
        self.metadata(rel).map(|m| m.is_dir()).unwrap_or(false)
    }
}

fn split(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_link_stays_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        fs::create_dir_all(base.join("usr/lib")).unwrap();
        fs::create_dir_all(base.join("etc")).unwrap();
        fs::write(base.join("usr/lib/os-release"), "NAME=Fixture\n").unwrap();
        symlink("/usr/lib/os-release", base.join("etc/os-release")).unwrap();
        let root = Root::new(base);
        assert_eq!(
            root.read_string("etc/os-release").unwrap(),
            "NAME=Fixture\n"
        );
        assert_eq!(
            root.read_string("/etc/os-release").unwrap(),
            "NAME=Fixture\n"
        );
    }

    #[test]
    fn dotdot_cannot_climb_above_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("root");
        fs::create_dir_all(base.join("etc")).unwrap();
        fs::write(dir.path().join("secret"), "outside").unwrap();
        fs::write(base.join("secret"), "inside").unwrap();
        symlink("../../../secret", base.join("etc/link")).unwrap();
        let root = Root::new(&base);
        assert_eq!(root.read_string("etc/link").unwrap(), "inside");
        assert_eq!(root.read_string("../secret").unwrap(), "inside");
    }

    #[test]
    fn link_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = Root::new(dir.path()).read_string("a").unwrap_err();
        assert!(matches!(err, ReadError::LinkLoop { .. }), "{err}");
    }

    /// The resolution without any memo, as `Root::path` did before lookups were remembered: the
    /// oracle the remembering resolver must agree with.
    fn unremembered_path(base: &Path, rel: &str) -> Result<PathBuf, String> {
        let rel = rel.trim_start_matches('/');
        let mut pending: Vec<String> = split(rel);
        pending.reverse();
        let mut resolved = base.to_path_buf();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    if resolved != base {
                        resolved.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let next = resolved.join(&part);
            match fs::symlink_metadata(&next) {
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err("loop".to_string());
                    }
                    let target = fs::read_link(&next).map_err(|e| e.to_string())?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        resolved = base.to_path_buf();
                    }
                    let mut parts = split(&target);
                    parts.reverse();
                    pending.extend(parts);
                }
                _ => resolved = next,
            }
        }
        Ok(resolved)
    }

    /// A tree with every kind of link: absolute, relative, climbing, chained, dangling, to a
    /// directory, through a missing directory, and a loop.
    fn linked_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        for d in [
            "usr/lib",
            "etc/alternatives",
            "opt/IBM/db2/V11.5",
            "var/lib",
            "a/b/c",
        ] {
            fs::create_dir_all(b.join(d)).unwrap();
        }
        fs::write(b.join("usr/lib/os-release"), "NAME=Fixture\n").unwrap();
        fs::write(b.join("a/b/c/file"), "deep").unwrap();
        fs::write(b.join("opt/IBM/db2/V11.5/version"), "11.5").unwrap();
        symlink("/usr/lib/os-release", b.join("etc/os-release")).unwrap();
        symlink("../usr/lib", b.join("etc/lib")).unwrap();
        symlink("../../../../../../usr", b.join("etc/alternatives/usr")).unwrap();
        symlink("/etc/lib", b.join("etc/chain")).unwrap();
        symlink("/nowhere/at/all", b.join("etc/dangling")).unwrap();
        symlink("../opt/IBM", b.join("var/ibm")).unwrap();
        symlink("a/b", b.join("ab")).unwrap();
        symlink("x", b.join("var/lib/y")).unwrap();
        symlink("y", b.join("var/lib/x")).unwrap();
        dir
    }

    #[test]
    fn remembered_resolution_agrees_with_the_unremembered_one() {
        let dir = linked_tree();
        let b = dir.path();
        let paths = [
            "etc/os-release",
            "/etc/os-release",
            "etc/lib/os-release",
            "etc/chain/os-release",
            "etc/alternatives/usr/lib/os-release",
            "etc/dangling",
            "etc/dangling/more",
            "var/ibm/db2/V11.5/version",
            "var/ibm/db2/../db2/V11.5/version",
            "ab/c/file",
            "ab/c/../c/file",
            "ab/../ab/c/file",
            "missing/dir/file",
            "missing/dir/../../etc/os-release",
            "missing/../etc/chain/os-release",
            "etc/os-release/below-a-file",
            "etc/os-release/../lib/os-release",
            "../../../etc/os-release",
            "./etc/./lib/./os-release",
            "a/b/c/missing",
            "a/b/c/missing/../file",
            "a/b/c/missing/x/../../file",
            "var/lib/x",
            "var/lib/x/after",
            "etc/lib/../lib/os-release",
            "etc/chain/../../etc/os-release",
            "var/ibm/../IBM/db2/V11.5/version",
            "ab/c/../../ab/c/file",
            "a//b/./c//file",
            "",
            "/",
        ];
        // One root for every lookup (later ones hit the memo), in two orders, and a fresh root
        // for each: all agree with the oracle.
        let shared = Root::new(b);
        for rel in paths.iter().chain(paths.iter().rev()) {
            let want = unremembered_path(b, rel);
            for (how, root) in [("shared", &shared), ("fresh", &Root::new(b))] {
                match (&want, root.resolve(rel)) {
                    (Ok(w), Ok(got)) => {
                        assert_eq!(&got.path, w, "{rel} ({how})");
                        // Known missing exactly when the real path does not exist.
                        let absent = fs::metadata(w).is_err_and(|e| {
                            matches!(
                                e.kind(),
                                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                            )
                        });
                        if got.not_found {
                            assert!(absent, "{rel} ({how}): said missing, exists");
                        }
                        if absent {
                            assert!(got.not_found, "{rel} ({how}): missing, not said");
                        }
                    }
                    (Err(_), Err(ReadError::LinkLoop { path })) => {
                        assert_eq!(path, rel.trim_start_matches('/'), "{how}");
                    }
                    (w, got) => panic!("{rel} ({how}): want {w:?}, got {got:?}"),
                }
            }
        }
    }

    #[test]
    fn reads_agree_with_the_unremembered_resolution() {
        let dir = linked_tree();
        let b = dir.path();
        // Links of every kind, missing paths, a loop, directories opened as files.
        let paths = [
            "etc/os-release",
            "etc/lib/os-release",
            "etc/chain/os-release",
            "etc/alternatives/usr/lib/os-release",
            "var/ibm/db2/V11.5/version",
            "ab/c/file",
            "ab/c/../c/file",
            "a/b/c/missing/../file",
            "missing/dir/../../etc/os-release",
            "../../../etc/os-release",
            "etc/dangling",
            "etc/os-release/below-a-file",
            "missing/dir/file",
            "a/b/c/missing",
            "var/lib/x",
            "etc",
            "etc/lib",
            "etc/lib/",
            "etc/lib/.",
            "etc/lib/..",
            "etc/lib/../lib/os-release",
            "var/ibm/../IBM/db2/V11.5/version",
            "var/lib/x/after",
        ];
        let kind = |e: &ReadError| match e {
            ReadError::NotFound { .. } => "not found",
            ReadError::PermissionDenied { .. } => "permission denied",
            ReadError::TooLarge { .. } => "too large",
            ReadError::Io { .. } => "io",
            ReadError::LinkLoop { .. } => "loop",
        };
        let root = Root::new(b);
        for rel in paths.iter().chain(paths.iter().rev()) {
            let want = match unremembered_path(b, rel) {
                Err(_) => Err("loop"),
                Ok(p) => fs::read(&p).map_err(|e| kind(&ReadError::from_io(rel, e))),
            };
            for (how, r) in [("shared", &root), ("fresh", &Root::new(b))] {
                let got = r.read_bytes(rel, DEFAULT_READ_LIMIT);
                match (&want, &got) {
                    (Ok(w), Ok(g)) => assert_eq!(w, g, "{rel} ({how})"),
                    (Err(w), Err(g)) => {
                        assert_eq!(*w, kind(g), "{rel} ({how}): {g}");
                        assert_eq!(g.path(), *rel, "{how}");
                    }
                    _ => panic!("{rel} ({how}): want {want:?}, got {got:?}"),
                }
                let meta = unremembered_path(b, rel).map(|p| fs::metadata(p).is_ok());
                assert_eq!(meta.unwrap_or(false), r.exists(rel), "{rel} ({how})");
            }
        }
    }

    #[test]
    fn a_known_missing_path_reads_as_not_found() {
        let dir = linked_tree();
        let root = Root::new(dir.path());
        for rel in [
            "missing/dir/file",
            "/etc/dangling",
            "etc/os-release/below-a-file",
            "a/b/c/missing",
        ] {
            let err = root.read_string(rel).unwrap_err();
            assert!(err.is_not_found(), "{rel}: {err}");
            assert_eq!(err.path(), rel.trim_start_matches('/'));
            assert!(!root.exists(rel), "{rel}");
            let err = root.read_dir(rel).unwrap_err();
            assert!(err.is_not_found(), "{rel}: {err}");
        }
        assert_eq!(root.read_string("ab/c/file").unwrap(), "deep");
        assert_eq!(root.read_dir("etc/lib").unwrap(), vec!["os-release"]);
        assert!(root.is_dir("var/ibm/db2"));
    }

    #[test]
    fn a_scan_reads_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        fs::write(b.join("small"), "first").unwrap();
        fs::write(b.join("big"), vec![b'x'; MAX_MEMO_TEXT + 1]).unwrap();
        fs::create_dir(b.join("dir")).unwrap();
        let root = Root::new(b);
        assert_eq!(root.read_string("small").unwrap(), "first");
        assert!(root.read_string("later").unwrap_err().is_not_found());
        assert_eq!(root.read_string("big").unwrap().len(), MAX_MEMO_TEXT + 1);
        assert!(root.is_dir("dir") && !root.exists("dir/file"));
        assert!(!root.exists("absent"));
        // The host changes under the scan: the scan keeps what it saw of small files.
        fs::write(b.join("small"), "second").unwrap();
        fs::write(b.join("later"), "now here").unwrap();
        fs::write(b.join("big"), "shrunk").unwrap();
        fs::remove_dir(b.join("dir")).unwrap();
        fs::write(b.join("dir"), "a file now").unwrap();
        assert_eq!(root.read_string("/small").unwrap(), "first");
        let err = root.read_string("later").unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.path(), "later");
        assert_eq!(root.read_string("big").unwrap(), "shrunk");
        assert!(root.is_dir("/dir") && !root.exists("dir/file"));
        // Seen missing by its metadata: not opened either.
        fs::write(b.join("absent"), "here now").unwrap();
        assert!(root.read_string("absent").unwrap_err().is_not_found());
        assert!(root.read_dir("absent").unwrap_err().is_not_found());
        // A new scan sees the new host.
        let next = Root::new(b);
        assert_eq!(next.read_string("small").unwrap(), "second");
        assert_eq!(next.read_string("later").unwrap(), "now here");
        assert!(!next.is_dir("dir"));
    }

    #[test]
    fn whole_reads_across_chunks_keep_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        for size in [
            0,
            1,
            FIRST_READ - 1,
            FIRST_READ,
            FIRST_READ + 1,
            FIRST_READ + READ_CHUNK,
            READ_CHUNK + 1,
            3 * READ_CHUNK + 7,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let name = format!("f{size}");
            fs::write(dir.path().join(&name), &data).unwrap();
            let limit = size as u64;
            assert_eq!(root.read_bytes(&name, limit).unwrap(), data, "{size}");
            assert_eq!(root.read_bytes(&name, limit + 1).unwrap(), data, "{size}");
            if size > 0 {
                let err = root.read_bytes(&name, limit - 1).unwrap_err();
                assert!(matches!(err, ReadError::TooLarge { .. }), "{size}: {err}");
            }
        }
    }

    #[test]
    fn attributes_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        for size in [
            0,
            1,
            FIRST_READ - 1,
            FIRST_READ,
            FIRST_READ + 1,
            3 * READ_CHUNK + 7,
        ] {
            let text: String = (0..size)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let name = format!("attr{size}");
            fs::write(dir.path().join(&name), &text).unwrap();
            assert_eq!(root.read_attribute(&name).unwrap(), text, "{size}");
            // Remembered like any text.
            assert_eq!(root.read_string(&name).unwrap(), text, "{size}");
        }
        assert!(root.read_attribute("gone").unwrap_err().is_not_found());
        // The kernel's own attributes, where the host has them.
        let live = Root::new("/");
        for rel in [
            "sys/devices/system/cpu/online",
            "sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
        ] {
            if let Ok(want) = fs::read_to_string(Path::new("/").join(rel)) {
                assert_eq!(live.read_attribute(rel).unwrap(), want, "{rel}");
            }
        }
    }

    #[test]
    fn kernel_files_of_size_zero_are_read_whole() {
        // proc files say size 0; what is read must be all of it.
        let root = Root::new("/");
        let text = root.read_string("proc/self/mounts").unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        assert_eq!(
            text.lines().count(),
            fs::read_to_string("/proc/self/mounts")
                .unwrap()
                .lines()
                .count()
        );
    }

    #[test]
    fn one_read_gives_a_small_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("comm"), "BESClient\n").unwrap();
        let root = Root::new(dir.path());
        let mut buf = [0u8; 65];
        assert_eq!(root.read_once("comm", &mut buf).unwrap(), b"BESClient\n");
        let mut small = [0u8; 3];
        assert_eq!(root.read_once("comm", &mut small).unwrap(), b"BES");
        assert!(root.read_once("gone", &mut buf).unwrap_err().is_not_found());
        // The kernel's own comm file, as it says it.
        let live = Root::new("/");
        let mine = live.read_once("proc/self/comm", &mut buf).unwrap().to_vec();
        assert_eq!(mine, fs::read("/proc/self/comm").unwrap());
    }

    #[test]
    fn errors_name_the_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let err = root
            .read_string("/sys/class/dmi/id/product_serial")
            .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.path(), "sys/class/dmi/id/product_serial");
        fs::write(dir.path().join("big"), vec![b'x'; 10]).unwrap();
        let err = root.read_bytes("big", 9).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { limit: 9, .. }), "{err}");
        assert_eq!(root.read_bytes("big", 10).unwrap().len(), 10);
    }
}
