//! Placement of new partitions over several log directories, and moves between them:
//! a move under appends, and a crash after each step of a move (the files left as the
//! step left them, the registry dropped without closing, then opened again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::clock::Clock;
use crate::config::{BrokerConfig, Overrides};
use crate::log::test_util::batch;
use crate::topics::NewTopic;

fn registry(dirs: &[PathBuf]) -> Arc<TopicRegistry> {
    let joined = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        sets: vec![("log.dirs".into(), joined)],
        ..Default::default()
    };
    let config = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
    Arc::new(TopicRegistry::load(config, Clock::system()).unwrap())
}

fn topic(name: &str, partitions: i32) -> NewTopic {
    let mut configs = BTreeMap::new();
    // Small segments: a move copies several, closed and active.
    configs.insert("segment.bytes".to_string(), "20000".to_string());
    NewTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: 1,
        configs,
    }
}

fn dirs(n: usize) -> (Vec<tempfile::TempDir>, Vec<PathBuf>) {
    let temps: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let paths = temps.iter().map(|t| t.path().to_path_buf()).collect();
    (temps, paths)
}

fn log_dir_of(topics: &TopicRegistry, name: &str, p: i32) -> PathBuf {
    topics.get(name).unwrap().partition(p).unwrap().log_dir()
}

/// Every batch of the partition from offset 0, as bytes.
fn all_records(topics: &TopicRegistry, name: &str) -> bytes::Bytes {
    let t = topics.get(name).unwrap();
    let p = t.partition(0).unwrap();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (info, marks) = p.read(offset, 1 << 20, None, true).unwrap();
        if info.records.is_empty() {
            assert_eq!(offset, marks.high_watermark);
            break;
        }
        let mut at = 0;
        while at < info.records.len() {
            let header = crate::log::BatchHeader::parse(&info.records[at..]).unwrap();
            assert_eq!(header.base_offset, offset, "offsets follow one another");
            offset = header.last_offset() + 1;
            at += header.total_size();
        }
        out.extend_from_slice(&info.records);
    }
    out.into()
}

fn append(topics: &TopicRegistry, name: &str, batches: usize) {
    let t = topics.get(name).unwrap();
    for i in 0..batches {
        t.partition(0)
            .unwrap()
            .append(batch(3, 1_000 + i as i64, 500), 1_000)
            .unwrap();
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("t-") || n.starts_with("t."))
        .collect();
    v.sort();
    v
}

#[test]
fn new_partitions_go_to_the_log_dir_with_the_fewest() {
    let (_t, d) = dirs(3);
    let topics = registry(&d);
    topics.create(topic("a", 4), false).unwrap();
    let of = |name: &str, p: i32| log_dir_of(&topics, name, p);
    assert_eq!(
        (0..4).map(|p| of("a", p)).collect::<Vec<_>>(),
        [d[0].clone(), d[1].clone(), d[2].clone(), d[0].clone()]
    );
    // Counts are now 2, 1, 1: the next two go to the second and third.
    topics.create(topic("b", 2), false).unwrap();
    assert_eq!(of("b", 0), d[1]);
    assert_eq!(of("b", 1), d[2]);
    topics.add_partitions("b", 3, false).unwrap();
    assert_eq!(of("b", 2), d[0]);
    for p in 0..4 {
        assert!(d[[0, 1, 2, 0][p]].join(format!("a-{p}")).is_dir());
    }
    // Topic files stay in the first directory; every partition is found again.
    topics.close_all();
    drop(topics);
    let topics = registry(&d);
    assert_eq!(log_dir_of(&topics, "a", 1), d[1]);
    assert_eq!(log_dir_of(&topics, "b", 2), d[0]);
    assert!(!d[1].join("topics").exists());
}

