"""Topic lifecycle admin APIs with real admin clients against the real broker:
CreatePartitions, AlterConfigs, IncrementalAlterConfigs, DescribeConfigs,
DeleteRecords, DescribeLogDirs and DescribeProducers. Config changes must take
effect without a restart and survive one.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

import kafka_wire as kw
from harness import segment_files

TIMEOUT = 30


def admin(broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(a: AdminClient, partitions: int = 1, configs: dict | None = None) -> str:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    a.create_topics([NewTopic(name, partitions, 1, config=configs or {})])[name].result(TIMEOUT)
    return name


def produce(broker, topic: str, n: int, size: int = 10, partition: int = 0) -> list:
    """Produces n records one batch each (flush after every record), returns delivery errors."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": False, "linger.ms": 0})
    errors = []
    for i in range(n):
        p.produce(topic, value=b"x" * size, partition=partition,
                  on_delivery=lambda err, _m: errors.append(err) if err else None)
        assert p.flush(TIMEOUT) == 0
    return errors


def topic_config(a: AdminClient, topic: str) -> dict:
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return a.describe_configs([res])[res].result(TIMEOUT)


def test_create_partitions_grows_and_never_shrinks(broker):
    a = admin(broker)
    t = create(a, 1)
    a.create_partitions([NewPartitions(t, 3)], validate_only=True)[t].result(TIMEOUT)
    assert len(a.list_topics(t, timeout=TIMEOUT).topics[t].partitions) == 1, "validate_only changes nothing"
    a.create_partitions([NewPartitions(t, 3)])[t].result(TIMEOUT)
    assert len(a.list_topics(t, timeout=TIMEOUT).topics[t].partitions) == 3
    assert produce(broker, t, 5, partition=2) == []
    with pytest.raises(KafkaException) as e:
        a.create_partitions([NewPartitions(t, 2)])[t].result(TIMEOUT)
    assert e.value.args[0].name() == "INVALID_PARTITIONS"
    broker.restart()
    a = admin(broker)
    assert len(a.list_topics(t, timeout=TIMEOUT).topics[t].partitions) == 3, "survives a restart"


def test_incremental_alter_configs_apply_at_once_and_persist(broker):
    a = admin(broker)
    t = create(a, 1)
    res = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("max.message.bytes", "200", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ])
    a.incremental_alter_configs([res])[res].result(TIMEOUT)
    cfg = topic_config(a, t)
    assert cfg["max.message.bytes"].value == "200"
    assert cfg["max.message.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["cleanup.policy"].value == "delete,compact"
    # Takes effect without a restart: a batch over 200 bytes is refused.
    errors = produce(broker, t, 1, size=1000)
    assert [e.name() for e in errors] == ["MSG_SIZE_TOO_LARGE"], errors

    broker.restart()
    a = admin(broker)
    assert topic_config(a, t)["max.message.bytes"].value == "200", "survives a restart"
    res = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT),
    ])
    a.incremental_alter_configs([res])[res].result(TIMEOUT)
    cfg = topic_config(a, t)
    assert cfg["max.message.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert cfg["cleanup.policy"].value == "delete"
    assert produce(broker, t, 1, size=1000) == []


@pytest.mark.parametrize("entry,op", [
    (("retention.ms", "soon"), AlterConfigOpType.SET),
    (("no.such.config", "1"), AlterConfigOpType.SET),
    (("retention.ms", "5"), AlterConfigOpType.APPEND),
])
def test_incremental_alter_configs_rejects_bad_changes(broker, entry, op):
    a = admin(broker)
    t = create(a, 1)
    res = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry(entry[0], entry[1], incremental_operation=op)])
    with pytest.raises(KafkaException) as e:
        a.incremental_alter_configs([res])[res].result(TIMEOUT)
    assert e.value.args[0].name() == "INVALID_CONFIG", e.value


