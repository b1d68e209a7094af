//! The registry's start-up and failure paths: creations that fail half way, deleted
//! partitions fenced from a topic created again, leftovers of creations removed.

use super::*;
use crate::config::Overrides;

pub(super) fn registry(dir: &Path) -> TopicRegistry {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let config = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
    TopicRegistry::load(config, Clock::system()).unwrap()
}

pub(super) fn new_topic(name: &str, partitions: i32) -> NewTopic {
    NewTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: 1,
        configs: BTreeMap::new(),
    }
}

fn dirs_of(dir: &Path, topic: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{topic}-")))
        .collect();
    names.sort();
    names
}

#[test]
fn a_creation_that_fails_half_way_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let topics = registry(dir.path());
    // A file where partition 2's directory must go makes its creation fail after
    // partitions 0 and 1 were made.
    std::fs::write(dir.path().join("t-2"), b"in the way").unwrap();
    let Err(err) = topics.create(new_topic("t", 4), false) else {
        panic!("creation should fail")
    };
    assert_eq!(err.error, ResponseError::KafkaStorageError);
    assert_eq!(
        dirs_of(dir.path(), "t"),
        ["t-2"],
        "only the obstacle is left"
    );
    assert!(topics.get("t").is_none());
    assert!(topic_store::read_topics(dir.path()).unwrap().is_empty());
    std::fs::remove_file(dir.path().join("t-2")).unwrap();
    topics.create(new_topic("t", 4), false).unwrap();
    assert_eq!(dirs_of(dir.path(), "t"), ["t-0", "t-1", "t-2", "t-3"]);
}

#[test]
fn adding_partitions_that_fails_half_way_keeps_the_old_count() {
    let dir = tempfile::tempdir().unwrap();
    let topics = registry(dir.path());
    topics.create(new_topic("t", 1), false).unwrap();
    std::fs::write(dir.path().join("t-3"), b"in the way").unwrap();
    let Err(err) = topics.add_partitions("t", 5, false) else {
        panic!("adding partitions should fail")
    };
    assert_eq!(err.error, ResponseError::KafkaStorageError);
    assert_eq!(dirs_of(dir.path(), "t"), ["t-0", "t-3"]);
    assert_eq!(topics.get("t").unwrap().partitions.len(), 1);
    topics.close_all();
    drop(topics);
    std::fs::remove_file(dir.path().join("t-3")).unwrap();
    let topics = registry(dir.path());
    assert_eq!(topics.get("t").unwrap().partitions.len(), 1);
}

#[test]
fn a_deleted_topics_partition_never_writes_into_a_topic_created_again_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let topics = registry(dir.path());
    let old = topics.create(new_topic("t", 1), false).unwrap();
    let held = old.partitions[0].clone(); // as an in-flight request holds it
    topics.delete("t").unwrap();
    let new = topics.create(new_topic("t", 1), false).unwrap();
    let new_dir = dir.path().join("t-0");
    let before: Vec<_> = std::fs::read_dir(&new_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    // Everything the old partition could still be asked to do is refused, and none
    // of it leaves a file in the new topic's directory.
    let batch = crate::log::test_util::batch(1, 1, 4);
    assert!(held.append(batch, 1).is_err());
    assert!(held.close().is_err());
    assert_eq!(held.housekeeping(i64::MAX).unwrap(), 0);
    let after: Vec<_> = std::fs::read_dir(&new_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after);
    assert!(!new_dir
        .join(crate::log::file_names::CLEAN_SHUTDOWN_MARKER)
        .exists());
    assert_eq!(new.partitions[0].watermarks().high_watermark, 0);
}

#[test]
fn start_up_removes_partition_dirs_no_topic_file_covers_but_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let topics = registry(dir.path());
        topics.create(new_topic("kept", 2), false).unwrap();
        topics.close_all();
    }
    // What a crash before the commit point leaves: directories of a topic never
    // committed, and one past a committed topic's partition count.
    for name in ["half-0", "half-1", "kept-2"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("00000000000000000000.log"), b"").unwrap();
    }
    // A directory with records but no topic file is not debris: it stays.
    std::fs::create_dir(dir.path().join("mystery-0")).unwrap();
    std::fs::write(
        dir.path()
            .join("mystery-0")
            .join("00000000000000000000.log"),
        b"not empty",
    )
    .unwrap();
    let topics = registry(dir.path());
    assert!(dirs_of(dir.path(), "half").is_empty());
    assert_eq!(dirs_of(dir.path(), "kept"), ["kept-0", "kept-1"]);
    assert_eq!(dirs_of(dir.path(), "mystery"), ["mystery-0"]);
    assert_eq!(topics.get("kept").unwrap().partitions.len(), 2);
    assert!(topics.get("half").is_none());
}
