//! Group commit for acks=all: appends to one partition share fdatasyncs, and with
//! `sluice.acks.all.concurrent.fsyncs` above 1 (the default is 1: see the setting for
//! what each costs) the next fdatasync may start while one is in flight, so a request
//! that arrives during an fsync waits for one fsync (its own) rather than the rest of
//! that one and then the next.
//!
//! Owns one partition's durable offset and the bookkeeping of its fsyncs in flight. It
//! never decides what to sync and never touches a file: `Partition::wait_durable` hands it
//! the `SyncHandle` it took under the log's lock and records the outcome under that lock.
//! A failed fsync is never retried here (the log went offline; see `crate::log::offline`).
//!
//! Why two fsyncs of one file may overlap safely: an fdatasync that returns Ok has written
//! everything written to the file before it began, including pages another fdatasync had
//! under writeback at the time (it waits for those), so the durable offset may move to
//! whichever finished fsync covers most, in any order.
//!
//! Cancellation: an fsync, once started, runs to its end on the blocking pool and records
//! its outcome even if the request that started it is dropped (its client went away), so
//! waiters counting on an fsync in flight never wait for one that nobody finishes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The most fdatasyncs of one partition in flight at once that the setting may ask for.
pub const MAX_CONCURRENT_FSYNCS: usize = 8;

pub struct GroupCommit {
    /// Everything below this offset is known to be fsync'd.
    durable_offset: AtomicI64,
    /// The highest offset covered by an fsync started so far (in flight or finished).
    syncing_to: AtomicI64,
    /// One permit per fsync that may be in flight.
    slots: Arc<Semaphore>,
    /// Woken whenever an fsync finishes, whatever its outcome.
    finished: Notify,
}

/// What a waiter should do next (see [`GroupCommit::next_step`]).
pub enum Step {
    /// Its data is durable.
    Durable,
    /// It must start an fsync, holding this slot until the fsync finishes.
    Sync(OwnedSemaphorePermit),
}

impl GroupCommit {
    pub fn new(durable_offset: i64, concurrent_fsyncs: usize) -> GroupCommit {
        let slots = concurrent_fsyncs.clamp(1, MAX_CONCURRENT_FSYNCS);
        GroupCommit {
            durable_offset: AtomicI64::new(durable_offset),
            syncing_to: AtomicI64::new(durable_offset),
            slots: Arc::new(Semaphore::new(slots)),
            finished: Notify::new(),
        }
    }

    pub fn durable_offset(&self) -> i64 {
        self.durable_offset.load(Ordering::Acquire)
    }

    /// Records that everything below `offset` is durable (never moves back), found so
    /// without an fsync of this module's (the log's recovery point). Wakes every waiter
    /// like a finished fsync: one that read the durable offset just before this and
    /// `syncing_to` just after would otherwise wait for an fsync nobody started.
    pub fn advance(&self, offset: i64) {
        self.durable_offset.fetch_max(offset, Ordering::AcqRel);
        self.syncing_to.fetch_max(offset, Ordering::AcqRel);
        self.finished.notify_waiters();
    }

    /// For a waiter needing every offset below `end_offset` durable: waits while an
    /// fsync in flight covers it, and returns once its data is durable, or once it must
    /// start an fsync itself and a slot is free (an fsync finishing meanwhile makes it
    /// decide again). `check` runs before every decision and ends the wait with its
    /// error (the partition went offline after a failed fsync).
    pub async fn next_step<E>(
        &self,
        end_offset: i64,
        check: impl Fn() -> Result<(), E>,
    ) -> Result<Step, E> {
        loop {
            // Registered before the checks, so an fsync finishing between a check and
            // the wait below still wakes this waiter.
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if self.durable_offset() >= end_offset {
                return Ok(Step::Durable);
            }
            check()?;
            if self.syncing_to.load(Ordering::Acquire) >= end_offset {
                finished.await;
                continue;
            }
            let permit = tokio::select! {
                permit = self.slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                () = &mut finished => continue,
            };
            // Another waiter may have started a covering fsync while this one waited.
            if self.durable_offset() >= end_offset {
                return Ok(Step::Durable);
            }
            if self.syncing_to.load(Ordering::Acquire) >= end_offset {
                continue;
            }
            check()?;
            return Ok(Step::Sync(permit));
        }
    }

