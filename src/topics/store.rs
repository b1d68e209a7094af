//! The broker's own small metadata files in the data directory: `meta.properties`
//! (cluster id, node id) and one `topics/<topic id>.topic` file per topic (name,
//! partition count, config overrides). Files are named by topic id, not name, so a
//! 249-character topic name (Kafka's limit) still fits a 255-byte file name. The byte formats are in storage-format.md.
//!
//! Every write goes to a temporary file that is fsync'd and renamed over the old one,
//! and the directory is fsync'd, so a crash leaves the old or the new file, never a
//! torn one. Every file goes through `crate::log::storage`, so the same code keeps them
//! in memory for a broker that has no data directory. This module never opens
//! partition logs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::log::storage;

pub const META_PROPERTIES: &str = "meta.properties";
pub const TOPICS_DIR: &str = "topics";
pub const TOPIC_FILE_SUFFIX: &str = ".topic";
/// Suffix of a partition directory whose topic is being deleted.
pub const DELETE_SUFFIX: &str = "-delete";

/// What `topics/<topic id>.topic` holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TopicRecord {
    /// Format version of this file; 1.
    pub version: u32,
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: i32,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// Reads `meta.properties`, creating it with a fresh cluster id on first start.
/// Returns the cluster id. A node id that differs from the configured one is an error,
/// as in Kafka: the data directory belongs to another broker.
pub fn load_or_create_meta(data_dir: &Path, node_id: i32) -> Result<String> {
    load_or_create_meta_with(data_dir, node_id, new_cluster_id)
}

/// The `meta.properties` of a log directory after the first (`log.dirs`): created with
/// the first directory's cluster id, and checked against it at every start, as Kafka
/// checks every directory's, so a directory of another cluster or node is never mixed
/// in.
pub fn check_or_create_log_dir_meta(dir: &Path, node_id: i32, cluster_id: &str) -> Result<()> {
    let found = load_or_create_meta_with(dir, node_id, || cluster_id.to_string())?;
    if found != cluster_id {
        bail!(
            "{} belongs to cluster {found}, but the first log directory to cluster {cluster_id}",
            dir.join(META_PROPERTIES).display()
        );
    }
    Ok(())
}

fn load_or_create_meta_with(
    data_dir: &Path,
    node_id: i32,
    new_cluster_id: impl FnOnce() -> String,
) -> Result<String> {
    let path = data_dir.join(META_PROPERTIES);
    if storage::exists(&path) {
        let text = storage::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut cluster_id = None;
        let mut stored_node = None;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                match k.trim() {
                    "cluster.id" => cluster_id = Some(v.trim().to_string()),
                    "node.id" => stored_node = v.trim().parse::<i32>().ok(),
                    _ => {}
                }
            }
        }
        let Some(cluster_id) = cluster_id else {
            bail!("{} has no cluster.id", path.display());
        };
        if let Some(stored) = stored_node {
            if stored != node_id {
                bail!(
                    "{} belongs to node.id {stored}, but this broker is node.id {node_id}",
                    path.display()
                );
            }
        }
        return Ok(cluster_id);
    }
    let cluster_id = new_cluster_id();
    let text = format!(
        "#Written by Sluice on first start; do not edit.\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"
    );
    write_atomically(&path, text.as_bytes())?;
    Ok(cluster_id)
}

/// Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding (22 chars).
fn new_cluster_id() -> String {
    base64_url(Uuid::new_v4().as_bytes())
}

/// URL-safe base64 without padding, as Kafka prints topic and cluster ids.
pub fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

pub fn topic_file(data_dir: &Path, topic_id: &Uuid) -> PathBuf {
    data_dir
        .join(TOPICS_DIR)
        .join(format!("{}{TOPIC_FILE_SUFFIX}", topic_id.simple()))
}

/// Writes a topic's file: the commit point of CreateTopics and CreatePartitions. The
/// data directory is fsync'd first, so the partition directories the caller created
/// (and `topics/` itself, on first use) are durable names before the topic that needs
/// them is.
pub fn write_topic(data_dir: &Path, record: &TopicRecord) -> Result<()> {
    let dir = data_dir.join(TOPICS_DIR);
    storage::create_dir_all(&dir)?;
    sync_dir(data_dir).with_context(|| format!("fsyncing {}", data_dir.display()))?;
    let text = toml::to_string(record)?;
    write_atomically(&topic_file(data_dir, &record.topic_id), text.as_bytes())
}

pub fn remove_topic(data_dir: &Path, topic_id: &Uuid) -> Result<()> {
    let path = topic_file(data_dir, topic_id);
    storage::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    sync_dir(&data_dir.join(TOPICS_DIR))
}

