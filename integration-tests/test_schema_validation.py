"""Broker-side schema id validation (issue 13, item 4): the topic configs
confluent.{key,value}.schema.validation and confluent.{key,value}.subject.name.strategy, set
through CreateTopics / IncrementalAlterConfigs and shown by DescribeConfigs, make the broker
refuse, with INVALID_RECORD (87) and KIP-467 record errors, a record whose key or value does not
start with magic byte 0 and a schema id registered under the topic's subject.

confluent-kafka's AvroSerializer, JSONSerializer and ProtobufSerializer produce accepted records;
confluent-kafka's producer reports the refusals (unregistered id, another subject's id, no magic
byte, compressed batches too). The record errors themselves (batch index and message) are read
from the raw Produce v9 answer (kafka_wire), which no client library exposes.
"""

from __future__ import annotations

import gzip
import json
import struct

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

import kafka_wire as kw
from harness import free_port, wait_for_port

STRATEGY = "io.confluent.kafka.serializers.subject.{}"
VALIDATE_VALUES = {"confluent.value.schema.validation": "true"}


@pytest.fixture
def registry(broker_factory):
    port = free_port()
    b = broker_factory(settings={"sluice.schema.registry.listen": f"127.0.0.1:{port}"})
    assert wait_for_port("127.0.0.1", port, 10), b.log_tail()
    b.registry_url = f"http://127.0.0.1:{port}"
    b.sr = SchemaRegistryClient({"url": b.registry_url})
    return b


def create(b, topic, configs):
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config=configs)])[topic].result(15)


def avro(name, fields=({"name": "a", "type": "int"},)):
    return json.dumps({"type": "record", "name": name, "namespace": "sluice.test", "fields": list(fields)})


def framed(schema_id, payload=b"payload"):
    return b"\0" + struct.pack(">i", schema_id) + payload


def produce_each(b, topic, records, **config):
    """Produces each (key, value) and returns the delivery error of each (None: delivered)."""
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "retries": 0, **config})
    errors = {}
    for i, (key, value) in enumerate(records):
        p.produce(topic, key=key, value=value, on_delivery=lambda err, msg, i=i: errors.__setitem__(i, err))
        p.flush(30)
    assert p.flush(30) == 0
    return [errors[i] for i in range(len(records))]


def raw_produce(b, topic, batch):
    with kw.KafkaConn.to(b.bootstrap) as c:
        return c.produce(topic, 0, batch, version=9)


def log_end(b, topic):
    with kw.KafkaConn.to(b.bootstrap) as c:
        return c.list_offsets(topic, 0, kw.LATEST_TIMESTAMP)["offset"]


