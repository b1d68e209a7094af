//! The log's budget of open descriptors and memory maps (`sluice.log.max.open.files`,
//! `sluice.log.max.mmaps`): counts what the segments hold and closes the least recently
//! used closed segments' files when a budget is exceeded.
//!
//! Every descriptor and map the segments create is counted through a [`Held`] token
//! that gives its unit back when dropped, so the counts are exact, including maps
//! that only a fetch's `Bytes` still keep alive. A closed (non-active) segment keeps
//! its mapped files in a [`Slot`]: opened on first use, registered here, and closed
//! again when the budget needs room. Closing only drops the slot's reference: a reader
//! that took the files (or holds `Bytes` out of the map) keeps them mapped until it is
//! done, so nothing is ever unmapped under a reader. Active segments are counted but
//! never closed here (they are written).
//!
//! The order is CLOCK (second chance), an approximation of LRU whose hits cost one
//! atomic store instead of a shared lock: a slot used since the hand last passed gets
//! another round. A slot whose lock is taken (a reader is using it right now) is
//! skipped, so eviction never waits for, nor deadlocks with, a reader.
//!
//! This module knows nothing of segments, partitions or sockets: only counts, budgets
//! and slots. One process-wide cache ([`global`]) is what the broker uses, since the
//! limits it protects (RLIMIT_NOFILE, `vm.max_map_count`) are the process's; tests
//! build their own with tiny budgets.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

/// What a [`Held`] token counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Map,
}

/// Budgets and counts of the descriptors and maps the log holds.
pub struct FileCache {
    max_open_files: AtomicUsize,
    max_mmaps: AtomicUsize,
    open_files: AtomicUsize,
    mmaps: AtomicUsize,
    /// Closed segments whose files are open, in CLOCK order (front: the hand).
    ring: Mutex<Ring>,
    /// Closings done to respect a budget (for tests and curiosity).
    evictions: AtomicUsize,
}

struct Ring {
    slots: VecDeque<Weak<dyn Evictable>>,
    /// Length at which dropped slots are swept out of `slots`.
    sweep_at: usize,
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCache")
            .field("max_open_files", &self.max_open_files())
            .field("max_mmaps", &self.max_mmaps())
            .field("open_files", &self.open_files())
            .field("mmaps", &self.mmaps())
            .finish()
    }
}

/// The process-wide cache every log uses unless its `LogConfig` names another.
/// Unbounded until the broker sets the budgets at start-up ([`FileCache::set_budgets`]).
pub fn global() -> &'static Arc<FileCache> {
    static GLOBAL: OnceLock<Arc<FileCache>> = OnceLock::new();
    GLOBAL.get_or_init(|| FileCache::new(usize::MAX, usize::MAX))
}

