//! The client quotas on disk: one file, `<log.dirs>/client-quotas` (layout in
//! storage-format.md), replaced as a whole on every change through
//! `log::checkpoint::write_atomic` (tmp, fsync, rename, directory fsync) before the
//! change is applied in memory and acknowledged, as the ACL and SCRAM stores do. A
//! corrupt file stops start-up rather than silently lifting every quota. It never
//! decides what a quota means.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::entity::{QuotaEntity, QuotaKey};

pub const FILE_NAME: &str = "client-quotas";
const MAGIC: &[u8; 8] = b"SLQUOT01";

/// Every configured entity with its values.
pub type Quotas = BTreeMap<QuotaEntity, BTreeMap<QuotaKey, f64>>;

pub struct QuotaFile {
    dir: PathBuf,
}

impl QuotaFile {
    /// Loads the quotas kept in `dir` (a missing file is none), dropping a stale `.tmp`.
    pub fn open(dir: &Path) -> anyhow::Result<(QuotaFile, Quotas)> {
        let path = dir.join(FILE_NAME);
        let quotas = match crate::log::checkpoint::read_atomic(dir, FILE_NAME)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
        {
            Some(bytes) => decode(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is corrupt ({e}); refusing to start without the client quotas it holds",
                    path.display()
                )
            })?,
            None => Quotas::new(),
        };
        Ok((
            QuotaFile {
                dir: dir.to_path_buf(),
            },
            quotas,
        ))
    }

    /// Replaces the file with `quotas`, durably. Blocking.
    pub fn write(&self, quotas: &Quotas) -> std::io::Result<()> {
        crate::log::checkpoint::write_atomic(&self.dir, FILE_NAME, &encode(quotas))
    }
}

fn put_name(out: &mut Vec<u8>, name: &Option<Option<String>>) {
    // 0: not part of the entity, 1: <default>, 2: a name follows.
    match name {
        None => out.push(0),
        Some(None) => out.push(1),
        Some(Some(s)) => {
            out.push(2);
            // Names come from i16-length wire strings: they always fit.
            let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

fn encode(quotas: &Quotas) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(quotas.len() as u32).to_be_bytes());
    for (entity, values) in quotas {
        put_name(&mut out, &entity.user);
        put_name(&mut out, &entity.client_id);
        out.push(values.len() as u8);
        for (key, value) in values {
            out.push(key.code());
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<Quotas, String> {
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
    fn name(r: &mut &[u8]) -> Result<Option<Option<String>>, String> {
        match take(r, 1)?[0] {
            0 => Ok(None),
            1 => Ok(Some(None)),
            2 => {
                let n = u16::from_be_bytes(take(r, 2)?.try_into().unwrap()) as usize;
                let s = String::from_utf8(take(r, n)?.to_vec())
                    .map_err(|_| "a name is not UTF-8".to_string())?;
                Ok(Some(Some(s)))
            }
            other => Err(format!("bad entity name tag {other}")),
        }
    }
    let count = u32::from_be_bytes(take(&mut r, 4)?.try_into().unwrap());
    let mut quotas = Quotas::new();
    for _ in 0..count {
        let entity = QuotaEntity {
            user: name(&mut r)?,
            client_id: name(&mut r)?,
        };
        if entity.user.is_none() && entity.client_id.is_none() {
            return Err("an entity with no user and no client-id".into());
        }
        let n = take(&mut r, 1)?[0];
        let mut values = BTreeMap::new();
        for _ in 0..n {
            let code = take(&mut r, 1)?[0];
            let key = QuotaKey::from_code(code).ok_or(format!("unknown quota key {code}"))?;
            let value = f64::from_be_bytes(take(&mut r, 8)?.try_into().unwrap());
            key.validate(value)
                .map_err(|e| format!("entity {entity}: {e}"))?;
            values.insert(key, value);
        }
        quotas.insert(entity, values);
    }
    if !r.is_empty() {
        return Err("bytes after the last entry".into());
    }
    Ok(quotas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_round_trip_and_corruption_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (file, empty) = QuotaFile::open(dir.path()).unwrap();
        assert!(empty.is_empty());
        let mut q = Quotas::new();
        q.entry(QuotaEntity::user_client(Some("alice"), None))
            .or_default()
            .insert(QuotaKey::ProducerByteRate, 1024.0);
        q.entry(QuotaEntity::client(None))
            .or_default()
            .insert(QuotaKey::RequestPercentage, 12.5);
        file.write(&q).unwrap();
        let (_, back) = QuotaFile::open(dir.path()).unwrap();
        assert_eq!(back, q);
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert!(QuotaFile::open(dir.path()).is_err());
    }
}
