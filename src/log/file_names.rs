//! Every name the storage engine gives a file in a partition directory, and the one
//! parser of segment file names. storage-format.md describes what each file holds.
//!
//! Kept in one place so recovery, the cleaner's swap protocol, the producer-state
//! snapshots and the CLI's `dump-log` cannot disagree about a name, and so no module
//! has to import another only to spell a file name (which used to tie `segment`,
//! `cleaner::swap` and `producer_state` together). It must never touch the disk.

use std::path::{Path, PathBuf};

/// A segment's record batches: `<base>.log`.
pub const LOG_EXT: &str = "log";
/// A segment's sparse offset index: `<base>.index`.
pub const OFFSET_INDEX_EXT: &str = "index";
/// A segment's sparse time index: `<base>.timeindex`.
pub const TIME_INDEX_EXT: &str = "timeindex";
/// A segment's aborted-transaction index: `<base>.txnindex`.
pub const TXN_INDEX_EXT: &str = "txnindex";
/// The index files of a segment, in the order the cleaner's swap renames them (before
/// the `.log`, whose `.swap` is the commit point).
pub const INDEX_EXTS: [&str; 3] = [OFFSET_INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT];
/// Producer state at an offset: `<offset>.snapshot`.
pub const SNAPSHOT_EXT: &str = "snapshot";

/// A cleaned copy of a segment file waiting to be swapped in: `<base>.<ext>.cleaned`.
pub const CLEANED_SUFFIX: &str = "cleaned";
/// A cleaned file being swapped in: `<base>.<ext>.swap`.
pub const SWAP_SUFFIX: &str = "swap";
/// A file being written before its atomic rename: `<name>.tmp`. Recovery deletes them.
pub const TMP_SUFFIX: &str = "tmp";

/// The recovery point and log start offset of a partition.
pub const RECOVERY_CHECKPOINT: &str = "recovery-point.checkpoint";
/// Present only while the partition is cleanly closed.
pub const CLEAN_SHUTDOWN_MARKER: &str = "clean-shutdown.marker";
/// How far the log cleaner has compacted.
pub const CLEANER_CHECKPOINT: &str = "cleaner-offset.checkpoint";
/// In a log directory (not a partition's): the logs a batched clean shutdown closed.
pub const LOG_DIR_CLEAN_SHUTDOWN: &str = "clean-shutdown.logs";
/// In a partition directory: the generation of `clean-shutdown.logs` whose entry for this
/// log no longer holds (the log was opened since).
pub const CLEAN_SHUTDOWN_TAKEN: &str = "clean-shutdown.taken";

/// Every file a log opened on an empty directory may have made before any append
/// (segment 0, its producer-state snapshot, the checkpoints and their temporary
/// copies): what must be unlinked, by name, to remove a partition whose creation
/// failed when no descriptor is left to list its directory.
pub fn new_partition_file_names() -> Vec<String> {
    let mut names: Vec<String> = [
        LOG_EXT,
        OFFSET_INDEX_EXT,
        TIME_INDEX_EXT,
        TXN_INDEX_EXT,
        SNAPSHOT_EXT,
    ]
    .iter()
    .map(|ext| segment_file_name(0, ext))
    .chain(
        [
            RECOVERY_CHECKPOINT,
            CLEAN_SHUTDOWN_MARKER,
            CLEANER_CHECKPOINT,
        ]
        .map(String::from),
    )
    .collect();
    let tmp: Vec<String> = names.iter().map(|n| format!("{n}.{TMP_SUFFIX}")).collect();
    names.extend(tmp);
    names
}

/// `00000000000000000042.log` etc.: 20 digits so names sort like offsets.
pub fn segment_file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// `dir/<base>.<ext>`.
pub fn segment_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(segment_file_name(base_offset, ext))
}

/// `dir/<base>.<ext>.<suffix>`, e.g. `00000000000000000042.log.cleaned`.
pub fn suffixed_path(dir: &Path, base_offset: i64, ext: &str, suffix: &str) -> PathBuf {
    dir.join(format!("{}.{suffix}", segment_file_name(base_offset, ext)))
}

/// Splits `00000000000000000042.log` (or `....log.swap`) into the base offset and the
/// rest of the name after the first dot; `None` for any other name.
pub fn parse_segment_name(name: &str) -> Option<(i64, &str)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        assert_eq!(segment_file_name(42, LOG_EXT), "00000000000000000042.log");
        assert_eq!(
            parse_segment_name("00000000000000000042.timeindex"),
            Some((42, TIME_INDEX_EXT))
        );
        assert_eq!(
            parse_segment_name("00000000000000000042.log.swap"),
            Some((42, "log.swap"))
        );
        assert_eq!(parse_segment_name("42.log"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.log"), None);
        assert_eq!(parse_segment_name(RECOVERY_CHECKPOINT), None);
        let p = suffixed_path(Path::new("/d"), 7, LOG_EXT, CLEANED_SUFFIX);
        assert_eq!(p, Path::new("/d/00000000000000000007.log.cleaned"));
    }
}
