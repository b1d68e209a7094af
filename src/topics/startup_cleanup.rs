//! What start-up removes from a log directory before any partition is served: the
//! directories of deleted topics (renamed `...-delete` by DeleteTopics, unlinked here if
//! the deletion did not finish) and the directories of partitions whose creation never
//! reached its commit point (the topic file). Removing these is the start-up half of
//! atomic topic deletion and creation; `super::registry` holds the other half.
//!
//! It never opens a partition log and never removes a directory that holds records
//! without a topic file for it: that does not fit either story, so it is left for a
//! person to look at.

use std::collections::HashMap;
use std::path::Path;

use super::name as topic_name;
use super::store::{self as topic_store, TopicRecord, DELETE_SUFFIX};
use crate::log::storage;

/// Start-up half of atomic creation: a partition directory that no topic file covers
/// (`<topic>-<p>` with no topic of that name, or `p` at or past its partition count)
/// was made by a CreateTopics or CreatePartitions that never reached its commit point
/// (a crash, or a removal that failed). It holds no data, since no produce can reach a
/// partition before its topic is committed, and is removed. One that does hold data
/// does not fit that story (a lost topic file?): it is left alone, with an error line,
/// rather than deleted on a guess.
pub(super) fn remove_uncommitted_partition_dirs(data_dir: &Path, records: &[TopicRecord]) {
    let counts: HashMap<&str, i32> = records
        .iter()
        .map(|r| (r.name.as_str(), r.partitions))
        .collect();
    let Ok(entries) = storage::read_dir(data_dir) else {
        return;
    };
    let mut removed = false;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some((topic, index)) = name.rsplit_once('-') else {
            continue;
        };
        let Ok(index) = index.parse::<i32>() else {
            continue;
        };
        if !entry.is_dir() || topic_name::validate(topic).is_err() {
            continue;
        }
        if counts.get(topic).is_some_and(|&n| index < n) {
            continue;
        }
        if holds_records(&path) {
            tracing::error!(dir = %path.display(), "partition directory with records but no topic file (its topic was deleted just before a crash, or the topic file was lost): not opened and left alone; remove it by hand once it is not needed");
            continue;
        }
        match storage::remove_dir_all(&path) {
            Ok(()) => {
                removed = true;
                tracing::info!(dir = %path.display(), "removed the directory of a partition whose creation never completed");
            }
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove an uncommitted partition directory")
            }
        }
    }
    if removed {
        let _ = topic_store::sync_dir(data_dir);
    }
}

/// Whether a partition directory has any non-empty `.log` segment.
fn holds_records(dir: &Path) -> bool {
    let Ok(entries) = storage::read_dir(dir) else {
        return true; // cannot tell: keep it
    };
    entries.flatten().any(|e| {
        let p = e.path();
        p.extension()
            .is_some_and(|x| x == crate::log::file_names::LOG_EXT)
            && storage::metadata(&p).map_or(true, |m| !m.is_empty())
    })
}

pub(super) fn remove_deleted_dirs(data_dir: &Path) {
    let Ok(entries) = storage::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.is_dir()
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(DELETE_SUFFIX))
        {
            if let Err(e) = storage::remove_dir_all(&path) {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove deleted partition directory");
            }
        }
    }
}
