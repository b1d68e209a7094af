//! `sluice::EmbeddedBroker` driven by a real Kafka client (librdkafka, through the
//! `rdkafka` crate): produce, consume with a group, transactions, two brokers side by
//! side, and the builder's errors. The leak check lives in `embedded_broker_leaks.rs`,
//! a test binary of its own, so no other test's threads or files move its counts.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset};
use sluice::{EmbeddedBroker, EmbeddedError};

/// Bounds every wait on the client, so a broken broker fails the test instead of
/// hanging it.
const WAIT: Duration = Duration::from_secs(30);

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "20000");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("creating the producer")
}

fn consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> StreamConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("creating the consumer")
}

async fn send(producer: &FutureProducer, topic: &str, key: &str, value: &str) -> (i32, i64) {
    let delivery = producer
        .send(FutureRecord::to(topic).key(key).payload(value), WAIT)
        .await
        .unwrap_or_else(|(e, _)| panic!("producing {key} to {topic}: {e}"));
    (delivery.partition, delivery.offset)
}

/// Receives `n` messages as (key, value), in arrival order.
async fn receive(consumer: &StreamConsumer, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} messages arrived", out.len()))
            .expect("consuming");
        let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap_or_default().to_vec()).unwrap();
        out.push((text(m.key()), text(m.payload())));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_with_a_group_and_commit() {
    let broker = EmbeddedBroker::builder()
        .config("num.partitions", "3")
        .start()
        .await
        .unwrap();
    let bootstrap = broker.bootstrap_servers();
    assert!(bootstrap.starts_with("127.0.0.1:"), "{bootstrap}");
    broker.create_topic("orders", 3).await.unwrap();

    let p = producer(&bootstrap, &[]);
    let mut sent = BTreeMap::new();
    for i in 0..30 {
        let (partition, offset) = send(&p, "orders", &format!("k{i}"), &format!("v{i}")).await;
        assert!((0..3).contains(&partition));
        sent.insert(format!("k{i}"), (partition, offset, format!("v{i}")));
    }

    let c = consumer(&bootstrap, "orders-readers", &[]);
    c.subscribe(&["orders"]).unwrap();
    let got = receive(&c, 30).await;
    let got: BTreeMap<String, String> = got.into_iter().collect();
    let want: BTreeMap<String, String> = sent
        .iter()
        .map(|(k, (_, _, v))| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, want);

    c.commit_consumer_state(CommitMode::Sync).unwrap();
    drop(c);
    // Another member of the group reads the commits back from the broker.
    let reader = consumer(&bootstrap, "orders-readers", &[]);
    let mut wanted = rdkafka::TopicPartitionList::new();
    for partition in 0..3 {
        wanted.add_partition("orders", partition);
    }
    let committed = reader.committed_offsets(wanted, WAIT).unwrap();
    let mut total = 0;
    for e in committed.elements_for_topic("orders") {
        let Offset::Offset(o) = e.offset() else {
            panic!("partition {} has no committed offset", e.partition());
        };
        total += o;
    }
    assert_eq!(total, 30, "the committed offsets cover every message");
    drop(reader);
    drop(p);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_committed_consumer_sees_committed_transactions_only() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let bootstrap = broker.bootstrap_servers();
    broker.create_topic("payments", 1).await.unwrap();

    let p = producer(&bootstrap, &[("transactional.id", "payments-writer")]);
    p.init_transactions(WAIT).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "payments", "a", "committed-1").await;
    send(&p, "payments", "b", "committed-2").await;
    p.commit_transaction(WAIT).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "payments", "c", "aborted").await;
    p.abort_transaction(WAIT).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "payments", "d", "committed-3").await;
    p.commit_transaction(WAIT).unwrap();

    let c = consumer(
        &bootstrap,
        "payments-readers",
        &[("isolation.level", "read_committed")],
    );
    c.subscribe(&["payments"]).unwrap();
    let got = receive(&c, 3).await;
    assert_eq!(
        got,
        vec![
            ("a".into(), "committed-1".into()),
            ("b".into(), "committed-2".into()),
            ("d".into(), "committed-3".into()),
        ]
    );
    // Nothing after them: the aborted record and the markers are not delivered.
    let more = tokio::time::timeout(Duration::from_millis(500), c.recv()).await;
    assert!(more.is_err(), "unexpected message after the committed ones");

    // read_uncommitted sees the aborted record too.
    let all = consumer(
        &bootstrap,
        "payments-auditors",
        &[("isolation.level", "read_uncommitted")],
    );
    all.subscribe(&["payments"]).unwrap();
    let got = receive(&all, 4).await;
    assert_eq!(got[2], ("c".into(), "aborted".into()));
    drop((c, all, p));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_side_by_side_keep_their_own_state() {
    let first = EmbeddedBroker::builder().start().await.unwrap();
    let second = EmbeddedBroker::builder().start().await.unwrap();
    assert_ne!(first.local_addr().port(), second.local_addr().port());
    for (broker, value) in [(&first, "first"), (&second, "second")] {
        broker.create_topic("events", 1).await.unwrap();
        let p = producer(&broker.bootstrap_servers(), &[]);
        send(&p, "events", "k", value).await;
    }
    // Each broker advertises itself, and has only its own record.
    for (broker, value) in [(&first, "first"), (&second, "second")] {
        let c = consumer(&broker.bootstrap_servers(), "g", &[]);
        let metadata = c.fetch_metadata(Some("events"), WAIT).unwrap();
        assert_eq!(
            metadata.brokers()[0].port() as u16,
            broker.local_addr().port()
        );
        c.subscribe(&["events"]).unwrap();
        assert_eq!(receive(&c, 1).await, vec![("k".into(), value.into())]);
        let more = tokio::time::timeout(Duration::from_millis(300), c.recv()).await;
        assert!(
            more.is_err(),
            "{value}: a record of the other broker arrived"
        );
    }
    // A topic that exists already is refused as CreateTopics refuses it.
    match first.create_topic("events", 1).await {
        Err(EmbeddedError::CreateTopic { error, .. }) => {
            assert_eq!(error, sluice::error::ResponseError::TopicAlreadyExists)
        }
        other => panic!("{other:?}"),
    }
    first.shutdown().await.unwrap();
    // The other one is unaffected by the first one stopping.
    let c = consumer(&second.bootstrap_servers(), "g2", &[]);
    c.subscribe(&["events"]).unwrap();
    assert_eq!(receive(&c, 1).await, vec![("k".into(), "second".into())]);
    drop(c);
    drop(second);
}

