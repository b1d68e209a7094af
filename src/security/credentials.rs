//! The broker's SCRAM users: what AlterUserScramCredentials writes and SCRAM
//! authentication reads.
//!
//! Kept in memory and in one file, `<log.dirs>/scram-credentials` (layout in
//! storage-format.md), replaced as a whole on every change: written to
//! `scram-credentials.tmp`, fsync'd, renamed over the old file, then the directory is
//! fsync'd, before the change is applied in memory and acknowledged. A crash leaves the
//! old file or the new one, never a mix; a leftover `.tmp` is an unacknowledged change
//! and is deleted at start-up. Only Kafka's salted keys are stored, never a password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

// Every file goes through the log's storage seam, so an in-memory broker keeps its
// users in its memory volume like every other file.

use super::scram::{ScramCredential, ScramMechanism};

pub const FILE_NAME: &str = "scram-credentials";
const MAGIC: &[u8; 8] = b"SLSCRAM1";
/// Bounds on what one stored field may hold (the codec already caps request sizes; these
/// keep a corrupt file from asking for huge allocations).
const MAX_FIELD: usize = u16::MAX as usize;

type Users = BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>;

/// One change of an AlterUserScramCredentials request.
#[derive(Clone, Debug)]
pub enum Alteration {
    Upsert {
        user: String,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    },
    Delete {
        user: String,
        mechanism: ScramMechanism,
    },
}

pub struct ScramCredentialStore {
    dir: PathBuf,
    /// Held across the file write, so two alterations are written one after the other
    /// and the file always matches memory.
    users: Mutex<Users>,
}

impl ScramCredentialStore {
    /// Loads the store from `dir` (the data directory). A missing file is no users.
    pub fn open(dir: &Path) -> anyhow::Result<ScramCredentialStore> {
        let path = dir.join(FILE_NAME);
        let users = match crate::log::checkpoint::read_atomic(dir, FILE_NAME)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
        {
            Some(bytes) => decode(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is corrupt ({e}); refusing to start without the SCRAM users it holds",
                    path.display()
                )
            })?,
            None => Users::new(),
        };
        Ok(ScramCredentialStore {
            dir: dir.to_path_buf(),
            users: Mutex::new(users),
        })
    }

    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.users.lock().get(user)?.get(&mechanism).cloned()
    }

    /// Every user with their mechanisms and iteration counts, sorted by name.
    pub fn describe(&self) -> Vec<(String, Vec<(ScramMechanism, i32)>)> {
        self.users
            .lock()
            .iter()
            .map(|(u, m)| {
                (
                    u.clone(),
                    m.iter().map(|(m, c)| (*m, c.iterations)).collect(),
                )
            })
            .collect()
    }

    pub fn user_exists(&self, user: &str) -> bool {
        self.users.lock().contains_key(user)
    }

    pub fn has(&self, user: &str, mechanism: ScramMechanism) -> bool {
        self.users
            .lock()
            .get(user)
            .is_some_and(|m| m.contains_key(&mechanism))
    }

    /// Applies the changes durably (file written and fsync'd first, then memory).
    /// Blocking: call from a blocking context.
    pub fn alter(&self, changes: &[Alteration]) -> std::io::Result<()> {
        let mut users = self.users.lock();
        let mut next = users.clone();
        for change in changes {
            match change {
                Alteration::Upsert {
                    user,
                    mechanism,
                    credential,
                } => {
                    next.entry(user.clone())
                        .or_default()
                        .insert(*mechanism, credential.clone());
                }
                Alteration::Delete { user, mechanism } => {
                    if let Some(m) = next.get_mut(user) {
                        m.remove(mechanism);
                        if m.is_empty() {
                            next.remove(user);
                        }
                    }
                }
            }
        }
        self.write(&next)?;
        *users = next;
        Ok(())
    }

    fn write(&self, users: &Users) -> std::io::Result<()> {
        // tmp + fsync + rename + directory fsync, as every small durable file.
        crate::log::checkpoint::write_atomic(&self.dir, FILE_NAME, &encode(users))
    }
}

