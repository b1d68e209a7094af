//! An [`EmbeddedBroker`] that is dropped leaves nothing behind: no thread, no open
//! file descriptor (sockets, segment files, the data-directory lock); and one in memory
//! opens no file anywhere while it runs. One test in its own binary, so the process's
//! descriptors and threads move only with this test.
//!
//! It also prints the median start-up time of an empty broker (`cargo test --test
//! embedded_broker_leaks -- --nocapture`); the figure is reported, never asserted.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice::EmbeddedBroker;

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Open descriptors and live threads of this process.
fn census() -> (usize, usize) {
    (count("/proc/self/fd"), count("/proc/self/task"))
}

/// The census once it has not changed for a second (at most 10 s of waiting).
fn settled_census() -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = census();
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_secs(1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = census();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last
}

/// What each open descriptor points at (a path, `socket:[..]`, `/memfd:.. (deleted)`).
fn descriptors() -> BTreeMap<String, String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                target.display().to_string(),
            ))
        })
        .collect()
}

/// One broker's life: start, a topic, a record through a real client, then dropped
/// (not shut down) with the client already gone. In memory, every descriptor opened
/// while it ran is a socket, a pipe, an anonymous inode or a memory file: no file
/// (besides `/dev/null`, the one spare descriptor per process that the accept loop
/// frees to refuse a connection when descriptors run out).
fn one_life(runtime: &tokio::runtime::Runtime, data_dir: Option<&Path>) {
    let before = descriptors();
    let broker = match data_dir {
        None => EmbeddedBroker::start_blocking().unwrap(),
        Some(dir) => EmbeddedBroker::builder()
            .data_dir(dir)
            .start_blocking()
            .unwrap(),
    };
    runtime.block_on(async {
        broker.create_topic("t", 2).await.unwrap();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap_servers())
            .set("message.timeout.ms", "20000")
            .create()
            .unwrap();
        producer
            .send(
                FutureRecord::to("t").key("k").payload("v"),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    });
    if data_dir.is_none() {
        assert_eq!(broker.data_dir(), None);
        for (fd, target) in descriptors() {
            // (The directory listing this very loop reads is one of them.)
            if before.get(&fd) == Some(&target) || target.ends_with("/fd") {
                continue;
            }
            let in_memory = ["socket:", "pipe:", "anon_inode:", "/memfd:"]
                .iter()
                .any(|kind| target.starts_with(kind))
                || target == "/dev/null";
            assert!(
                in_memory,
                "descriptor {fd} of an in-memory broker is {target}"
            );
        }
    }
    drop(broker);
}

#[test]
fn dropping_brokers_leaks_no_thread_descriptor_or_directory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The first life sets up what lives for the whole process (librdkafka's global
    // state, the tracing callsites): not a leak.
    one_life(&runtime, None);
    let dir = tempfile::tempdir().unwrap();
    // Its librdkafka threads exit a little after the producer is dropped: the baseline
    // is taken once the census has stayed the same for a second (bounded), or a thread
    // still exiting would count in it (one CI run had 3 threads there and 2 at the end).
    let before = settled_census();
    for _ in 0..3 {
        one_life(&runtime, None);
    }
    for life in 0..2 {
        one_life(&runtime, Some(&dir.path().join(format!("life-{life}"))));
    }
    // librdkafka closes its own threads when the producer is dropped, but some of them
    // exit just after: give them a moment, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while census() != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        census(),
        before,
        "(descriptors, threads) after five brokers were started and dropped"
    );

    // Start-up of an empty broker in memory (the default), median of several.
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            let broker = EmbeddedBroker::start_blocking().unwrap();
            let took = t.elapsed();
            drop(broker);
            took
        })
        .collect();
    times.sort();
    println!(
        "embedded broker start-up: median {:.2} ms (min {:.2}, max {:.2}, 15 starts)",
        times[7].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[14].as_secs_f64() * 1e3,
    );
    assert_eq!(census(), before, "after the start-up runs");
}