def test_segment_bytes_change_rolls_segments_at_run_time(broker):
    a = admin(broker)
    t = create(a, 1)
    res = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("segment.bytes", "1024", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(TIMEOUT)
    assert produce(broker, t, 40, size=200) == []
    assert len(segment_files(broker.data_dir, t, 0)) > 3


def test_legacy_alter_configs_with_kafka_python(broker):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource as KpResource
    from kafka.admin import ConfigResourceType

    a = admin(broker)
    t = create(a, 1, {"retention.ms": "1000000"})
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        # incremental=False forces the legacy AlterConfigs API (kafka-python 3 prefers
        # IncrementalAlterConfigs when the broker serves it).
        kp.alter_configs([KpResource(ConfigResourceType.TOPIC, t, configs={"retention.bytes": "123456"})],
                         incremental=False)
        cfg = topic_config(a, t)
        assert cfg["retention.bytes"].value == "123456"
        assert cfg["retention.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        # AlterConfigs replaces the whole set; kafka-python re-sends the other dynamic
        # keys itself (its documented behaviour), so the earlier override survives.
        assert cfg["retention.ms"].value == "1000000"
        dirs = kp.describe_log_dirs()
        assert dirs, dirs
    finally:
        kp.close()


def test_delete_records_moves_the_log_start_offset(broker):
    a = admin(broker)
    t = create(a, 1, {"segment.bytes": "1024"})
    assert produce(broker, t, 30, size=100) == []
    tp = TopicPartition(t, 0, 12)
    (res,) = a.delete_records([tp]).values()
    assert res.result(TIMEOUT).low_watermark == 12  # the new log start offset
    earliest = a.list_offsets({TopicPartition(t, 0): OffsetSpec.earliest()})
    assert list(earliest.values())[0].result(TIMEOUT).offset == 12
    c = kw.KafkaConn.to(broker.bootstrap)
    try:
        assert c.fetch(t, 0, 5)["error_code"] == 1  # OFFSET_OUT_OF_RANGE below the start
        assert c.fetch(t, 0, 12)["error_code"] == 0
    finally:
        c.close()
    # Beyond the high watermark: OFFSET_OUT_OF_RANGE.
    (res,) = a.delete_records([TopicPartition(t, 0, 1000)]).values()
    with pytest.raises(KafkaException) as e:
        res.result(TIMEOUT)
    assert e.value.args[0].name() == "OFFSET_OUT_OF_RANGE"
    broker.restart()
    a = admin(broker)
    earliest = a.list_offsets({TopicPartition(t, 0): OffsetSpec.earliest()})
    assert list(earliest.values())[0].result(TIMEOUT).offset == 12, "survives a restart"


def test_describe_producers_lists_idempotent_producers(broker):
    from kafka import KafkaAdminClient

    a = admin(broker)
    t = create(a, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    for i in range(10):
        p.produce(t, value=b"v%d" % i, partition=0)
    assert p.flush(TIMEOUT) == 0
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        result = kp.describe_producers([kw_tp(t)])
        text = repr(result)
        assert "producer_id" in text.lower() or "producerid" in text.lower(), text
    finally:
        kp.close()


def kw_tp(topic):
    from kafka import TopicPartition as KpTp

    return KpTp(topic, 0)


def test_retention_moves_the_log_start_offset(broker):
    """retention.bytes with small segments: housekeeping (every second) deletes the
    oldest closed segments and ListOffsets earliest follows."""
    import time

    a = admin(broker)
    t = create(a, 1, {"segment.bytes": "1024", "retention.bytes": "2048"})
    assert produce(broker, t, 40, size=200) == []
    tp = TopicPartition(t, 0)
    deadline = time.time() + 20
    earliest = 0
    while time.time() < deadline:
        earliest = list(a.list_offsets({tp: OffsetSpec.earliest()}).values())[0].result(TIMEOUT).offset
        if earliest > 0:
            break
        time.sleep(0.2)
    assert earliest > 0, "retention never advanced the log start offset"
    latest = list(a.list_offsets({tp: OffsetSpec.latest()}).values())[0].result(TIMEOUT).offset
    assert latest == 40
    assert len(segment_files(broker.data_dir, t, 0)) <= 4
