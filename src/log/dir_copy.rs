//! Copies a partition directory into another log directory while its log keeps being
//! written (AlterReplicaLogDirs' future replica): file by file, in passes, each pass
//! bringing the copy up to what the source holds at that moment.
//!
//! A pass copies only what changed since the last one: a `.log` file is append-only
//! while its inode stays the same, so only its new tail is copied (the tail of the old
//! copy is compared first, so a tail cut back after a failed append and written again
//! is copied whole); a closed segment's other files never change in place (the cleaner
//! swaps in new files, which have new inodes), so they are copied once; everything else
//! (the active segment's indexes, checkpoints, snapshots, the clean-shutdown marker) is
//! small and copied whole every pass. Files gone from the source are removed from the
//! copy. A pass run while the source log is closed and held (the switch) therefore
//! leaves an exact copy. `.tmp` and `.cleaned` files are never copied: they are
//! half-written files, deleted by recovery or never installed into a moved log.
//!
//! It knows nothing of segments beyond file names (`file_names`) and never opens a log;
//! locking the source is the caller's business. Nothing is fsync'd until [`DirCopy::sync`].

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::file_names::{parse_segment_name, CLEANED_SUFFIX, LOG_EXT, TMP_SUFFIX};
use super::preallocate;
use super::storage::{self, OpenOptions};

/// Bytes compared at the end of a `.log` file's copied prefix before its tail is
/// appended.
const TAIL_CHECK_BYTES: u64 = 4096;
/// Bytes read and written at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// What a pass saw of one source file.
#[derive(Clone, Copy, Debug)]
struct Copied {
    ino: u64,
    len: u64,
    /// Copied while the file belonged to a closed segment: it cannot change in place.
    sealed: bool,
}

pub struct DirCopy {
    src: PathBuf,
    dst: PathBuf,
    copied: HashMap<OsString, Copied>,
    /// Written since the last `sync`.
    dirty: HashSet<OsString>,
}

