"""Kafka 4.1/4.2 configuration semantics, checked with confluent-kafka's AdminClient:

- broker settings given at start-up (``--set``, or the TOML file) are reported by
  DescribeConfigs with source STATIC_BROKER_CONFIG, and so are the topic defaults they
  supply; untouched settings stay DEFAULT_CONFIG;
- an empty ``cleanup.policy`` list is accepted (KIP-1161) and means neither delete nor
  compact: retention leaves such a topic whole while it trims a ``delete`` topic with the
  same limits.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    OffsetSpec,
)

TIMEOUT = 30


def describe(a: AdminClient, res: ConfigResource) -> dict:
    return a.describe_configs([res])[res].result(TIMEOUT)


def test_start_up_settings_are_static_broker_config(broker_factory, tmp_path):
    toml = tmp_path / "sluice.toml"
    toml.write_text('log.retention.ms = 3600000\n')
    b = broker_factory(settings={"num.partitions": 3}, extra_args=("--config", str(toml)))
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    cfg = describe(a, ConfigResource(ConfigResource.Type.BROKER, "1"))
    assert cfg["num.partitions"].value == "3"
    assert cfg["num.partitions"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["log.retention.ms"].value == "3600000"
    assert cfg["log.retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["log.segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value

    t = f"cfg-{uuid.uuid4().hex[:8]}"
    a.create_topics([NewTopic(t, 1, 1)])[t].result(TIMEOUT)
    tcfg = describe(a, ConfigResource(ConfigResource.Type.TOPIC, t))
    assert tcfg["retention.ms"].value == "3600000"
    assert tcfg["retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert tcfg["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value


def earliest(a: AdminClient, topic: str) -> int:
    tp = TopicPartition(topic, 0)
    return list(a.list_offsets({tp: OffsetSpec.earliest()}).values())[0].result(TIMEOUT).offset


def test_empty_cleanup_policy_keeps_the_log_whole(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    limits = {"segment.bytes": "1024", "retention.bytes": "2048"}
    kept, trimmed = (f"{tag}-{uuid.uuid4().hex[:8]}" for tag in ("none", "delete"))
    created = a.create_topics([NewTopic(kept, 1, 1, config={**limits, "cleanup.policy": ""}),
                               NewTopic(trimmed, 1, 1, config={**limits, "cleanup.policy": "delete"})])
    for f in created.values():
        f.result(TIMEOUT)
    assert describe(a, ConfigResource(ConfigResource.Type.TOPIC, kept))["cleanup.policy"].value == ""

    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(40):
        for t in (kept, trimmed):
            p.produce(t, value=b"x" * 200)
        assert p.flush(TIMEOUT) == 0
    # Retention visits every partition on each pass: once it has trimmed the delete topic,
    # it has looked at the other one too.
    deadline = time.time() + 20
    while earliest(a, trimmed) == 0:
        assert time.time() < deadline, "retention never trimmed the delete topic"
        time.sleep(0.2)
    assert earliest(a, kept) == 0

    # The empty list can also be set on an existing topic, and a bad value is still refused.
    res = ConfigResource(ConfigResource.Type.TOPIC, trimmed,
                         incremental_configs=[ConfigEntry("cleanup.policy", "",
                                                          incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(TIMEOUT)
    assert describe(a, ConfigResource(ConfigResource.Type.TOPIC, trimmed))["cleanup.policy"].value == ""
    bad = ConfigResource(ConfigResource.Type.TOPIC, trimmed,
                         incremental_configs=[ConfigEntry("cleanup.policy", "remove",
                                                          incremental_operation=AlterConfigOpType.SET)])
    try:
        a.incremental_alter_configs([bad])[bad].result(TIMEOUT)
        raise AssertionError("cleanup.policy=remove must be refused")
    except Exception as e:  # KafkaException(INVALID_CONFIG)
        assert "INVALID_CONFIG" in str(e) or "nvalid" in str(e), e
