//! The log cleaner's background task: one loop that compacts, one partition at a time,
//! every partition whose cleanup.policy contains compact and whose dirty ratio calls for
//! it (Kafka's `LogCleaner` with `log.cleaner.threads=1`).
//!
//! Each pass takes the partition lock twice, briefly: to plan (zero-copy views of the
//! closed segments) and to swap the cleaned segments in (renames). The copy in between
//! runs on a blocking thread without the lock, so produce and fetch never wait for it.
//! It must never hold a partition lock while reading or writing record data, and it
//! stops at the next batch when the broker shuts down. Offline partitions get no plan.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::log::cleaner::{self, CleanerConfig};
use crate::topics::TopicRegistry;

/// Sets the flag when the loop's future is dropped (the housekeeping task is aborted at
/// shutdown), so a pass running on a blocking thread gives up at its next batch.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs until dropped. Returns at once when `log.cleaner.enable` is false.
pub async fn run(config: Arc<BrokerConfig>, topics: Arc<TopicRegistry>, clock: Clock) {
    if !config.cleaner_enable {
        return;
    }
    let cleaner_config = config.cleaner_config();
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let backoff = Duration::from_millis(config.cleaner_backoff_ms.max(1));
    loop {
        let (topics, clock, cleaner_config) =
            (topics.clone(), clock.clone(), cleaner_config.clone());
        let c = cancel.clone();
        let worked =
            tokio::task::spawn_blocking(move || run_once(&topics, &clock, &cleaner_config, &c))
                .await
                .unwrap_or(false);
        if !worked {
            tokio::time::sleep(backoff).await;
        }
    }
}

/// One round over every partition. Returns whether any segment was replaced (then the
/// loop goes again at once; otherwise it sleeps `log.cleaner.backoff.ms`).
pub fn run_once(
    topics: &TopicRegistry,
    clock: &Clock,
    config: &CleanerConfig,
    cancel: &AtomicBool,
) -> bool {
    let mut worked = false;
    for partition in topics.all_partitions() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let now = clock.now_ms();
        let Some(plan) = partition.cleaning_plan(now) else {
            continue;
        };
        let started = std::time::Instant::now();
        let out = match cleaner::clean(&plan, config, cancel) {
            Ok(out) => out,
            Err(e) => {
                if !cancel.load(Ordering::Relaxed) {
                    tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "log cleaning failed");
                }
                continue;
            }
        };
        match partition.install_cleaned(&plan, &out) {
            Ok(0) => {}
            Ok(swapped) => {
                worked = true;
                let before: u64 = out.segments.iter().map(|s| s.old_size).sum();
                let after: u64 = out.segments.iter().map(|s| s.new_size).sum();
                let m = crate::metrics::global();
                m.cleaner_runs.inc();
                m.cleaner_bytes.inc_by(before);
                m.cleaner_duration.observe(started.elapsed().as_secs_f64());
                tracing::info!(
                    topic = %partition.topic,
                    partition = partition.index,
                    segments = swapped,
                    dirty_ratio = format!("{:.2}", plan.dirty_ratio),
                    keys = out.keys,
                    bytes_before = before,
                    bytes_after = after,
                    first_dirty_offset = out.clean_end,
                    ms = started.elapsed().as_millis() as u64,
                    "log cleaner compacted segments"
                );
            }
            Err(e) if partition.is_offline() => {
                // The partition logged its going offline once; no plan is made for it again.
                tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "installing cleaned segments failed: partition offline")
            }
            Err(e) => {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "installing cleaned segments failed")
            }
        }
    }
    worked
}
