"""DescribeShareGroupOffsets v1 (Kafka 4.2, KIP-1226): the share-partition lag.

confluent-kafka's ShareConsumer (librdkafka 2.16) consumes a share group and acknowledges part of
what it got; raw DescribeShareGroupOffsets requests (no client here sends v1: kafka-python 3.x has
no share-group messages, confluent-kafka's admin client has no share-group offsets call) then read
the start offset and, at v1, the lag Kafka computes: the partition's end offset minus the start
offset minus the records past the start that delivery is complete for. v0 answers the same start
offset without the field.
"""

from __future__ import annotations

import time

from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic

from share_wire import describe_offsets, set_group_configs

SETTINGS = {"group.share.min.record.lock.duration.ms": "1000", "group.share.record.lock.duration.ms": "60000"}


def test_share_partition_lag_follows_acknowledgements(broker_factory):
    b = broker_factory(settings=SETTINGS)
    topic, group = "lagq", "lag-g"
    creator = AdminClient({"bootstrap.servers": b.bootstrap})  # kept alive for its future
    creator.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(15)
    set_group_configs(b.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(10):
        p.produce(topic, value=b"r%d" % i)
    assert p.flush(15) == 0

    c = ShareConsumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                       "share.acknowledgement.mode": "explicit"})
    try:
        c.subscribe([topic])
        got, deadline = [], time.time() + 40
        while len(got) < 10 and time.time() < deadline:
            got.extend(m for m in c.poll(0.5) or [] if m.error() is None)
        assert sorted(m.offset() for m in got) == list(range(10))
        # Accept 0-3 and 6, reject 7 (archived); 4, 5, 8 and 9 stay acquired.
        for m in got:
            if m.offset() in (0, 1, 2, 3, 6):
                c.acknowledge(m, AcknowledgeType.ACCEPT)
            elif m.offset() == 7:
                c.acknowledge(m, AcknowledgeType.REJECT)
        c.commit_sync()

        # Start 4; 6 and 7 are done with; 4, 5, 8, 9 are still to be processed: lag 4.
        v1 = describe_offsets(b.bootstrap, group, 1)
        assert v1 == {"error": 0, "partitions": {(topic, 0): (4, 4)}}, v1
        v0 = describe_offsets(b.bootstrap, group, 0)
        assert v0 == {"error": 0, "partitions": {(topic, 0): (4, None)}}, v0

        # Five more records: all of them count as lag until delivered and accepted.
        for i in range(5):
            p.produce(topic, value=b"s%d" % i)
        assert p.flush(15) == 0
        assert describe_offsets(b.bootstrap, group, 1, topic)["partitions"] == {(topic, 0): (4, 9)}
        for m in got:
            if m.offset() in (4, 5, 8, 9):
                c.acknowledge(m, AcknowledgeType.ACCEPT)
        c.commit_sync()
        assert describe_offsets(b.bootstrap, group, 1)["partitions"] == {(topic, 0): (10, 5)}
    finally:
        c.close()
    # A group that does not exist: GROUP_ID_NOT_FOUND (69), at both versions.
    assert describe_offsets(b.bootstrap, "no-such-group", 1)["error"] == 69