#[test]
fn a_move_under_appends_keeps_every_record_once() {
    let (_t, d) = dirs(2);
    let topics = registry(&d);
    topics.create(topic("t", 1), false).unwrap();
    append(&topics, "t", 100);
    let writer = {
        let topics = topics.clone();
        std::thread::spawn(move || append(&topics, "t", 300))
    };
    assert!(topics.move_stopping_after("t", 0, &d[1], None));
    writer.join().unwrap();
    assert_eq!(log_dir_of(&topics, "t", 0), d[1]);
    assert_eq!(
        entries(&d[0]),
        Vec::<String>::new(),
        "the source is removed"
    );
    assert_eq!(entries(&d[1]), ["t-0"]);
    let hw = topics
        .get("t")
        .unwrap()
        .partition(0)
        .unwrap()
        .watermarks()
        .high_watermark;
    assert_eq!(hw, 400 * 3);
    let before = all_records(&topics, "t");
    append(&topics, "t", 5);
    topics.close_all();
    drop(topics);
    let topics = registry(&d);
    assert_eq!(log_dir_of(&topics, "t", 0), d[1]);
    assert_eq!(all_records(&topics, "t").slice(..before.len()), before);
    let hw = topics
        .get("t")
        .unwrap()
        .partition(0)
        .unwrap()
        .watermarks()
        .high_watermark;
    assert_eq!(hw, 405 * 3);
}

#[test]
fn a_crash_after_any_step_of_a_move_leaves_the_partition_in_one_place_whole() {
    for (step, moved) in [
        (MoveStep::FutureCreated, false),
        (MoveStep::Copied, false),
        (MoveStep::FinalCopy, false),
        (MoveStep::SourceRenamed, true),
        (MoveStep::FuturePromoted, true),
    ] {
        let (_t, d) = dirs(2);
        let topics = registry(&d);
        topics.create(topic("t", 1), false).unwrap();
        append(&topics, "t", 150);
        let before = all_records(&topics, "t");
        assert!(!topics.move_stopping_after("t", 0, &d[1], Some(step)));
        if step == MoveStep::Copied {
            // DescribeLogDirs shows the copy as the future replica, fully caught up.
            let described = topics.describe_log_dirs();
            let future = &described[1].replicas;
            assert_eq!(future.len(), 1);
            assert!(future[0].is_future && future[0].size_bytes == before.len() as i64);
            assert_eq!(future[0].offset_lag, 0);
            assert!(!described[0].replicas[0].is_future);
        }
        // The crash: nothing is closed or cleaned up.
        drop(topics);
        let topics = registry(&d);
        let want = if moved { &d[1] } else { &d[0] };
        assert_eq!(&log_dir_of(&topics, "t", 0), want, "after {step:?}");
        assert_eq!(all_records(&topics, "t"), before, "after {step:?}");
        let other = if moved { &d[0] } else { &d[1] };
        assert_eq!(entries(other), Vec::<String>::new(), "after {step:?}");
        assert_eq!(entries(want), ["t-0"], "after {step:?}");
        // It serves on, and can be moved again.
        append(&topics, "t", 1);
        assert!(topics.move_stopping_after("t", 0, other, None));
        assert_eq!(&log_dir_of(&topics, "t", 0), other);
        assert_eq!(all_records(&topics, "t").slice(..before.len()), before);
    }
}

#[test]
fn a_partition_under_its_plain_name_in_two_log_dirs_stops_the_start() {
    let (_t, d) = dirs(2);
    let topics = registry(&d);
    topics.create(topic("t", 1), false).unwrap();
    topics.close_all();
    drop(topics);
    std::fs::create_dir(d[1].join("t-0")).unwrap();
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        sets: vec![(
            "log.dirs".into(),
            format!("{},{}", d[0].display(), d[1].display()),
        )],
        ..Default::default()
    };
    let config = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
    let err = TopicRegistry::load(config, Clock::system()).err().unwrap();
    assert!(
        format!("{err:#}").contains("is in several log directories"),
        "{err:#}"
    );
}

