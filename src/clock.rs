//! Time, as the broker's parts read it: wall-clock milliseconds (record timestamps,
//! retention, offset expiry, transaction timeouts) and a monotonic instant (session and
//! rebalance deadlines).
//!
//! Every part that needs the time gets a [`Clock`] from the composition root instead
//! of calling the system clock itself, so a test can hand the coordinators a
//! [`Clock::manual`] clock and move time forward without sleeping. The clock owns no
//! other state and never blocks.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cheap, cloneable source of the current time.
#[derive(Clone, Debug)]
pub struct Clock {
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    System,
    /// Time that moves only when a test advances it: (instant at creation, wall ms at
    /// creation, ms advanced since).
    Manual {
        start: Instant,
        start_ms: i64,
        advanced_ms: Arc<AtomicI64>,
    },
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl Clock {
    /// The machine's clocks.
    pub fn system() -> Clock {
        Clock {
            source: Source::System,
        }
    }

    /// A clock standing at `start_ms` (wall) and the current instant, moved only by
    /// [`Clock::advance`]. Clones share the same time.
    pub fn manual(start_ms: i64) -> Clock {
        Clock {
            source: Source::Manual {
                start: Instant::now(),
                start_ms,
                advanced_ms: Arc::new(AtomicI64::new(0)),
            },
        }
    }

    /// Moves a manual clock forward (both readings); a no-op on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Source::Manual { advanced_ms, .. } = &self.source {
            advanced_ms.fetch_add(by.as_millis() as i64, Ordering::AcqRel);
        }
    }

    /// Milliseconds since the Unix epoch, as Kafka timestamps count.
    pub fn now_ms(&self) -> i64 {
        match &self.source {
            Source::System => system_now_ms(),
            Source::Manual {
                start_ms,
                advanced_ms,
                ..
            } => start_ms + advanced_ms.load(Ordering::Acquire),
        }
    }

    /// A monotonic instant, for deadlines that must not jump with the wall clock.
    pub fn now(&self) -> Instant {
        match &self.source {
            Source::System => Instant::now(),
            Source::Manual {
                start, advanced_ms, ..
            } => *start + Duration::from_millis(advanced_ms.load(Ordering::Acquire) as u64),
        }
    }
}

/// The system's wall clock in Unix milliseconds (0 if it reads before 1970).
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let clock = Clock::manual(1_000);
        let other = clock.clone();
        let t0 = clock.now();
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_millis(250));
        assert_eq!(other.now_ms(), 1_250);
        assert_eq!(other.now() - t0, Duration::from_millis(250));
    }

    #[test]
    fn system_clock_reads_after_2020() {
        assert!(Clock::system().now_ms() > 1_577_836_800_000);
    }
}
