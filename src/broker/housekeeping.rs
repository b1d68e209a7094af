//! Periodic background work on every partition: time-based segment rolls, the flush.ms
//! fsync, and retention (only for cleanup.policy containing delete); the log cleaner's
//! loop (`super::cleaner`) runs in the same task.
//!
//! It runs on a timer (log.flush.scheduler.interval.ms) and goes partition by partition,
//! holding one partition's lock at a time, so it never stalls the whole broker. An idle
//! broker wakes here about once a second and does nothing else. Offline partitions (a
//! failed fsync or write) are skipped. The periodic recovery-point checkpoints that
//! come due in a pass are written together at its end (`crate::topics::checkpoint_batch`),
//! and a pass much longer than its period is logged.

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
                let began = std::time::Instant::now();
                // The log work does file I/O (fsync, unlink): keep it off the async workers.
                let visited = tokio::task::spawn_blocking(move || run_once(&topics, &clock))
                    .await
                    .unwrap_or(0);
                // A pass much longer than its period delays every partition's flush.ms,
                // retention and idle-file release by as much: say so.
                let took = began.elapsed();
                if took > period * SLOW_PASS_PERIODS {
                    tracing::warn!(
                        took_ms = took.as_millis() as u64,
                        partitions = visited,
                        "slow housekeeping pass: flush.ms, retention and closing idle files waited as long"
                    );
                }
            }
        };
        tokio::join!(timers, cleaner);
    })
}

/// A pass taking this many periods or more is logged as slow.
const SLOW_PASS_PERIODS: u32 = 5;

/// One pass over every partition; returns how many it visited.
fn run_once(topics: &TopicRegistry, clock: &Clock) -> usize {
    let now = clock.now_ms();
    let partitions = topics.all_partitions();
    let visited = partitions.len();
    // Written together at the end of the pass, with one sync of the file system.
    let mut checkpoints = Vec::new();
    for partition in partitions {
        // The first pass after start-up lists every cold partition's directory: let a
        // shutdown stop it rather than wait for it.
        if topics.is_closing() {
            break;
        }
        let done = partition
            .housekeeping_deferring_checkpoint(now)
            .map(|(deleted, due)| {
                checkpoints.extend(due);
                deleted
            });
        match done {
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
    // A shutdown that began meanwhile writes every checkpoint itself (newer captures,
    // which a staged older one could never replace anyway): no syncfs beside it.
    if !topics.is_closing() {
        topics.write_checkpoints(&checkpoints);
    }
    visited
}