#[test]
fn start_blocking_needs_no_runtime_and_keeps_everything_in_memory() {
    let broker = EmbeddedBroker::start_blocking().unwrap();
    assert_eq!(broker.data_dir(), None);
    let p: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .create()
        .unwrap();
    let metadata = p.client().fetch_metadata(None, WAIT).unwrap();
    assert_eq!(metadata.brokers().len(), 1);
    drop(p);
    drop(broker);
}

#[tokio::test(flavor = "current_thread")]
async fn a_data_dir_is_kept_and_owned_by_one_broker_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedBroker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    first.create_topic("kept", 2).await.unwrap();
    let refused = EmbeddedBroker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(refused, EmbeddedError::Start(_)), "{refused:?}");
    let message = format!("{refused}");
    assert!(
        message.contains("is in use by another process"),
        "{message}"
    );
    first.shutdown().await.unwrap();

    // The directory stays, and the next broker on it finds the topic.
    let again = EmbeddedBroker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    match again.create_topic("kept", 2).await {
        Err(EmbeddedError::CreateTopic { error, .. }) => {
            assert_eq!(error, sluice::error::ResponseError::TopicAlreadyExists)
        }
        other => panic!("{other:?}"),
    }
    again.shutdown().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn bad_settings_and_bad_topics_are_errors_not_panics() {
    let err = EmbeddedBroker::builder()
        .config("no.such.setting", "1")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, EmbeddedError::Config(_)), "{err:?}");
    assert!(format!("{err}").contains("no.such.setting"), "{err}");
    let err = EmbeddedBroker::builder()
        .config("num.partitions", "many")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, EmbeddedError::Config(_)), "{err:?}");
    // Errors are ordinary std errors.
    let _: &dyn std::error::Error = &err;

    let broker = EmbeddedBroker::builder().start().await.unwrap();
    for (name, partitions, code) in [
        (
            "bad/name",
            1,
            sluice::error::ResponseError::InvalidTopicException,
        ),
        ("zero", 0, sluice::error::ResponseError::InvalidPartitions),
    ] {
        match broker.create_topic(name, partitions).await {
            Err(EmbeddedError::CreateTopic { error, .. }) => assert_eq!(error, code, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    broker.shutdown().await.unwrap();
}