impl FileCache {
    pub fn new(max_open_files: usize, max_mmaps: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            max_open_files: AtomicUsize::new(max_open_files),
            max_mmaps: AtomicUsize::new(max_mmaps),
            open_files: AtomicUsize::new(0),
            mmaps: AtomicUsize::new(0),
            ring: Mutex::new(Ring {
                slots: VecDeque::new(),
                sweep_at: 64,
            }),
            evictions: AtomicUsize::new(0),
        })
    }

    /// New budgets; applied from the next open (closes what is over at once).
    pub fn set_budgets(&self, max_open_files: usize, max_mmaps: usize) {
        self.max_open_files.store(max_open_files, Ordering::Relaxed);
        self.max_mmaps.store(max_mmaps, Ordering::Relaxed);
        self.enforce(&mut self.ring.lock());
    }

    pub fn max_open_files(&self) -> usize {
        self.max_open_files.load(Ordering::Relaxed)
    }

    pub fn max_mmaps(&self) -> usize {
        self.max_mmaps.load(Ordering::Relaxed)
    }

    /// Descriptors the log holds now (segments' `.log` files; index files are mapped
    /// and their descriptors closed at once).
    pub fn open_files(&self) -> usize {
        self.open_files.load(Ordering::Relaxed)
    }

    /// Memory maps the log holds now, including those only a reader still keeps.
    pub fn mmaps(&self) -> usize {
        self.mmaps.load(Ordering::Relaxed)
    }

    /// Closed segments' files closed so far to respect a budget.
    pub fn evictions(&self) -> usize {
        self.evictions.load(Ordering::Relaxed)
    }

    fn counter(&self, kind: Kind) -> &AtomicUsize {
        match kind {
            Kind::File => &self.open_files,
            Kind::Map => &self.mmaps,
        }
    }

    /// Counts one descriptor or map until the token is dropped.
    pub fn hold(self: &Arc<Self>, kind: Kind) -> Held {
        self.counter(kind).fetch_add(1, Ordering::Relaxed);
        Held {
            cache: self.clone(),
            kind,
        }
    }

    /// The log holds more than twice its budget of descriptors: idle active segments
    /// should close theirs sooner (`segment::IDLE_ACTIVE_UNDER_PRESSURE_MS`).
    pub fn files_under_pressure(&self) -> bool {
        self.open_files() > self.max_open_files().saturating_mul(2)
    }

    /// The log holds more descriptors or maps than its budgets allow.
    pub fn over_budget(&self) -> bool {
        self.open_files() > self.max_open_files() || self.mmaps() > self.max_mmaps()
    }

    /// Registers a slot whose files were just opened, then closes the least recently
    /// used slots while a budget is exceeded.
    fn admit(&self, slot: Weak<dyn Evictable>) {
        let mut ring = self.ring.lock();
        ring.slots.push_back(slot);
        if ring.slots.len() >= ring.sweep_at {
            ring.slots.retain(|w| w.strong_count() > 0);
            ring.sweep_at = (ring.slots.len() * 2).max(64);
        }
        self.enforce(&mut ring);
    }

    fn enforce(&self, ring: &mut Ring) {
        // Two passes of the hand at most: the first clears the second-chance bits,
        // the second closes. What stays over budget is in use right now (active
        // segments, slots a reader holds, maps kept by `Bytes`). Only the map budget
        // is looked at: a closed segment's slot holds maps, never a descriptor (the
        // descriptor budget is kept by idle active segments closing theirs).
        let mut steps = ring.slots.len() * 2;
        while steps > 0 && self.mmaps() > self.max_mmaps() {
            steps -= 1;
            let Some(weak) = ring.slots.pop_front() else {
                break;
            };
            let Some(slot) = weak.upgrade() else {
                continue;
            };
            if slot.take_referenced() {
                ring.slots.push_back(weak);
                continue;
            }
            match slot.try_close() {
                Close::Closed => {
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                Close::AlreadyClosed => {}
                Close::Busy => ring.slots.push_back(weak),
            }
        }
    }
}

/// One unit of a budget, given back on drop.
pub struct Held {
    cache: Arc<FileCache>,
    kind: Kind,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.cache
            .counter(self.kind)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({:?})", self.kind)
    }
}

enum Close {
    Closed,
    AlreadyClosed,
    Busy,
}

trait Evictable: Send + Sync {
    /// Reads and clears the second-chance bit.
    fn take_referenced(&self) -> bool;
    /// Drops the slot's files unless someone is using the slot right now.
    fn try_close(&self) -> Close;
}

/// The files of one closed segment: open while `Some`, reopened on demand.
pub struct Slot<T> {
    cache: Arc<FileCache>,
    state: Mutex<Option<Arc<T>>>,
    referenced: AtomicBool,
}