impl DirCopy {
    /// A copy of `src` into `dst`, which must exist (and is expected empty).
    pub fn new(src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> DirCopy {
        DirCopy {
            src: src.into(),
            dst: dst.into(),
            copied: HashMap::new(),
            dirty: HashSet::new(),
        }
    }

    pub fn dst(&self) -> &Path {
        &self.dst
    }

    /// Brings the copy up to the source as it is now. Returns the bytes written.
    pub fn pass(&mut self) -> io::Result<u64> {
        let mut names: Vec<OsString> = Vec::new();
        for entry in storage::read_dir(&self.src)? {
            let entry = entry?;
            let name = entry.file_name();
            let text = name.to_string_lossy();
            // Half-written files: recovery deletes `.tmp`; a cleaner's `.cleaned` copies
            // are never installed into a moved log (`Partition::install_cleaned`).
            if entry.is_dir()
                || text.ends_with(&format!(".{TMP_SUFFIX}"))
                || text.ends_with(&format!(".{CLEANED_SUFFIX}"))
            {
                continue;
            }
            names.push(name);
        }
        // The active segment is the one with the highest base offset; the files of every
        // other segment are sealed.
        let active_base = names
            .iter()
            .filter_map(|n| parse_segment_name(n.to_str()?))
            .filter(|(_, ext)| *ext == LOG_EXT)
            .map(|(base, _)| base)
            .max();
        let mut written = 0;
        let mut seen = HashSet::new();
        for name in names {
            let sealed = name
                .to_str()
                .and_then(parse_segment_name)
                .is_some_and(|(base, _)| Some(base) < active_base);
            let is_log = name
                .to_str()
                .and_then(parse_segment_name)
                .is_some_and(|(_, ext)| ext == LOG_EXT);
            let src = match storage::open(self.src.join(&name)) {
                Ok(f) => f,
                // Deleted since the listing (retention, the cleaner): as if not listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            // An index file can shrink between its length and its read (the trim at a
            // roll): then its length is read again and it is copied whole, a few times at
            // most; a file that keeps shrinking fails the pass.
            let mut attempt = 0;
            loop {
                match self.copy_file(&src, &name, sealed, is_log) {
                    Ok(n) => {
                        written += n;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && attempt < 3 => {
                        attempt += 1;
                        self.copied.remove(&name);
                    }
                    Err(e) => return Err(e),
                }
            }
            seen.insert(name);
        }
        let gone: Vec<OsString> = self
            .copied
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            match storage::remove_file(self.dst.join(&name)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            self.copied.remove(&name);
            self.dirty.remove(&name);
        }
        Ok(written)
    }

    /// Copies what changed of one source file since the last pass; the bytes written.
    fn copy_file(
        &mut self,
        src: &File,
        name: &OsString,
        sealed: bool,
        is_log: bool,
    ) -> io::Result<u64> {
        let meta = src.metadata()?;
        let (ino, len) = (meta.ino(), meta.len());
        let dst_path = self.dst.join(name);
        let before = self.copied.get(name).copied();
        let same_file = before.is_some_and(|c| c.ino == ino);
        if same_file && before.is_some_and(|c| c.sealed && c.len == len) {
            return Ok(0);
        }
        let from = match before {
            Some(c)
                if same_file && is_log && c.len <= len && tails_match(src, &dst_path, c.len)? =>
            {
                c.len
            }
            _ => 0,
        };
        if from == len && same_file && before.is_some_and(|c| c.len == len) && is_log {
            self.copied
                .insert(name.clone(), Copied { ino, len, sealed });
            return Ok(0);
        }
        let written = copy_range(src, &dst_path, from, len)?;
        // A `.log` still being written may end in a preallocated zero tail
        // (`preallocate`) that appends overwrite in place, without changing the length:
        // the next pass resumes where the zeros begin, and only the bytes before them
        // count as copied (so the passes converge). The copy itself is whole.
        let (resume, counted) = if is_log && !sealed {
            let resume = preallocate::zero_tail_start(src, len)?;
            (resume, resume.saturating_sub(from))
        } else {
            (len, written)
        };
        self.copied.insert(
            name.clone(),
            Copied {
                ino,
                len: resume,
                sealed,
            },
        );
        self.dirty.insert(name.clone());
        Ok(counted)
    }

    /// fsyncs every file written since the last sync, then the directory (its names).
    pub fn sync(&mut self) -> io::Result<()> {
        for name in self.dirty.drain() {
            storage::open(self.dst.join(&name))?.sync_all()?;
        }
        storage::sync_dir(&self.dst)
    }
}

/// Whether the last bytes below `len` of `dst` equal the source's at the same place.
fn tails_match(src: &File, dst: &Path, len: u64) -> io::Result<bool> {
    let from = len.saturating_sub(TAIL_CHECK_BYTES);
    let n = (len - from) as usize;
    let mut a = vec![0u8; n];
    let mut b = vec![0u8; n];
    src.read_exact_at(&mut a, from)?;
    let dst = match storage::open(dst) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if dst.metadata()?.len() < len {
        return Ok(false);
    }
    dst.read_exact_at(&mut b, from)?;
    Ok(a == b)
}

/// Writes `src[from..len)` at the same place in `dst` (created if missing) and cuts
/// `dst` to `len`.
fn copy_range(src: &File, dst: &Path, from: u64, len: u64) -> io::Result<u64> {
    let out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dst)?;
    let mut buf = vec![0u8; CHUNK_BYTES.min((len - from) as usize).max(1)];
    let mut at = from;
    while at < len {
        let n = buf.len().min((len - at) as usize);
        src.read_exact_at(&mut buf[..n], at)?;
        out.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    out.set_len(len)?;
    Ok(len - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_preallocated_zero_tail_overwritten_in_place_is_copied_again() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let log = src.path().join(format!("{:020}.log", 0));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)
            .unwrap();
        // Data ending in a zero byte (as a record without headers does), then zeros.
        file.write_all_at(b"batch-1\0", 0).unwrap();
        preallocate::write_zeros(&file, 8, 100_000).unwrap();
        let mut copy = DirCopy::new(src.path(), dst.path());
        assert_eq!(copy.pass().unwrap(), 7, "the zeros do not count as copied");
        assert_eq!(files(dst.path()), files(src.path()));
        // An append overwrites zeros; the length stays.
        file.write_all_at(b"batch-2\0", 8).unwrap();
        assert!(copy.pass().unwrap() > 0);
        assert_eq!(files(dst.path()), files(src.path()));
        // Roll or close trims the zeros: the copy follows, data zeros included.
        file.set_len(16).unwrap();
        copy.pass().unwrap();
        assert_eq!(files(dst.path()), files(src.path()));
        assert_eq!(
            std::fs::read(dst.path().join(format!("{:020}.log", 0))).unwrap(),
            b"batch-1\0batch-2\0"
        );
    }

    #[test]
    fn passes_follow_appends_replacements_rewrites_and_deletions() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        let seg = |base: i64, ext: &str| s.join(format!("{base:020}.{ext}"));
        std::fs::write(seg(0, "log"), b"closed segment").unwrap();
        std::fs::write(seg(0, "index"), b"idx0").unwrap();
        std::fs::write(seg(14, "log"), b"active").unwrap();
        std::fs::write(seg(14, "index"), b"a").unwrap();
        std::fs::write(s.join("recovery-point.checkpoint"), b"1").unwrap();
        std::fs::write(s.join("x.tmp"), b"half").unwrap();
        let mut copy = DirCopy::new(s, dst.path());
        assert!(copy.pass().unwrap() > 0);
        let mut want = files(s);
        want.retain(|(n, _)| n != "x.tmp");
        assert_eq!(files(dst.path()), want);
        // Appends to the active segment, an index rewritten in place, the closed
        // segment replaced by the cleaner (a new inode), a checkpoint rewritten.
        let mut f = OpenOptions::new()
            .append(true)
            .open(seg(14, "log"))
            .unwrap();
        std::io::Write::write_all(&mut f, b" and more").unwrap();
        std::fs::write(seg(14, "index"), b"b").unwrap();
        std::fs::write(s.join("cleaned.tmp"), b"cleaned seg").unwrap();
        std::fs::rename(s.join("cleaned.tmp"), seg(0, "log")).unwrap();
        std::fs::write(s.join("recovery-point.checkpoint"), b"2").unwrap();
        // A tail cut back and written again differently.
        copy.pass().unwrap();
        let file = OpenOptions::new().write(true).open(seg(14, "log")).unwrap();
        file.set_len(3).unwrap();
        file.write_all_at(b"XYZ and MORE!", 3).unwrap();
        std::fs::remove_file(seg(0, "index")).unwrap();
        copy.pass().unwrap();
        copy.sync().unwrap();
        let mut want = files(s);
        want.retain(|(n, _)| n != "x.tmp");
        assert_eq!(files(dst.path()), want);
        // Nothing changed: a pass writes only the small mutable files again.
        let again = copy.pass().unwrap();
        assert_eq!(again, 1 + 1, "the active index and the checkpoint");
    }
}
