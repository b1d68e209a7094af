"""``sluice schema register|get|list|delete|check`` against the built-in registry, and
``sluice consume --format json --schema-registry URL`` decoding values that confluent-kafka's
AvroSerializer, JSONSerializer and ProtobufSerializer wrote, and the console's message browser
showing the same values decoded (issue 13, item 5).

Every CLI run is bounded; consumers stop by themselves (``-e``).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from harness import free_port, run, sluice_bin, wait_for_port

TIMEOUT = 60


@pytest.fixture
def registry(broker_factory):
    port, http_port = free_port(), free_port()
    b = broker_factory(settings={"sluice.schema.registry.listen": f"127.0.0.1:{port}",
                                 "sluice.http.listen": f"127.0.0.1:{http_port}"})
    assert wait_for_port("127.0.0.1", port, 10), b.log_tail()
    assert wait_for_port("127.0.0.1", http_port, 10), b.log_tail()
    b.registry_url = f"http://127.0.0.1:{port}"
    b.console_url = f"http://127.0.0.1:{http_port}"
    return b


def schema_cli(b, *args, check=True):
    return run([sluice_bin(), "schema", *[str(a) for a in args], "--schema-registry", b.registry_url],
               check=check, timeout=TIMEOUT)


def one_json(r):
    return json.loads(r.stdout.strip())


def avro(*fields):
    return json.dumps({"type": "record", "name": "Order", "namespace": "sluice.cli",
                       "fields": [{"name": n, "type": t, **({"default": d} if d is not None else {})}
                                  for n, t, d in fields]})


def test_schema_commands(registry, tmp_path):
    v1 = avro(("a", "int", None))
    first = one_json(schema_cli(registry, "register", "orders-value", "--schema", v1))["id"]
    assert one_json(schema_cli(registry, "register", "orders-value", "--schema", v1))["id"] == first
    proto = tmp_path / "reading.proto"
    proto.write_text('syntax = "proto3";\npackage sluice.cli;\nmessage Reading { string sensor = 1; }\n')
    pb = one_json(schema_cli(registry, "register", "readings-value", "--file", proto, "--type", "PROTOBUF"))["id"]
    js = one_json(schema_cli(registry, "register", "j-value", "--type", "JSON",
                             "--schema", '{"type":"object"}'))["id"]
    assert len({first, pb, js}) == 3

    got = one_json(schema_cli(registry, "get", "--id", pb))
    assert got["schemaType"] == "PROTOBUF" and "message Reading" in got["schema"]
    latest = one_json(schema_cli(registry, "get", "orders-value"))
    assert (latest["id"], latest["version"], json.loads(latest["schema"])) == (first, 1, json.loads(v1))
    assert schema_cli(registry, "list").stdout.split() == ["j-value", "orders-value", "readings-value"]

    # check: a field with a default may be added (BACKWARD), a field without one may not.
    ok = schema_cli(registry, "check", "orders-value", "--schema", avro(("a", "int", None), ("b", "int", 0)))
    assert one_json(ok)["is_compatible"] is True
    bad = schema_cli(registry, "check", "orders-value", "--schema", avro(("a", "int", None), ("b", "int", None)),
                     check=False)
    assert bad.returncode != 0 and one_json(bad)["is_compatible"] is False
    assert "not compatible" in bad.stderr

    second = one_json(schema_cli(registry, "register", "orders-value", "--schema",
                                 avro(("a", "int", None), ("b", "int", 0))))["id"]
    assert second == max(first, pb, js) + 1
    assert schema_cli(registry, "list", "orders-value").stdout.split() == ["1", "2"]
    assert one_json(schema_cli(registry, "delete", "orders-value", "--version", "1")) == 1
    assert schema_cli(registry, "list", "orders-value").stdout.split() == ["2"]
    assert schema_cli(registry, "list", "orders-value", "--deleted").stdout.split() == ["1", "2"]
    assert one_json(schema_cli(registry, "delete", "orders-value", "--version", "1", "--permanent")) == 1
    assert one_json(schema_cli(registry, "delete", "j-value")) == [1]
    assert schema_cli(registry, "list").stdout.split() == ["orders-value", "readings-value"]

    # The registry's error comes back as one line, with its code.
    r = schema_cli(registry, "get", "no-such-subject", check=False)
    assert r.returncode != 0 and "40401" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run([sluice_bin(), "schema", "list", "--schema-registry", f"http://127.0.0.1:{free_port()}"],
            check=False, timeout=TIMEOUT)
    assert r.returncode != 0 and "cannot connect" in r.stderr


def test_consume_decodes_framed_values(registry):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    sr = SchemaRegistryClient({"url": registry.registry_url})
    fdp = descriptor_pb2.FileDescriptorProto(name="c.proto", package="sluice.cli", syntax="proto3")
    m = fdp.message_type.add(name="Reading")
    m.field.add(name="sensor", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    m.field.add(name="value", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    Reading = message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.cli.Reading"))
    cases = {
        "c-avro": (AvroSerializer(sr, avro(("a", "int", None), ("s", "string", None))),
                   [{"a": i, "s": f"x{i}"} for i in range(3)], "avro", lambda v: v),
        "c-json": (JSONSerializer(json.dumps({"type": "object", "properties": {"a": {"type": "integer"}}}), sr),
                   [{"a": i} for i in range(3)], "json", lambda v: v),
        "c-pb": (ProtobufSerializer(Reading, sr, {"use.deprecated.format": False}),
                 [Reading(sensor=f"s{i}", value=i + 1) for i in range(3)], "protobuf",
                 lambda v: {"sensor": v.sensor, "value": str(v.value)}),
    }
    p = Producer({"bootstrap.servers": registry.bootstrap})
    for topic, (ser, values, _, _) in cases.items():
        for v in values:
            p.produce(topic, value=ser(v, SerializationContext(topic, MessageField.VALUE)))
        p.produce(topic, value=b"not framed")
    assert p.flush(30) == 0
    for topic, (_, values, encoding, expect) in cases.items():
        r = run([sluice_bin(), "consume", topic, "--from-beginning", "-e", "--format", "json",
                 "--schema-registry", registry.registry_url, "-b", registry.bootstrap], timeout=TIMEOUT)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        schema_id = sr.get_latest_version(f"{topic}-value").schema_id
        assert [(x["value"], x["value_encoding"], x["value_schema_id"]) for x in lines[:3]] == [
            (expect(v), encoding, schema_id) for v in values], topic
        assert (lines[3]["value"], lines[3]["value_encoding"]) == ("not framed", "utf8")
        # The console's message browser shows the same values decoded by the broker.
        with urllib.request.urlopen(f"{registry.console_url}/api/topics/{topic}/messages?order=oldest",
                                    timeout=TIMEOUT) as resp:
            page = json.loads(resp.read())
        assert [m["value_decoded"] for m in page["messages"]] == [
            {"schema_id": schema_id, "format": encoding, "value": expect(v)} for v in values] + [None], topic
    r = run([sluice_bin(), "consume", "c-avro", "-e", "--schema-registry", registry.registry_url,
             "-b", registry.bootstrap], check=False, timeout=TIMEOUT)
    assert r.returncode != 0 and "--format json" in r.stderr