impl<T: Send + Sync + 'static> Slot<T> {
    pub fn new(cache: &Arc<FileCache>) -> Arc<Slot<T>> {
        Arc::new(Slot {
            cache: cache.clone(),
            state: Mutex::new(None),
            referenced: AtomicBool::new(false),
        })
    }

    /// A slot holding files already open (a segment that just stopped being active).
    pub fn with_open(cache: &Arc<FileCache>, files: T) -> Arc<Slot<T>> {
        let slot = Slot::new(cache);
        *slot.state.lock() = Some(Arc::new(files));
        cache.admit(Arc::downgrade(&slot) as Weak<dyn Evictable>);
        slot
    }

    /// The files, opened with `open` if they are closed. The caller keeps them open
    /// (whatever the budget) for as long as it holds the `Arc`.
    pub fn get(self: &Arc<Self>, open: impl FnOnce() -> io::Result<T>) -> io::Result<Arc<T>> {
        if let Some(files) = self.state.lock().clone() {
            self.referenced.store(true, Ordering::Relaxed);
            return Ok(files);
        }
        // Opened with no lock held; callers serialise uses of one segment, so no one
        // else opens this slot meanwhile (and if they did, theirs is kept).
        let files = Arc::new(open()?);
        {
            let mut state = self.state.lock();
            if let Some(theirs) = state.clone() {
                return Ok(theirs);
            }
            *state = Some(files.clone());
        }
        self.cache
            .admit(Arc::downgrade(self) as Weak<dyn Evictable>);
        Ok(files)
    }

    /// The files if they are open now (no opening, no second chance).
    pub fn peek(&self) -> Option<Arc<T>> {
        self.state.lock().clone()
    }

    /// Takes the files out (for a segment that becomes active again).
    pub fn take(&self) -> Option<Arc<T>> {
        self.state.lock().take()
    }

    pub fn is_open(&self) -> bool {
        self.state.lock().is_some()
    }
}

impl<T: Send + Sync + 'static> Evictable for Slot<T> {
    fn take_referenced(&self) -> bool {
        self.referenced.swap(false, Ordering::Relaxed)
    }

    fn try_close(&self) -> Close {
        let Some(mut state) = self.state.try_lock() else {
            return Close::Busy;
        };
        match state.take() {
            Some(files) => {
                drop(state);
                drop(files);
                Close::Closed
            }
            None => Close::AlreadyClosed,
        }
    }
}

/// Budgets derived from the process's limits at start-up, for settings left at 0.
///
/// Descriptors: a quarter of the soft RLIMIT_NOFILE (read after the broker raised it to
/// the hard limit), at least 64: the rest stays for sockets (one per connection),
/// the listeners, the checkpoint and snapshot files opened briefly, and the
/// active segments' `.log` files, which this cache never closes (idle ones close their
/// own in housekeeping, sooner when over twice the budget). Maps: half of
/// `vm.max_map_count` (65,530 by default on Linux), at least 64: the allocator, thread
/// stacks and shared libraries take maps too, and in-flight fetches keep the maps
/// they read from alive past their closing.
pub fn default_budgets() -> (usize, usize) {
    let nofile = soft_nofile().unwrap_or(1024);
    let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(65_530);
    ((nofile / 4).max(64), (max_map_count / 2).max(64))
}

fn soft_nofile() -> Option<usize> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to write into.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    Some(usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        _held: Held,
    }

    #[test]
    fn closes_least_recently_used_slots_and_a_reader_keeps_what_it_holds() {
        let cache = FileCache::new(usize::MAX, 2);
        let open = |c: &Arc<FileCache>| {
            let c = c.clone();
            move || {
                Ok(Files {
                    _held: c.hold(Kind::Map),
                })
            }
        };
        let slots: Vec<Arc<Slot<Files>>> = (0..4).map(|_| Slot::new(&cache)).collect();
        let a = slots[0].get(open(&cache)).unwrap();
        drop(slots[1].get(open(&cache)).unwrap());
        assert_eq!(cache.mmaps(), 2);
        // A third goes over: the hand closes slot 0 (its files live on in `a`, still
        // counted) and then slot 1.
        drop(slots[2].get(open(&cache)).unwrap());
        assert_eq!(cache.mmaps(), 2, "{cache:?}");
        assert!(!slots[0].is_open() && !slots[1].is_open() && slots[2].is_open());
        assert_eq!(cache.evictions(), 2);
        drop(a);
        assert_eq!(cache.mmaps(), 1, "the reader's files close when it lets go");
        // A slot used since the hand passed gets a second chance.
        drop(slots[3].get(open(&cache)).unwrap());
        drop(slots[2].get(open(&cache)).unwrap());
        drop(slots[0].get(open(&cache)).unwrap());
        assert_eq!(cache.mmaps(), 2);
        assert!(slots[2].is_open() && !slots[3].is_open() && slots[0].is_open());
        drop(slots);
        assert_eq!(cache.mmaps(), 0, "dropped slots give their units back");
    }
}