#[test]
fn moves_answer_kafkas_errors() {
    let (_t, d) = dirs(2);
    let topics = registry(&d);
    topics.create(topic("t", 1), false).unwrap();
    let code = |topic: &str, p: i32, dir: &str| {
        topics
            .alter_replica_log_dir(topic, p, dir)
            .err()
            .map(|e| e.error)
    };
    assert_eq!(
        code("t", 0, "/nowhere"),
        Some(ResponseError::LogDirNotFound)
    );
    let dest = d[1].display().to_string();
    assert_eq!(
        code("t", 1, &dest),
        Some(ResponseError::UnknownTopicOrPartition)
    );
    assert_eq!(
        code("u", 0, &dest),
        Some(ResponseError::UnknownTopicOrPartition)
    );
    // Already there: nothing to do.
    assert_eq!(code("t", 0, &d[0].display().to_string()), None);
    let described = topics.describe_log_dirs();
    assert_eq!(described.len(), 2);
    assert_eq!(described[0].replicas.len(), 1);
    assert!(described[1].replicas.is_empty());
    assert!(described.iter().all(|d| d.space.is_ok()));
    // A log directory that went away: KAFKA_STORAGE_ERROR for it, in both APIs.
    std::fs::remove_dir_all(&d[1]).unwrap();
    let described = topics.describe_log_dirs();
    assert!(described[0].space.is_ok() && described[1].space.is_err());
    assert_eq!(code("t", 0, &dest), Some(ResponseError::KafkaStorageError));
}

/// storage-format.md's table of a move's steps names the steps the code stops after, in
/// order, and the directory names are the documented ones.
#[test]
fn the_documented_move_steps_are_the_codes() {
    let doc = include_str!("../../storage-format.md");
    let section = doc
        .split("### Moving a partition between log directories")
        .nth(1)
        .unwrap();
    let steps: Vec<(u32, String)> = section
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let n = cells.get(1)?.parse().ok()?;
            let name = cells.get(2)?.trim_matches('`').to_string();
            Some((n, name))
        })
        .collect();
    let code: Vec<(u32, String)> = [
        MoveStep::FutureCreated,
        MoveStep::Copied,
        MoveStep::FinalCopy,
        MoveStep::SourceRenamed,
        MoveStep::FuturePromoted,
    ]
    .iter()
    .map(|s| (*s as u32, format!("{s:?}")))
    .chain([(6, "—".to_string())])
    .collect();
    assert_eq!(steps, code);
    let id = uuid::Uuid::from_u128(0xab);
    let future = topic_store::future_partition_dir(Path::new("/b"), "t", 3, &id);
    assert_eq!(
        future,
        Path::new("/b/t-3.000000000000000000000000000000ab-future")
    );
    let long = "n".repeat(249);
    let future = topic_store::future_partition_dir(Path::new("/b"), &long, 99999, &id);
    assert!(future.file_name().unwrap().len() <= 255);
}

/// The background path AlterReplicaLogDirs takes: a move redirected back where the
/// partition started ends there, whether the redirect came before or after the switch.
#[test]
fn a_move_redirected_back_ends_where_it_started() {
    let (_t, d) = dirs(2);
    let topics = registry(&d);
    topics.create(topic("t", 1), false).unwrap();
    append(&topics, "t", 200);
    let before = all_records(&topics, "t");
    let a = d[0].display().to_string();
    let b = d[1].display().to_string();
    topics.alter_replica_log_dir("t", 0, &b).unwrap();
    topics.alter_replica_log_dir("t", 0, &a).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !topics.moves.lock().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the move never ended");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(log_dir_of(&topics, "t", 0), d[0]);
    assert_eq!(all_records(&topics, "t"), before);
    assert_eq!(
        entries(&d[1]),
        Vec::<String>::new(),
        "no copy is left behind"
    );
    // And a plain move through the same path reaches its destination.
    topics.alter_replica_log_dir("t", 0, &b).unwrap();
    while !topics.moves.lock().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the move never ended");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(log_dir_of(&topics, "t", 0), d[1]);
    assert_eq!(all_records(&topics, "t"), before);
}
