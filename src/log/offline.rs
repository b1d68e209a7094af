//! The offline rule for a partition log (storage-format.md, "What Sluice assumes of the
//! disk"): once a write, fsync, msync, rename or unlink that the log's durability depends
//! on has failed, the log is **offline** until the process exits. It refuses appends,
//! reads and syncs, and writes nothing more (no checkpoint, no clean-shutdown marker), so
//! the next start recovers it from what is really on the disk.
//!
//! The reason is PostgreSQL's and Kafka's "fsyncgate" lesson: after a failed fsync the
//! kernel may have dropped the dirty pages and cleared the error, so a second fsync
//! succeeds while the data is gone. Retrying can therefore never prove anything durable.
//!
//! [`OfflineState`] is shared by a `PartitionLog` and every `SyncHandle` it hands out,
//! because group commit fsyncs outside the partition lock. It never knows topic names;
//! whoever does logs the transition once ([`OfflineState::take_report`]).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

/// Whether a partition log is offline, and why. Set once, never cleared.
#[derive(Debug, Default)]
pub struct OfflineState {
    /// What failed, e.g. "fdatasync of a .log failed: Input/output error (os error 5)".
    reason: OnceLock<String>,
    /// The transition was logged (see [`OfflineState::take_report`]).
    reported: AtomicBool,
    /// Held around every fdatasync of the `.log` files and the decision to go offline, so
    /// no sync can start after a failed one has returned and before the flag is set (two
    /// syncs of one file descriptor racing would let the second consume nothing and
    /// "succeed").
    sync_gate: Mutex<()>,
    /// Test seam: the next sync of a `SyncHandle` fails with EIO instead of syncing.
    #[cfg(test)]
    fail_next_sync: AtomicBool,
}

/// The error inside every `io::Error` an offline log returns: the failure that took it
/// offline (with the original error kind), or a refusal afterwards (`ErrorKind::Other`).
#[derive(Debug)]
pub struct LogOffline {
    reason: String,
    /// This error is the failure itself, not a later refusal.
    first: bool,
}

impl std::fmt::Display for LogOffline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first {
            write!(
                f,
                "{}; the partition is offline until the broker restarts",
                self.reason
            )
        } else {
            write!(
                f,
                "the partition is offline since {}; it stays offline until the broker restarts",
                self.reason
            )
        }
    }
}

impl std::error::Error for LogOffline {}

/// Whether `e` came from an offline log (the failure that took it offline, or a refusal).
pub fn is_offline_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<LogOffline>())
}

impl OfflineState {
    pub fn is_offline(&self) -> bool {
        self.reason.get().is_some()
    }

    /// `Err` (a refusal) once the log is offline.
    pub fn check(&self) -> io::Result<()> {
        match self.reason.get() {
            None => Ok(()),
            Some(reason) => Err(io::Error::other(LogOffline {
                reason: reason.clone(),
                first: false,
            })),
        }
    }

    /// Takes the log offline because `what` failed with `e` (the first failure wins;
    /// later ones change nothing) and returns the error to hand to the caller. An error
    /// that already came from this rule is returned as it is.
    pub fn fail(&self, what: &str, e: io::Error) -> io::Error {
        if is_offline_error(&e) {
            return e;
        }
        let reason = format!("{what} failed: {e}");
        let _ = self.reason.set(reason.clone());
        io::Error::new(
            e.kind(),
            LogOffline {
                reason,
                first: true,
            },
        )
    }

    /// Fences the log for good without anything having failed: its topic was deleted,
    /// so nothing may be written through its directory's path any more (a topic
    /// created again under the same name gets a new directory there). Not reported as
    /// a failure. Waits for a sync in flight to finish first.
    pub fn retire(&self, reason: &str) {
        let _gate = self.sync_gate.lock();
        let _ = self.reason.set(reason.to_string());
        self.reported.store(true, Ordering::Release);
    }

    /// The reason, the first time this is called after the log went offline; `None`
    /// before that and ever after. Lets the layer that knows the topic and partition log
    /// the transition exactly once, whichever path caused it.
    pub fn take_report(&self) -> Option<&str> {
        let reason = self.reason.get()?;
        (!self.reported.swap(true, Ordering::AcqRel)).then_some(reason.as_str())
    }

    /// Runs `sync` (fdatasyncs of `.log` files) under the sync gate: refused when the log
    /// is offline, and taking it offline when `sync` fails.
    pub(crate) fn guarded_sync(
        &self,
        what: &str,
        sync: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        let _gate = self.sync_gate.lock();
        self.check()?;
        #[cfg(test)]
        if self.fail_next_sync.swap(false, Ordering::AcqRel) {
            return Err(self.fail(what, io::Error::from_raw_os_error(libc::EIO)));
        }
        sync().map_err(|e| self.fail(what, e))
    }

    /// Test seam: makes the next [`OfflineState::guarded_sync`] fail with EIO (without
    /// syncing), as a disk that lost the write-back would.
    #[cfg(test)]
    pub fn fail_next_sync(&self) {
        self.fail_next_sync.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_once_reported_once_and_refusals_name_the_first_failure() {
        let s = OfflineState::default();
        assert!(s.check().is_ok());
        assert_eq!(s.take_report(), None);
        let e = s.fail("fdatasync", io::Error::from_raw_os_error(libc::EIO));
        assert!(is_offline_error(&e));
        assert_eq!(e.raw_os_error(), None);
        assert_eq!(e.kind(), io::Error::from_raw_os_error(libc::EIO).kind());
        // A second failure does not replace the first reason.
        s.fail("rename", io::Error::other("later"));
        let refusal = s.check().unwrap_err();
        assert!(is_offline_error(&refusal));
        assert!(
            refusal.to_string().contains("fdatasync failed"),
            "{refusal}"
        );
        assert!(s.take_report().unwrap().starts_with("fdatasync failed"));
        assert_eq!(s.take_report(), None);
        // Wrapping an offline error again keeps it as it is.
        let again = s.fail("close", refusal);
        assert!(again.to_string().contains("fdatasync failed"), "{again}");
    }

    #[test]
    fn a_failed_sync_is_never_retried() {
        let s = OfflineState::default();
        s.fail_next_sync();
        assert!(s.guarded_sync("fdatasync", || Ok(())).is_err());
        let mut ran = false;
        let r = s.guarded_sync("fdatasync", || {
            ran = true;
            Ok(())
        });
        assert!(r.is_err() && !ran, "a sync ran after a failed one");
        assert!(s.is_offline());
    }
}
