//! The scan root: the one door through which collectors read the host.
//!
//! Every path a collector names is relative to the root (`/` on a live host, a fixture tree or a
//! mounted image otherwise). When the root is not `/`, symbolic links are resolved inside the root,
//! so an absolute link target in a mounted image (`/etc/os-release -> /usr/lib/os-release`) stays in
//! the image instead of reading the scanning machine. Reads are bounded in size.

use std::fs;
use std::io::{self, Read};
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
#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
    live: bool,
}

impl Root {
    /// A root at `base`. `/` means the live host.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        let base = base.into();
        let live = base == Path::new("/");
        Root { base, live }
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
        let rel = rel.trim_start_matches('/');
        if self.live {
            return Ok(self.base.join(rel));
        }
        let mut pending: Vec<String> = split(rel);
        pending.reverse();
        let mut resolved = self.base.clone();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    if resolved != self.base {
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
                        return Err(ReadError::LinkLoop {
                            path: rel.to_string(),
                        });
                    }
                    let target = fs::read_link(&next).map_err(|e| ReadError::from_io(rel, e))?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        resolved = self.base.clone();
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

    /// Reads `rel` as UTF-8 (invalid bytes replaced), up to [`DEFAULT_READ_LIMIT`].
    pub fn read_string(&self, rel: &str) -> Result<String, ReadError> {
        let bytes = self.read_bytes(rel, DEFAULT_READ_LIMIT)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads `rel` whole, refusing a file larger than `limit` bytes.
    pub fn read_bytes(&self, rel: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
        let file = self.open(rel)?;
        let mut buf = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ReadError::from_io(rel, e))?;
        if buf.len() as u64 > limit {
            return Err(ReadError::TooLarge {
                path: rel.trim_start_matches('/').to_string(),
                limit,
            });
        }
        Ok(buf)
    }

    /// Opens `rel` for streaming reads (large databases read line by line).
    pub fn open(&self, rel: &str) -> Result<fs::File, ReadError> {
        let rel_clean = rel.trim_start_matches('/');
        let path = self.path(rel_clean)?;
        fs::File::open(path).map_err(|e| ReadError::from_io(rel_clean, e))
    }

    /// Names in directory `rel`, sorted (so output and evidence are stable).
    pub fn read_dir(&self, rel: &str) -> Result<Vec<String>, ReadError> {
        let rel_clean = rel.trim_start_matches('/');
        let path = self.path(rel_clean)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| ReadError::from_io(rel_clean, e))? {
            let entry = entry.map_err(|e| ReadError::from_io(rel_clean, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// Metadata of `rel` (links resolved inside the root).
    pub fn metadata(&self, rel: &str) -> Result<fs::Metadata, ReadError> {
        let rel_clean = rel.trim_start_matches('/');
        let path = self.path(rel_clean)?;
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