def test_configs_are_topic_configs(registry):
    admin = AdminClient({"bootstrap.servers": registry.bootstrap})
    create(registry, "cfg", {"confluent.value.schema.validation": "true",
                             "confluent.value.subject.name.strategy": STRATEGY.format("RecordNameStrategy")})
    res = ConfigResource(ConfigResource.Type.TOPIC, "cfg")
    described = admin.describe_configs([res])[res].result(15)
    assert described["confluent.value.schema.validation"].value == "true"
    assert described["confluent.value.subject.name.strategy"].value == STRATEGY.format("RecordNameStrategy")
    assert described["confluent.key.schema.validation"].value == "false"
    assert described["confluent.key.subject.name.strategy"].value == STRATEGY.format("TopicNameStrategy")
    alter = ConfigResource(ConfigResource.Type.TOPIC, "cfg", incremental_configs=[
        ConfigEntry("confluent.key.schema.validation", "true", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([alter])[alter].result(15)
    assert admin.describe_configs([res])[res].result(15)["confluent.key.schema.validation"].value == "true"
    bad = ConfigResource(ConfigResource.Type.TOPIC, "cfg", incremental_configs=[
        ConfigEntry("confluent.value.subject.name.strategy", "com.acme.Mine",
                    incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as e:
        admin.incremental_alter_configs([bad])[bad].result(15)
    assert e.value.args[0].code() == KafkaError.INVALID_CONFIG
    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic("cfg2", 1, 1, config={"confluent.key.schema.validation": "yes"})])["cfg2"].result(15)
    assert e.value.args[0].code() == KafkaError.INVALID_CONFIG


def test_every_serializer_is_accepted(registry):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    both = {**VALIDATE_VALUES, "confluent.key.schema.validation": "true"}
    for topic in ("t-avro", "t-json", "t-pb"):
        create(registry, topic, both)
    key_ser = AvroSerializer(registry.sr, '"string"')
    value_sers = {
        "t-avro": (AvroSerializer(registry.sr, avro("Order")), [{"a": i} for i in range(3)]),
        "t-json": (JSONSerializer(json.dumps({"title": "Reading", "type": "object",
                                               "properties": {"a": {"type": "integer"}}}), registry.sr),
                   [{"a": i} for i in range(3)]),
    }
    fdp = descriptor_pb2.FileDescriptorProto(name="v.proto", package="sluice.test", syntax="proto3")
    m = fdp.message_type.add(name="Reading")
    m.field.add(name="a", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    Reading = message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.test.Reading"))
    value_sers["t-pb"] = (ProtobufSerializer(Reading, registry.sr, {"use.deprecated.format": False}),
                          [Reading(a=i) for i in range(3)])
    for topic, (ser, values) in value_sers.items():
        records = [(key_ser(f"k{i}", SerializationContext(topic, MessageField.KEY)),
                    ser(v, SerializationContext(topic, MessageField.VALUE))) for i, v in enumerate(values)]
        # A tombstone (null value) passes, as on Confluent Server.
        records.append((records[0][0], None))
        assert produce_each(registry, topic, records) == [None] * 4, topic
        assert log_end(registry, topic) == 4
    # A compressed batch of valid records is accepted too.
    ser, values = value_sers["t-avro"]
    records = [(key_ser("k", SerializationContext("t-avro", MessageField.KEY)),
                ser(v, SerializationContext("t-avro", MessageField.VALUE))) for v in values]
    assert produce_each(registry, "t-avro", records, **{"compression.type": "lz4"}) == [None] * 3


def test_refusals_name_the_record(registry):
    topic = "checked"
    create(registry, topic, VALIDATE_VALUES)
    mine = registry.sr.register_schema(f"{topic}-value", Schema(avro("Mine"), "AVRO"))
    other = registry.sr.register_schema("elsewhere-value", Schema(avro("Other"), "AVRO"))
    assert mine != other
    errors = produce_each(registry, topic, [
        (None, framed(mine)),
        (None, framed(99999)),
        (None, framed(other)),
        (None, b"no magic byte"),
        (None, b"\0\0\0"),
        (b"unframed keys pass: only values are checked", framed(mine)),
    ])
    assert errors[0] is None and errors[5] is None, errors
    for e in errors[1:5]:
        assert e is not None and e.code() == KafkaError.INVALID_RECORD, errors
    assert log_end(registry, topic) == 2

    # The record errors (KIP-467) name the refused records of a batch by index.
    batch = kw.record_batch([(None, framed(mine)), (None, framed(other)), (None, framed(mine)), (None, b"x")])
    p = raw_produce(registry, topic, batch)
    assert p["error_code"] == 87, p
    assert [r["batch_index"] for r in p["record_errors"]] == [1, 3], p
    assert f"schema id {other} is not registered under subject {topic}-value" in p["record_errors"][0]["message"]
    assert "magic byte" in p["record_errors"][1]["message"]
    assert "record 1" in p["error_message"], p
    assert log_end(registry, topic) == 2

    # Keys are checked when key validation is on; a null key passes.
    create(registry, "keyed", {"confluent.key.schema.validation": "true"})
    key_id = registry.sr.register_schema("keyed-key", Schema('"string"', "AVRO"))
    errors = produce_each(registry, "keyed", [(framed(key_id), b"v"), (None, b"v"), (b"plain", b"v")])
    assert errors[0] is None and errors[1] is None
    assert errors[2].code() == KafkaError.INVALID_RECORD


def test_compressed_batches_are_checked(registry):
    topic = "packed"
    create(registry, topic, VALIDATE_VALUES)
    mine = registry.sr.register_schema(f"{topic}-value", Schema(avro("Packed"), "AVRO"))
    # One gzip batch from the client, one bad record in it: the whole batch is refused.
    p = Producer({"bootstrap.servers": registry.bootstrap, "compression.type": "gzip",
                  "linger.ms": 2000, "retries": 0})
    errors = {}
    for i, value in enumerate([framed(mine), framed(mine), b"not framed", framed(mine)]):
        p.produce(topic, value=value, on_delivery=lambda err, msg, i=i: errors.__setitem__(i, err))
    assert p.flush(30) == 0
    assert errors[2] is not None and errors[2].code() == KafkaError.INVALID_RECORD, errors
    assert all(e is not None for e in errors.values()), errors
    assert log_end(registry, topic) == 0
    # The record error points into the decompressed records.
    records = b"".join(kw.encode_record(i, None, v) for i, v in enumerate([framed(mine), framed(424242)]))
    batch = kw.record_batch([None, None], attributes=1, records_bytes=gzip.compress(records))
    answer = raw_produce(registry, topic, batch)
    assert answer["error_code"] == 87, answer
    assert [r["batch_index"] for r in answer["record_errors"]] == [1], answer
    assert "schema id 424242 is not a registered schema" in answer["record_errors"][0]["message"]
    assert log_end(registry, topic) == 0


def test_record_name_strategies(registry):
    from confluent_kafka.schema_registry import record_subject_name_strategy, topic_record_subject_name_strategy

    create(registry, "trn", {**VALIDATE_VALUES,
                             "confluent.value.subject.name.strategy": STRATEGY.format("TopicRecordNameStrategy")})
    create(registry, "rn", {**VALIDATE_VALUES,
                            "confluent.value.subject.name.strategy": STRATEGY.format("RecordNameStrategy")})
    trn = AvroSerializer(registry.sr, avro("Trn"), conf={"subject.name.strategy": topic_record_subject_name_strategy})
    rn = AvroSerializer(registry.sr, avro("Rn"), conf={"subject.name.strategy": record_subject_name_strategy})
    ok_trn = trn({"a": 1}, SerializationContext("trn", MessageField.VALUE))
    ok_rn = rn({"a": 1}, SerializationContext("rn", MessageField.VALUE))
    assert registry.sr.get_latest_version("trn-sluice.test.Trn").schema_id == struct.unpack(">i", ok_trn[1:5])[0]
    foreign = registry.sr.register_schema("other-sluice.test.X", Schema(avro("X"), "AVRO"))
    assert produce_each(registry, "trn", [(None, ok_trn), (None, framed(foreign))])[0] is None
    assert produce_each(registry, "trn", [(None, framed(foreign))])[0].code() == KafkaError.INVALID_RECORD
    # RecordNameStrategy: any subject may be the record's name; an unknown id is still refused.
    assert produce_each(registry, "rn", [(None, ok_rn), (None, framed(foreign))]) == [None, None]
    assert produce_each(registry, "rn", [(None, framed(31337))])[0].code() == KafkaError.INVALID_RECORD


def test_without_a_registry_validating_topics_refuse_produces(broker):
    create(broker, "strict", VALIDATE_VALUES)
    create(broker, "free", {})
    answer = raw_produce(broker, "strict", kw.record_batch([(None, framed(1))]))
    assert answer["error_code"] == 87, answer
    assert "runs no schema registry" in answer["error_message"], answer
    errors = produce_each(broker, "strict", [(None, framed(1))])
    assert errors[0].code() == KafkaError.INVALID_RECORD
    assert produce_each(broker, "free", [(None, b"anything")]) == [None]