fn put_field(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn encode(users: &Users) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    let count: usize = users.values().map(|m| m.len()).sum();
    out.extend_from_slice(&(count as u32).to_be_bytes());
    for (user, mechanisms) in users {
        for (m, c) in mechanisms {
            put_field(&mut out, user.as_bytes());
            out.push(m.type_code() as u8);
            out.extend_from_slice(&c.iterations.to_be_bytes());
            put_field(&mut out, &c.salt);
            put_field(&mut out, &c.stored_key);
            put_field(&mut out, &c.server_key);
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<Users, String> {
    if bytes.len() < MAGIC.len() + 8 || &bytes[..8] != MAGIC {
        return Err("bad magic or too short".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_be_bytes(crc.try_into().unwrap()) {
        return Err("checksum mismatch".into());
    }
    let mut r = &body[8..];
    let take = |r: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if r.len() < n {
            return Err("truncated entry".into());
        }
        let (a, b) = r.split_at(n);
        *r = b;
        Ok(a.to_vec())
    };
    let field = |r: &mut &[u8]| -> Result<Vec<u8>, String> {
        let n = u16::from_be_bytes(take(r, 2)?.try_into().unwrap()) as usize;
        debug_assert!(n <= MAX_FIELD);
        take(r, n)
    };
    let count = u32::from_be_bytes(take(&mut r, 4)?.try_into().unwrap());
    let mut users = Users::new();
    for _ in 0..count {
        let user = String::from_utf8(field(&mut r)?).map_err(|_| "user name is not UTF-8")?;
        let code = take(&mut r, 1)?[0] as i8;
        let mechanism =
            ScramMechanism::from_type_code(code).ok_or(format!("unknown mechanism {code}"))?;
        let iterations = i32::from_be_bytes(take(&mut r, 4)?.try_into().unwrap());
        let salt = field(&mut r)?;
        let stored_key = field(&mut r)?;
        let server_key = field(&mut r)?;
        users.entry(user).or_default().insert(
            mechanism,
            ScramCredential {
                salt,
                stored_key,
                server_key,
                iterations,
            },
        );
    }
    if !r.is_empty() {
        return Err("bytes after the last entry".into());
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(i: i32) -> ScramCredential {
        ScramCredential {
            salt: vec![1, 2, 3],
            stored_key: vec![4; 32],
            server_key: vec![5; 32],
            iterations: i,
        }
    }

    #[test]
    fn changes_survive_reopening_and_a_stale_tmp_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = ScramCredentialStore::open(dir.path()).unwrap();
        s.alter(&[
            Alteration::Upsert {
                user: "alice".into(),
                mechanism: ScramMechanism::Sha256,
                credential: cred(4096),
            },
            Alteration::Upsert {
                user: "alice".into(),
                mechanism: ScramMechanism::Sha512,
                credential: cred(8192),
            },
            Alteration::Upsert {
                user: "bob".into(),
                mechanism: ScramMechanism::Sha256,
                credential: cred(4096),
            },
        ])
        .unwrap();
        s.alter(&[Alteration::Delete {
            user: "bob".into(),
            mechanism: ScramMechanism::Sha256,
        }])
        .unwrap();
        std::fs::write(dir.path().join("scram-credentials.tmp"), b"half").unwrap();
        let s = ScramCredentialStore::open(dir.path()).unwrap();
        assert_eq!(s.get("alice", ScramMechanism::Sha512), Some(cred(8192)));
        assert!(!s.user_exists("bob"));
        assert_eq!(s.describe().len(), 1);
        assert!(!dir.path().join("scram-credentials.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let s = ScramCredentialStore::open(dir.path()).unwrap();
        s.alter(&[Alteration::Upsert {
            user: "a".into(),
            mechanism: ScramMechanism::Sha256,
            credential: cred(4096),
        }])
        .unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut b = std::fs::read(&path).unwrap();
        b[14] ^= 1;
        std::fs::write(&path, b).unwrap();
        let e = ScramCredentialStore::open(dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("checksum"), "{e}");
    }
}
