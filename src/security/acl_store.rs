//! The broker's ACLs on disk: one file, `<log.dirs>/acls` (layout in storage-format.md),
//! replaced as a whole on every change, exactly as the SCRAM credential store does:
//! written to `acls.tmp`, fsync'd, renamed over the old file, then the directory is
//! fsync'd, before the change is applied in memory and acknowledged. A crash leaves the
//! old file or the new one; a leftover `.tmp` is an unacknowledged change and is deleted
//! at start-up; a corrupt file stops start-up (silently losing DENY rules would open
//! the broker). It never decides anything about access.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// Through the log's storage seam, so an in-memory broker keeps its ACLs in memory.

use super::acl::{AclBinding, AclOperation, PatternType, PermissionType, ResourceType};

pub const FILE_NAME: &str = "acls";
const MAGIC: &[u8; 8] = b"SLACLS01";

pub struct AclFile {
    dir: PathBuf,
}

impl AclFile {
    /// Loads the ACLs kept in `dir` (a missing file is none), dropping a stale `.tmp`.
    pub fn open(dir: &Path) -> anyhow::Result<(AclFile, BTreeSet<AclBinding>)> {
        let path = dir.join(FILE_NAME);
        let acls = match crate::log::checkpoint::read_atomic(dir, FILE_NAME)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
        {
            Some(bytes) => decode(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is corrupt ({e}); refusing to start without the ACLs it holds",
                    path.display()
                )
            })?,
            None => BTreeSet::new(),
        };
        Ok((
            AclFile {
                dir: dir.to_path_buf(),
            },
            acls,
        ))
    }

    /// Replaces the file with `acls`, durably. Blocking.
    pub fn write(&self, acls: &BTreeSet<AclBinding>) -> std::io::Result<()> {
        // tmp + fsync + rename + directory fsync, as every small durable file.
        crate::log::checkpoint::write_atomic(&self.dir, FILE_NAME, &encode(acls))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names longer than a u16 cannot come from a request (the codec's strings are
    // i16-length), so truncation never happens.
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn encode(acls: &BTreeSet<AclBinding>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(acls.len() as u32).to_be_bytes());
    for a in acls {
        out.push(a.resource_type.code() as u8);
        out.push(a.pattern_type.code() as u8);
        out.push(a.operation.code() as u8);
        out.push(a.permission.code() as u8);
        put_str(&mut out, &a.resource_name);
        put_str(&mut out, &a.principal);
        put_str(&mut out, &a.host);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<BTreeSet<AclBinding>, String> {
    if bytes.len() < MAGIC.len() + 8 || &bytes[..8] != MAGIC {
        return Err("bad magic or too short".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_be_bytes(crc.try_into().unwrap()) {
        return Err("checksum mismatch".into());
    }
    let mut r = &body[8..];
    fn take<'a>(r: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if r.len() < n {
            return Err("truncated entry".into());
        }
        let (a, b) = r.split_at(n);
        *r = b;
        Ok(a)
    }
    fn string(r: &mut &[u8]) -> Result<String, String> {
        let n = u16::from_be_bytes(take(r, 2)?.try_into().unwrap()) as usize;
        String::from_utf8(take(r, n)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }
    let count = u32::from_be_bytes(take(&mut r, 4)?.try_into().unwrap());
    let mut acls = BTreeSet::new();
    for _ in 0..count {
        let codes = take(&mut r, 4)?;
        let acl = AclBinding {
            resource_type: ResourceType::from_code(codes[0] as i8),
            pattern_type: PatternType::from_code(codes[1] as i8),
            operation: AclOperation::from_code(codes[2] as i8),
            permission: PermissionType::from_code(codes[3] as i8),
            resource_name: string(&mut r)?,
            principal: string(&mut r)?,
            host: string(&mut r)?,
        };
        acl.validate()
            .map_err(|e| format!("invalid entry {acl}: {e}"))?;
        acls.insert(acl);
    }
    if !r.is_empty() {
        return Err("bytes after the last entry".into());
    }
    Ok(acls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeSet<AclBinding> {
        [
            AclBinding {
                resource_type: ResourceType::Topic,
                resource_name: "orders".into(),
                pattern_type: PatternType::Prefixed,
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Write,
                permission: PermissionType::Allow,
            },
            AclBinding {
                resource_type: ResourceType::Group,
                resource_name: "g".into(),
                pattern_type: PatternType::Literal,
                principal: "User:*".into(),
                host: "10.0.0.1".into(),
                operation: AclOperation::Read,
                permission: PermissionType::Deny,
            },
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn acls_survive_reopening_and_a_stale_tmp_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (f, acls) = AclFile::open(dir.path()).unwrap();
        assert!(acls.is_empty());
        f.write(&sample()).unwrap();
        std::fs::write(dir.path().join("acls.tmp"), b"half").unwrap();
        let (_, acls) = AclFile::open(dir.path()).unwrap();
        assert_eq!(acls, sample());
        assert!(!dir.path().join("acls.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let (f, _) = AclFile::open(dir.path()).unwrap();
        f.write(&sample()).unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut b = std::fs::read(&path).unwrap();
        b[20] ^= 1;
        std::fs::write(&path, b).unwrap();
        let e = AclFile::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("checksum"), "{e}");
    }
}
