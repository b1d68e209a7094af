//! The physical reference for acks=all latency (`scripts/bench.sh --latency-only`): group
//! commit on a bare file, without a broker. One thread appends `SIZE`-byte records to a
//! file at `RATE` a second (paced, as acks=all requests arrive) while `SYNCERS` threads
//! fdatasync it back to back, each starting only for appends no fsync already started
//! covers (what the broker's group commit does with `sluice.acks.all.concurrent.fsyncs`).
//! A record's latency runs from its append to the end of the first fdatasync that began
//! after it: the least an acks=all answer can wait on this disk.
//!
//! With `prealloc` as a sixth argument the file is first filled with 64 MiB of zeros and
//! fsync'd, and the appends overwrite it from the start: the file's length and blocks no
//! longer change, so an fdatasync writes only data and needs no file-system journal
//! commit. That shows what appending (each fdatasync also commits the new length and
//! block allocation) costs on this disk.
//!
//! Written in Rust rather than beside the other references in `bench_refs.py` because
//! Python's interpreter lock adds milliseconds of hand-off between the threads, which is
//! the very quantity measured.
//!
//! Usage: `group_commit_reference DIR SECONDS RATE SIZE SYNCERS [prealloc]`. Prints
//! `p50 p99 p99.9 fsyncs N p50 p99 p99.9` (milliseconds): the records' latencies, then
//! the number and durations of the fdatasyncs.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Shared {
    /// When each append returned.
    appended: Vec<Instant>,
    /// How many appends a started fdatasync already covers.
    covered: usize,
    done: bool,
    /// (start, end) of each fdatasync.
    syncs: Vec<(Instant, Instant)>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 && !(args.len() == 7 && args[6] == "prealloc") {
        eprintln!("usage: group_commit_reference DIR SECONDS RATE SIZE SYNCERS [prealloc]");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let seconds: f64 = args[2].parse().expect("SECONDS");
    let rate: f64 = args[3].parse().expect("RATE");
    let size: usize = args[4].parse().expect("SIZE");
    let syncers: usize = args[5].parse().expect("SYNCERS");
    let path = dir.join(".bench-group-commit");
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .expect("open the file");
    if args.len() == 7 {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            file.write_all(&zeros).expect("preallocate");
        }
        file.sync_all().expect("fsync the preallocated file");
        file.seek(SeekFrom::Start(0)).expect("seek");
    }
    let sync_file = Arc::new(file.try_clone().expect("clone the descriptor"));
    let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));

    let threads: Vec<_> = (0..syncers.max(1))
        .map(|_| {
            let (shared, file) = (shared.clone(), sync_file.clone());
            std::thread::spawn(move || loop {
                {
                    let (lock, cv) = &*shared;
                    let mut s = lock.lock().unwrap();
                    while s.appended.len() == s.covered && !s.done {
                        s = cv.wait(s).unwrap();
                    }
                    if s.appended.len() == s.covered {
                        return;
                    }
                    s.covered = s.appended.len();
                }
                let start = Instant::now();
                file.sync_data().expect("fdatasync");
                let end = Instant::now();
                shared.0.lock().unwrap().syncs.push((start, end));
            })
        })
        .collect();

    let record = vec![b'x'; size];
    let interval = Duration::from_secs_f64(1.0 / rate);
    let t0 = Instant::now();
    let mut next = t0;
    while next < t0 + Duration::from_secs_f64(seconds) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep(next - now);
        }
        file.write_all(&record).expect("append");
        let (lock, cv) = &*shared;
        lock.lock().unwrap().appended.push(Instant::now());
        cv.notify_one();
        next += interval;
    }
    {
        let (lock, cv) = &*shared;
        lock.lock().unwrap().done = true;
        cv.notify_all();
    }
    for t in threads {
        t.join().unwrap();
    }
    drop(file);
    let _ = std::fs::remove_file(&path);

    let s = shared.0.lock().unwrap();
    let mut syncs = s.syncs.clone();
    syncs.sort();
    let mut waits: Vec<f64> = s
        .appended
        .iter()
        .filter_map(|&at| {
            // Every fsync that began after the append covers it; the first to end counts.
            let first = syncs.partition_point(|&(start, _)| start < at);
            syncs[first..]
                .iter()
                .take(syncers.max(1) * 2)
                .map(|&(_, end)| end)
                .min()
                .map(|end| (end - at).as_secs_f64() * 1e3)
        })
        .collect();
    let mut took: Vec<f64> = syncs
        .iter()
        .map(|&(start, end)| (end - start).as_secs_f64() * 1e3)
        .collect();
    waits.sort_by(f64::total_cmp);
    took.sort_by(f64::total_cmp);
    let pct = |xs: &[f64], q: f64| xs[((q * xs.len() as f64) as usize).min(xs.len() - 1)];
    println!(
        "{:.2} {:.2} {:.2} fsyncs {} {:.2} {:.2} {:.2}",
        pct(&waits, 0.5),
        pct(&waits, 0.99),
        pct(&waits, 0.999),
        took.len(),
        pct(&took, 0.5),
        pct(&took, 0.99),
        pct(&took, 0.999),
    );
}