    /// An fsync covering every offset below `offset` is about to start.
    pub fn started(&self, offset: i64) {
        self.syncing_to.fetch_max(offset, Ordering::AcqRel);
    }

    /// An fsync finished: `durable_up_to` is what it made durable (`None` when it
    /// failed). Wakes every waiter, whose next look decides for itself.
    pub fn finished(&self, durable_up_to: Option<i64>) {
        if let Some(offset) = durable_up_to {
            self.durable_offset.fetch_max(offset, Ordering::AcqRel);
        }
        self.finished.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Result<(), ()> {
        Ok(())
    }

    #[tokio::test]
    async fn a_waiter_covered_by_an_fsync_in_flight_waits_for_it_instead_of_starting_one() {
        let gc = GroupCommit::new(0, 2);
        let Ok(Step::Sync(first)) = gc.next_step(5, ok).await else {
            panic!("nothing in flight: start one")
        };
        gc.started(5);
        let covered = gc.next_step(3, ok);
        tokio::pin!(covered);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), &mut covered)
                .await
                .is_err(),
            "covered by the fsync in flight: waits for it, starts none"
        );
        // Data past what the first covers starts a second beside it (two slots).
        let Ok(Step::Sync(second)) = gc.next_step(7, ok).await else {
            panic!("not covered: start a second")
        };
        gc.started(7);
        // The second finishes first: both offsets are durable.
        gc.finished(Some(7));
        drop(second);
        assert!(matches!(gc.next_step(5, ok).await, Ok(Step::Durable)));
        gc.finished(Some(5));
        drop(first);
        assert_eq!(gc.durable_offset(), 7, "never moves back");
        assert!(matches!(covered.await, Ok(Step::Durable)));
    }

    #[tokio::test]
    async fn durability_found_without_an_fsync_wakes_the_waiters() {
        let gc = Arc::new(GroupCommit::new(0, 1));
        gc.started(5); // covered by an fsync that has not finished
        let waiter = {
            let gc = gc.clone();
            tokio::spawn(async move { matches!(gc.next_step(3, ok).await, Ok(Step::Durable)) })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "waits for the fsync in flight");
        gc.advance(5);
        let woken = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert!(woken.expect("advance wakes it").unwrap());
    }

    #[tokio::test]
    async fn with_every_slot_taken_a_waiter_waits_for_an_fsync_to_finish() {
        let gc = Arc::new(GroupCommit::new(0, 1));
        let Ok(Step::Sync(slot)) = gc.next_step(2, ok).await else {
            panic!("start one")
        };
        gc.started(2);
        let waiter = {
            let gc = gc.clone();
            tokio::spawn(async move {
                match gc.next_step(4, ok).await {
                    Ok(Step::Sync(_)) => "sync",
                    Ok(Step::Durable) => "durable",
                    Err(()) => "error",
                }
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "no slot free: it waits");
        gc.finished(Some(2));
        drop(slot);
        assert_eq!(waiter.await.unwrap(), "sync", "the slot came back");
    }

    #[tokio::test]
    async fn a_failed_fsync_wakes_its_waiters_and_the_check_ends_their_wait() {
        let gc = Arc::new(GroupCommit::new(0, 1));
        let offline = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let Ok(Step::Sync(slot)) = gc.next_step(2, ok).await else {
            panic!("start one")
        };
        gc.started(2);
        let waiter = {
            let (gc, offline) = (gc.clone(), offline.clone());
            tokio::spawn(async move {
                let check = || {
                    if offline.load(Ordering::Acquire) {
                        Err("offline")
                    } else {
                        Ok(())
                    }
                };
                match gc.next_step(2, check).await? {
                    Step::Durable => Ok(()),
                    Step::Sync(_) => Err("must not sync again after a failure"),
                }
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        offline.store(true, Ordering::Release);
        gc.finished(None);
        drop(slot);
        assert_eq!(waiter.await.unwrap(), Err("offline"));
        assert_eq!(gc.durable_offset(), 0);
    }
}
