//! Periodic background work on every partition: time-based segment rolls, the flush.ms
//! fsync, and retention (only for cleanup.policy containing delete); the log cleaner's
//! loop (`super::cleaner`) runs in the same task.
//!
//! It runs on a timer (log.flush.scheduler.interval.ms) and goes partition by partition,
//! holding one partition's lock at a time, so it never stalls the whole broker. An idle
//! broker wakes here about once a second and does nothing else. Offline partitions (a
//! failed fsync or write) are skipped.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::topics::TopicRegistry;

/// Runs until the returned task is aborted.
pub fn spawn(
    config: Arc<BrokerConfig>,
    topics: Arc<TopicRegistry>,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    let period = Duration::from_millis(config.flush_scheduler_interval_ms.max(10));
    // The log cleaner runs beside it in the same task, so aborting this task at
    // shutdown stops both (see `super::cleaner`).
    let cleaner = super::cleaner::run(config, topics.clone(), clock.clone());
    tokio::spawn(async move {
        let timers = async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let (topics, clock) = (topics.clone(), clock.clone());
                // The log work does file I/O (fsync, unlink): keep it off the async workers.
                let _ = tokio::task::spawn_blocking(move || run_once(&topics, &clock)).await;
            }
        };
        tokio::join!(timers, cleaner);
    })
}

fn run_once(topics: &TopicRegistry, clock: &Clock) {
    let now = clock.now_ms();
    for partition in topics.all_partitions() {
        // The first pass after start-up lists every cold partition's directory: let a
        // shutdown stop it rather than wait for it.
        if topics.is_closing() {
            break;
        }
        match partition.housekeeping(now) {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(
                topic = %partition.topic,
                partition = partition.index,
                deleted,
                "retention deleted old segments"
            ),
            // The partition logged its going offline once; it is skipped from now on.
            Err(e) if partition.is_offline() => tracing::debug!(
                topic = %partition.topic,
                partition = partition.index,
                error = %e,
                "housekeeping failed: partition offline"
            ),
            Err(e) => tracing::error!(
                topic = %partition.topic,
                partition = partition.index,
                error = %e,
                "housekeeping failed"
            ),
        }
    }
}
