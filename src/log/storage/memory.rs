//! [`MemoryVolume`]: a directory tree held in this process's memory, for a broker
//! that must create no file anywhere (`--in-memory`, the embedded broker).
//!
//! Directories are names in a map; each file is an anonymous memory file
//! (`memfd_create`), which has no name in any filesystem and lives until its last
//! descriptor and mapping are gone. Opening one opens `/proc/self/fd/N` of that memory
//! file, which gives a descriptor of its own (own offset, `O_TRUNC`/`O_APPEND`
//! honoured), just as opening a path on disk would; removing or renaming only changes
//! the map, so a reader that still has the file open or mapped keeps its bytes, as
//! after an unlink on disk. Dropping the volume forgets every name; the memory goes
//! with the last open descriptor or mapping.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{DirEntry, Metadata, OpenOptions};

/// A volume's root is `\0memory-<id>`: a NUL byte cannot appear in a real path.
const ROOT_PREFIX: &str = "\0memory-";

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// The open volumes, by id.
static VOLUMES: Mutex<BTreeMap<u64, Arc<Volume>>> = Mutex::new(BTreeMap::new());

enum Node {
    Dir,
    File(Arc<File>),
}

pub(super) struct Volume {
    id: u64,
    root: PathBuf,
    nodes: Mutex<BTreeMap<PathBuf, Node>>,
}

/// An open in-memory volume; its [`MemoryVolume::root`] is the data directory of a
/// broker that keeps everything in memory. Dropping it forgets every file.
pub struct MemoryVolume {
    volume: Arc<Volume>,
}

impl std::fmt::Debug for MemoryVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryVolume({})", self.volume.id)
    }
}

impl MemoryVolume {
    /// A new, empty volume (its root directory exists).
    pub fn new() -> MemoryVolume {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let root = PathBuf::from(format!("{ROOT_PREFIX}{id}"));
        let mut nodes = BTreeMap::new();
        nodes.insert(root.clone(), Node::Dir);
        let volume = Arc::new(Volume {
            id,
            root,
            nodes: Mutex::new(nodes),
        });
        VOLUMES.lock().insert(id, volume.clone());
        MemoryVolume { volume }
    }

    pub fn root(&self) -> &Path {
        &self.volume.root
    }

    /// Bytes held by the volume's files (their lengths).
    pub fn len_bytes(&self) -> u64 {
        let nodes = self.volume.nodes.lock();
        nodes
            .values()
            .filter_map(|n| match n {
                Node::File(f) => f.metadata().ok().map(|m| m.len()),
                Node::Dir => None,
            })
            .sum()
    }
}

impl Default for MemoryVolume {
    fn default() -> Self {
        MemoryVolume::new()
    }
}

impl Drop for MemoryVolume {
    fn drop(&mut self) {
        VOLUMES.lock().remove(&self.volume.id);
        self.volume.nodes.lock().clear();
    }
}

/// The id in a path's first component, if it is a volume root.
fn volume_id(path: &Path) -> Option<Option<u64>> {
    let Some(Component::Normal(first)) = path.components().next() else {
        return None;
    };
    let first = first.to_str()?;
    let id = first.strip_prefix(ROOT_PREFIX)?;
    Some(id.parse().ok())
}

pub(super) fn display(path: &Path) -> Option<String> {
    volume_id(path)?;
    let text = path.to_string_lossy();
    Some(format!("memory://{}", &text[ROOT_PREFIX.len()..]))
}

pub(super) fn is_memory_path(path: &Path) -> bool {
    volume_id(path).is_some()
}

/// The volume serving `path`: `None` for a disk path, `NotFound` for a path of a
/// volume that is gone.
pub(super) fn volume_of(path: &Path) -> io::Result<Option<Arc<Volume>>> {
    match volume_id(path) {
        None => Ok(None),
        Some(id) => match id.and_then(|id| VOLUMES.lock().get(&id).cloned()) {
            Some(v) => Ok(Some(v)),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("in-memory volume of {} is closed", path.display()),
            )),
        },
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

fn is_a_directory(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::IsADirectory,
        format!("{}: is a directory", path.display()),
    )
}