/// Every topic file in the data directory. A file that does not parse is an error:
/// guessing a topic's partition count could hide data.
pub fn read_topics(data_dir: &Path) -> Result<Vec<TopicRecord>> {
    let dir = data_dir.join(TOPICS_DIR);
    let mut out = Vec::new();
    let entries = match storage::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".tmp") {
            // A write that did not reach its rename: the old file (if any) is intact.
            let _ = storage::remove_file(&path);
            continue;
        }
        if !name.ends_with(TOPIC_FILE_SUFFIX) {
            continue;
        }
        let text = storage::read_to_string(&path)?;
        let record: TopicRecord =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        out.push(record);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `<data_dir>/<topic>-<partition>`
pub fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

/// `<data_dir>/<topic>-<partition>.<topic id>-delete`, the name a partition directory
/// takes while its topic is being deleted. Like Kafka, the topic name is cut short so
/// the whole name stays within 255 bytes.
pub fn deleted_partition_dir(
    data_dir: &Path,
    topic: &str,
    partition: i32,
    topic_id: &Uuid,
) -> PathBuf {
    let suffix = format!("-{partition}.{}{DELETE_SUFFIX}", topic_id.simple());
    let keep = topic.len().min(255 - suffix.len());
    data_dir.join(format!("{}{suffix}", &topic[..keep]))
}

/// Suffix of a partition directory being filled by AlterReplicaLogDirs in its new log
/// directory (Kafka's future replica).
pub const FUTURE_SUFFIX: &str = "-future";

/// `<log dir>/<topic>-<partition>.<topic id>-future`: where a partition moving into
/// `log_dir` is copied before it takes the plain name. Cut short like
/// [`deleted_partition_dir`]. Named by topic id so that a copy left by a topic deleted
/// (and created again) mid-move can never be taken for the new topic's.
pub fn future_partition_dir(
    log_dir: &Path,
    topic: &str,
    partition: i32,
    topic_id: &Uuid,
) -> PathBuf {
    let suffix = format!("-{partition}.{}{FUTURE_SUFFIX}", topic_id.simple());
    let keep = topic.len().min(255 - suffix.len());
    log_dir.join(format!("{}{suffix}", &topic[..keep]))
}

/// Removes the directory of a partition whose creation failed (before its topic file
/// was written). When the process is out of descriptors (EMFILE, ENFILE: often why the
/// creation failed) the directory cannot be listed, so the files a new partition may
/// have are unlinked by name and the then empty directory removed, which needs no
/// descriptor. A directory missing already is not an error.
pub fn remove_new_partition_dir(dir: &Path) -> std::io::Result<()> {
    let out_of_descriptors =
        |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE));
    let ignore_missing = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    };
    match ignore_missing(storage::remove_dir_all(dir)) {
        Err(e) if out_of_descriptors(&e) => {
            for name in crate::log::file_names::new_partition_file_names() {
                ignore_missing(storage::remove_file(dir.join(name)))?;
            }
            ignore_missing(storage::remove_dir(dir))
        }
        r => r,
    }
}

/// The count of metadata changes (topic created, deleted, grown or reconfigured) this
/// data directory has seen: DescribeQuorum's high watermark, since Sluice keeps no
/// metadata log. Decimal text; missing means 0.
pub const METADATA_CHANGES: &str = "metadata.changes";

pub fn read_metadata_changes(data_dir: &Path) -> Result<i64> {
    let path = data_dir.join(METADATA_CHANGES);
    match storage::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} does not hold a number", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub fn write_metadata_changes(data_dir: &Path, count: i64) -> Result<()> {
    write_atomically(
        &data_dir.join(METADATA_CHANGES),
        count.to_string().as_bytes(),
    )
}

pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut f = storage::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    storage::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    storage::sync_dir(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_legal_names_fit_in_file_names() {
        let name = "n".repeat(249);
        let id = Uuid::new_v4();
        let deleted = deleted_partition_dir(Path::new("/d"), &name, 99999, &id);
        assert!(deleted.file_name().unwrap().len() <= 255);
        assert!(topic_file(Path::new("/d"), &id).file_name().unwrap().len() < 64);
    }

    #[test]
    fn base64_matches_kafka_style() {
        assert_eq!(base64_url(&[0u8; 16]).len(), 22);
        assert_eq!(base64_url(b"\xfb\xff"), "-_8");
    }

    #[test]
    fn topic_file_round_trip_and_meta_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let mut configs = BTreeMap::new();
        configs.insert("retention.ms".to_string(), "1000".to_string());
        let rec = TopicRecord {
            version: 1,
            name: "orders".into(),
            topic_id: Uuid::new_v4(),
            partitions: 3,
            configs,
        };
        write_topic(dir.path(), &rec).unwrap();
        assert_eq!(read_topics(dir.path()).unwrap(), vec![rec]);
        let a = load_or_create_meta(dir.path(), 1).unwrap();
        let b = load_or_create_meta(dir.path(), 1).unwrap();
        assert_eq!(a, b);
        assert!(load_or_create_meta(dir.path(), 2).is_err());
    }
}