/// A new anonymous memory file.
fn memfd(name: &Path) -> io::Result<File> {
    let name = name.file_name().unwrap_or_default().to_string_lossy();
    let name = CString::new(name.replace('\0', "")).unwrap_or_default();
    // SAFETY: a plain system call with a valid NUL-terminated name; the descriptor it
    // returns is owned by the File from here on.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

impl Volume {
    pub(super) fn same(&self, other: &Volume) -> bool {
        self.id == other.id
    }

    fn parent_is_dir(nodes: &BTreeMap<PathBuf, Node>, path: &Path) -> io::Result<()> {
        match path.parent().and_then(|p| nodes.get(p)) {
            Some(Node::Dir) => Ok(()),
            _ => Err(not_found(path)),
        }
    }

    pub(super) fn open(&self, path: &Path, opts: &OpenOptions) -> io::Result<File> {
        let file = {
            let mut nodes = self.nodes.lock();
            match nodes.get(path) {
                Some(Node::File(f)) => f.clone(),
                Some(Node::Dir) => return Err(is_a_directory(path)),
                None if opts.create => {
                    Self::parent_is_dir(&nodes, path)?;
                    let f = Arc::new(memfd(path)?);
                    nodes.insert(path.to_path_buf(), Node::File(f.clone()));
                    f
                }
                None => return Err(not_found(path)),
            }
        };
        // A descriptor of its own, as an open of a path on disk gives.
        let mut o = opts.std();
        o.create(false);
        o.open(format!("/proc/self/fd/{}", file.as_raw_fd()))
    }

    pub(super) fn create_dir(&self, path: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock();
        if nodes.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists", path.display()),
            ));
        }
        Self::parent_is_dir(&nodes, path)?;
        nodes.insert(path.to_path_buf(), Node::Dir);
        Ok(())
    }

    pub(super) fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock();
        let mut missing = Vec::new();
        let mut at = Some(path);
        while let Some(p) = at {
            match nodes.get(p) {
                Some(Node::Dir) => break,
                Some(Node::File(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: is a file", p.display()),
                    ))
                }
                None if p == self.root || p.as_os_str().is_empty() => return Err(not_found(path)),
                None => missing.push(p.to_path_buf()),
            }
            at = p.parent();
        }
        for p in missing {
            nodes.insert(p, Node::Dir);
        }
        Ok(())
    }

    pub(super) fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let nodes = self.nodes.lock();
        match nodes.get(path) {
            Some(Node::Dir) => {}
            Some(Node::File(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", path.display()),
                ))
            }
            None => return Err(not_found(path)),
        }
        Ok(nodes
            .range::<Path, _>((std::ops::Bound::Excluded(path), std::ops::Bound::Unbounded))
            .take_while(|(p, _)| p.starts_with(path))
            .filter(|(p, _)| p.parent() == Some(path))
            .map(|(p, n)| DirEntry {
                path: p.clone(),
                is_dir: matches!(n, Node::Dir),
            })
            .collect())
    }

    pub(super) fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        let file = match self.nodes.lock().get(path) {
            Some(Node::Dir) => {
                return Ok(Metadata {
                    len: 0,
                    is_dir: true,
                    modified: std::time::SystemTime::now(),
                })
            }
            Some(Node::File(f)) => f.clone(),
            None => return Err(not_found(path)),
        };
        let m = file.metadata()?;
        Ok(Metadata {
            len: m.len(),
            is_dir: false,
            modified: m.modified()?,
        })
    }

    pub(super) fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock();
        match nodes.get(path) {
            Some(Node::File(_)) => {
                nodes.remove(path);
                Ok(())
            }
            Some(Node::Dir) => Err(is_a_directory(path)),
            None => Err(not_found(path)),
        }
    }

    /// The keys of `path` and everything under it.
    fn subtree(nodes: &BTreeMap<PathBuf, Node>, path: &Path) -> Vec<PathBuf> {
        nodes
            .range::<Path, _>((std::ops::Bound::Included(path), std::ops::Bound::Unbounded))
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub(super) fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock();
        match nodes.get(path) {
            Some(Node::Dir) if path != self.root => {}
            Some(Node::Dir) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: not a removable directory", path.display()),
                ))
            }
            Some(Node::File(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", path.display()),
                ))
            }
            None => return Err(not_found(path)),
        }
        if Self::subtree(&nodes, path).len() > 1 {
            return Err(io::Error::new(
                io::ErrorKind::DirectoryNotEmpty,
                format!("{}: directory not empty", path.display()),
            ));
        }
        nodes.remove(path);
        Ok(())
    }

    pub(super) fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock();
        match nodes.get(path) {
            Some(Node::Dir) if path != self.root => {}
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: not a removable directory", path.display()),
                ))
            }
            None => return Err(not_found(path)),
        }
        for p in Self::subtree(&nodes, path) {
            nodes.remove(&p);
        }
        Ok(())
    }

    pub(super) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock();
        let from_is_dir = match nodes.get(from) {
            Some(Node::Dir) => true,
            Some(Node::File(_)) => false,
            None => return Err(not_found(from)),
        };
        if from == to {
            return Ok(());
        }
        Self::parent_is_dir(&nodes, to)?;
        match (from_is_dir, nodes.get(to)) {
            (_, None) => {}
            (false, Some(Node::File(_))) => {}
            (false, Some(Node::Dir)) => return Err(is_a_directory(to)),
            (true, Some(Node::File(_))) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", to.display()),
                ))
            }
            (true, Some(Node::Dir)) => {
                // As rename(2): an empty directory may be replaced.
                if Self::subtree(&nodes, to).len() > 1 {
                    return Err(io::Error::new(
                        io::ErrorKind::DirectoryNotEmpty,
                        format!("{}: directory not empty", to.display()),
                    ));
                }
            }
        }
        if from_is_dir && to.starts_with(from) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot move a directory into itself",
            ));
        }
        for old in Self::subtree(&nodes, from) {
            let node = nodes.remove(&old).expect("listed just now");
            let rest = old.strip_prefix(from).expect("under `from`");
            let new = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            nodes.insert(new, node);
        }
        Ok(())
    }
}
