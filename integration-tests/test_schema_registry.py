"""The built-in schema registry (issue 13) driven by confluent-kafka's SchemaRegistryClient,
AvroSerializer and AvroDeserializer against the real broker: typed records end to end, each
compatibility level refusing an incompatible change with 409, references, soft and hard
deletes, ids kept across kill -9, and concurrent registrations from several processes getting
distinct, dense ids. Plus the raw REST details real clients rely on (content types, boolean
flags in any case, Confluent's error bodies, 4xx for bad input).

Load size: SLUICE_SR_REGISTRATIONS (default 200) registrations over 4 processes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    SchemaRegistryError,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from harness import free_port, wait_for_port


def record(name, fields, namespace="sluice.test"):
    return json.dumps({"type": "record", "name": name, "namespace": namespace, "fields": fields})


A_INT = {"name": "a", "type": "int"}


@pytest.fixture
def registry(broker_factory):
    port = free_port()
    b = broker_factory(settings={"sluice.schema.registry.listen": f"127.0.0.1:{port}"})
    assert wait_for_port("127.0.0.1", port, 10), b.log_tail()
    b.registry_url = f"http://127.0.0.1:{port}"
    return b


def client(b):
    return SchemaRegistryClient({"url": b.registry_url})


def http(b, method, path, body=None, content_type="application/vnd.schemaregistry.v1+json"):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(b.registry_url + path, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), json.loads(e.read() or b"null")


def test_avro_records_end_to_end(registry):
    sr = client(registry)
    schema = record("Order", [A_INT, {"name": "item", "type": "string"}])
    ser = AvroSerializer(sr, schema)
    de = AvroDeserializer(sr)
    topic = "orders"
    p = Producer({"bootstrap.servers": registry.bootstrap})
    sent = [{"a": i, "item": f"thing-{i}"} for i in range(5)]
    for v in sent:
        p.produce(topic, value=ser(v, SerializationContext(topic, MessageField.VALUE)))
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": registry.bootstrap, "group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got, raw = [], []
    try:
        while len(got) < len(sent):
            m = c.poll(10)
            assert m is not None, "no record within 10 s"
            assert m.error() is None, m.error()
            raw.append(m.value())
            got.append(de(m.value(), SerializationContext(topic, MessageField.VALUE)))
    finally:
        c.close()
    assert got == sent
    latest = sr.get_latest_version("orders-value")
    assert latest.version == 1
    # Confluent's wire format: magic byte 0, then the 4-byte big-endian schema id.
    assert all(v[0] == 0 and int.from_bytes(v[1:5], "big") == latest.schema_id for v in raw)
    assert sr.get_subjects() == ["orders-value"]
    # The same schema again is the same id and version; another subject shares the id.
    assert sr.register_schema("orders-value", Schema(schema, "AVRO")) == latest.schema_id
    assert sr.register_schema("other-value", Schema(schema, "AVRO")) == latest.schema_id
    assert sorted(sr.get_subjects_by_schema_id(latest.schema_id)) == ["orders-value", "other-value"]


# (level, versions registered first, the change it must refuse)
def level_cases():
    v1 = record("R", [A_INT])
    add_no_default = record("R", [A_INT, {"name": "b", "type": "string"}])
    with_b = record("R", [A_INT, {"name": "b", "type": "string"}])
    drop_b = record("R", [A_INT])
    # v2 drops a (readers of v1 data ignore it); v3 brings a back as a string: fine against
    # v2, not against v1.
    v2 = record("R", [{"name": "b", "type": "int", "default": 0}])
    v3 = record("R", [{"name": "b", "type": "int", "default": 0}, {"name": "a", "type": "string", "default": ""}])
    return [
        ("BACKWARD", [v1], add_no_default),
        ("BACKWARD_TRANSITIVE", [v1, v2], v3),
        ("FORWARD", [with_b], drop_b),
        ("FORWARD_TRANSITIVE", [with_b, record("R", [A_INT, {"name": "b", "type": "string"}, {"name": "c", "type": "int", "default": 1}])], drop_b),
        ("FULL", [v1], add_no_default),
        ("FULL_TRANSITIVE", [with_b, record("R", [A_INT, {"name": "b", "type": "string"}, {"name": "c", "type": "int", "default": 1}])], drop_b),
    ]


def test_incompatible_change_is_refused_with_409_under_each_level(registry):
    sr = client(registry)
    for level, first, change in level_cases():
        subject = f"level-{level.lower()}"
        sr.set_compatibility(subject, level)
        assert sr.get_compatibility(subject) == level
        for s in first:
            sr.register_schema(subject, Schema(s, "AVRO"))
        assert not sr.test_compatibility_all_versions(subject, Schema(change, "AVRO")), level
        with pytest.raises(SchemaRegistryError) as e:
            sr.register_schema(subject, Schema(change, "AVRO"))
        assert (e.value.http_status_code, e.value.error_code) == (409, 409), level
        assert sr.get_versions(subject) == list(range(1, len(first) + 1))
    # The non-transitive level accepts what only the transitive one refuses.
    _, first, change = level_cases()[1]
    sr.set_compatibility("level-backward-plain", "BACKWARD")
    for s in first:
        sr.register_schema("level-backward-plain", Schema(s, "AVRO"))
    sr.register_schema("level-backward-plain", Schema(change, "AVRO"))
    # NONE accepts anything of the same format, the default level is BACKWARD.
    sr.set_compatibility("level-none", "NONE")
    sr.register_schema("level-none", Schema(record("R", [A_INT]), "AVRO"))
    sr.register_schema("level-none", Schema(record("R", [{"name": "a", "type": "string"}]), "AVRO"))
    assert sr.get_compatibility() == "BACKWARD"
    status, _, body = http(registry, "POST", "/compatibility/subjects/level-backward/versions/latest?verbose=True",
                           {"schema": level_cases()[0][2]})
    assert status == 200 and body["is_compatible"] is False and body["messages"], body


def test_references(registry):
    sr = client(registry)
    address = record("Address", [{"name": "city", "type": "string"}])
    person = record("Person", [{"name": "name", "type": "string"}, {"name": "home", "type": "Address"}])
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema("person-value", Schema(person, "AVRO"))
    assert (e.value.http_status_code, e.value.error_code) == (422, 42201)
    sr.register_schema("address", Schema(address, "AVRO"))
    refs = [SchemaReference("sluice.test.Address", "address", 1)]
    ser = AvroSerializer(sr, Schema(person, "AVRO", refs))
    ctx = SerializationContext("people", MessageField.VALUE)
    value = {"name": "Ada", "home": {"city": "London"}}
    data = ser(value, ctx)
    assert AvroDeserializer(sr)(data, ctx) == value
    person_id = int.from_bytes(data[1:5], "big")
    got = sr.get_schema(person_id)
    assert [(r.name, r.subject, r.version) for r in got.references] == [("sluice.test.Address", "address", 1)]
    assert sr.get_referenced_by("address", 1) == [person_id]
    with pytest.raises(SchemaRegistryError) as e:
        sr.delete_subject("address")
    assert (e.value.http_status_code, e.value.error_code) == (422, 42206)


def test_soft_and_hard_delete(registry):
    sr = client(registry)
    s = "del-value"
    id1 = sr.register_schema(s, Schema(record("R", [A_INT]), "AVRO"))
    id2 = sr.register_schema(s, Schema(record("R", [A_INT, {"name": "b", "type": "int", "default": 0}]), "AVRO"))
    assert id2 == id1 + 1
    assert sr.delete_version(s, 2) == 2
    assert sr.get_versions(s) == [1]
    status, ctype, body = http(registry, "GET", f"/subjects/{s}/versions?deleted=True")
    assert (status, body) == (200, [1, 2]) and ctype.startswith("application/vnd.schemaregistry.v1+json")
    assert sr.get_schema(id2).schema_str  # a soft-deleted version's id still resolves
    with pytest.raises(SchemaRegistryError) as e:
        sr.delete_subject(s, permanent=True)
    assert e.value.error_code == 40405
    assert sr.delete_subject(s) == [1]
    assert s not in sr.get_subjects()
    assert s in sr.get_subjects(deleted=True)
    with pytest.raises(SchemaRegistryError) as e:
        sr.get_latest_version(s)
    assert (e.value.http_status_code, e.value.error_code) == (404, 40401)
    assert sorted(sr.delete_subject(s, permanent=True)) == [1, 2]
    assert s not in sr.get_subjects(deleted=True)
    status, _, body = http(registry, "GET", f"/schemas/ids/{id2}")
    assert (status, body["error_code"]) == (404, 40403)
    # Ids are never given again: the next schema gets a new one.
    id3 = sr.register_schema(s, Schema(record("R", [A_INT]), "AVRO"))
    assert id3 == id2 + 1


def test_rest_details_and_bad_input(registry):
    for ctype in ["application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json", "application/json", None]:
        status, _, body = http(registry, "POST", "/subjects/ct-value/versions?normalize=False", {"schema": '"string"'}, ctype)
        assert (status, body) == (200, {"id": 1}), (ctype, body)
    assert http(registry, "GET", "/")[0] == 200
    assert http(registry, "GET", "/schemas/types")[2] == ["JSON", "PROTOBUF", "AVRO"]
    assert http(registry, "GET", "/v1/metadata/id")[2]["scope"]["clusters"]["kafka-cluster"]
    assert http(registry, "POST", "/subjects/ct-value?deleted=TRUE", {"schema": '"string"'})[2]["version"] == 1
    assert http(registry, "GET", "/subjects/ct-value/versions/1/schema")[2] == "string"
    bad = [
        ("POST", "/subjects/x/versions", {"schema": "{not json"}, 422, 42201),
        ("POST", "/subjects/x/versions", {"schema": ""}, 422, 42201),
        ("POST", "/subjects/x/versions", {"schema": '"int"', "schemaType": "XML"}, 422, 42201),
        ("POST", "/subjects/x/versions", {"schema": 5}, 422, 422),
        ("GET", "/subjects/ct-value/versions/0", None, 422, 42202),
        ("GET", "/subjects/ct-value/versions/abc", None, 422, 42202),
        ("GET", "/subjects/ct-value/versions/7", None, 404, 40402),
        ("GET", "/subjects/none/versions", None, 404, 40401),
        ("GET", "/schemas/ids/999", None, 404, 40403),
        ("GET", "/schemas/ids/x", None, 404, 404),
        ("PUT", "/config", {"compatibility": "SOMETIMES"}, 422, 42203),
        ("PUT", "/mode", {"mode": "WRITEONLY"}, 422, 42204),
        ("GET", "/config/ct-value", None, 404, 40408),
        ("POST", "/subjects/ct-value", {"schema": '"int"'}, 404, 40403),
        ("GET", "/no/such/path", None, 404, 404),
        ("PATCH", "/config", {}, 405, 405),
    ]
    for method, path, body, status, code in bad:
        got_status, ctype, got = http(registry, method, path, body)
        assert (got_status, got.get("error_code")) == (status, code), (method, path, got)
        assert isinstance(got.get("message"), str) and ctype.startswith("application/vnd.schemaregistry")
    # A malformed body is a 400 with Confluent's error body, never a 5xx.
    req = urllib.request.Request(registry.registry_url + "/subjects/x/versions", data=b"{", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400 and json.loads(e.value.read())["error_code"] == 400
    # Modes: READONLY refuses writes with 42205, IMPORT keeps the ids it is given.
    assert http(registry, "PUT", "/mode", {"mode": "READONLY"})[2] == {"mode": "READONLY"}
    status, _, body = http(registry, "POST", "/subjects/ro/versions", {"schema": '"int"'})
    assert (status, body["error_code"]) == (422, 42205)
    assert http(registry, "PUT", "/mode?force=true", {"mode": "IMPORT"})[0] == 200
    status, _, body = http(registry, "POST", "/subjects/imported/versions", {"schema": '"long"', "id": 500, "version": 4})
    assert (status, body) == (200, {"id": 500})
    assert http(registry, "PUT", "/mode", {"mode": "READWRITE"})[0] == 200
    assert http(registry, "GET", "/subjects/imported/versions")[2] == [4]


def test_ids_stable_across_kill9(registry):
    sr = client(registry)
    ids = {}
    for i in range(5):
        subject = f"k{i}-value"
        schema = record(f"K{i}", [A_INT])
        ids[subject] = (sr.register_schema(subject, Schema(schema, "AVRO")), schema)
    registry.kill9()
    registry.start()
    assert wait_for_port("127.0.0.1", int(registry.registry_url.rsplit(":", 1)[1]), 10)
    sr = client(registry)
    for subject, (schema_id, schema) in ids.items():
        assert sr.get_latest_version(subject).schema_id == schema_id
        assert json.loads(sr.get_schema(schema_id).schema_str) == json.loads(schema)
    new = sr.register_schema("after-value", Schema(record("After", [A_INT]), "AVRO"))
    assert new == max(i for i, _ in ids.values()) + 1


def _register_many(url, worker, count, out):
    sr = SchemaRegistryClient({"url": url})
    got = []
    for i in range(count):
        subject = f"load-{worker}-{i}-value"
        schema = record(f"L{worker}x{i}", [A_INT])
        got.append((subject, sr.register_schema(subject, Schema(schema, "AVRO"))))
    out.put(got)


def test_concurrent_registrations_get_distinct_dense_ids(registry):
    total = int(os.environ.get("SLUICE_SR_REGISTRATIONS", "200"))
    workers = 4
    per = total // workers
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_register_many, args=(registry.registry_url, w, per, out)) for w in range(workers)]
    for p in procs:
        p.start()
    try:
        results = [item for _ in procs for item in out.get(timeout=240)]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    ids = sorted(i for _, i in results)
    assert ids == list(range(1, per * workers + 1))
    registry.kill9()
    registry.start()
    assert wait_for_port("127.0.0.1", int(registry.registry_url.rsplit(":", 1)[1]), 10)
    sr = client(registry)
    for subject, schema_id in results[:: max(1, len(results) // 20)]:
        assert sr.get_latest_version(subject).schema_id == schema_id
    assert len(sr.get_subjects()) == len(results)


def test_json_schema_records_and_compatibility(registry):
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer

    sr = client(registry)
    schema = json.dumps({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Reading",
        "type": "object",
        "properties": {"sensor": {"type": "string"}, "value": {"type": "integer"}},
        "required": ["sensor"],
        "additionalProperties": False,
    })
    ser = JSONSerializer(schema, sr)
    de = JSONDeserializer(None, schema_registry_client=sr)
    ctx = SerializationContext("readings", MessageField.VALUE)
    p = Producer({"bootstrap.servers": registry.bootstrap})
    sent = [{"sensor": f"s{i}", "value": i} for i in range(3)]
    for v in sent:
        p.produce("readings", value=ser(v, ctx))
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": registry.bootstrap, "group.id": "gj", "auto.offset.reset": "earliest"})
    c.subscribe(["readings"])
    got = []
    try:
        while len(got) < len(sent):
            m = c.poll(10)
            assert m is not None and m.error() is None
            got.append(de(m.value(), ctx))
    finally:
        c.close()
    assert got == sent
    latest = sr.get_latest_version("readings-value")
    assert latest.schema.schema_type == "JSON"
    # Closing the model: fine. Narrowing value to a bounded integer: refused (BACKWARD).
    narrowed = json.loads(schema)
    narrowed["properties"]["value"]["maximum"] = 10
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema("readings-value", Schema(json.dumps(narrowed), "JSON"))
    assert (e.value.http_status_code, e.value.error_code) == (409, 409)
    widened = json.loads(schema)
    widened["properties"]["value"] = {"type": "number"}
    assert sr.register_schema("readings-value", Schema(json.dumps(widened), "JSON")) > latest.schema_id
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema("bad-json", Schema('{"type": "strin"}', "JSON"))
    assert (e.value.http_status_code, e.value.error_code) == (422, 42201)


def test_protobuf_records_end_to_end(registry):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    fdp = descriptor_pb2.FileDescriptorProto(name="reading.proto", package="sluice.test", syntax="proto3")
    m = fdp.message_type.add(name="Reading")
    m.field.add(name="sensor", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    m.field.add(name="value", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    Reading = message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.test.Reading"))
    sr = client(registry)
    ser = ProtobufSerializer(Reading, sr, {"use.deprecated.format": False})
    de = ProtobufDeserializer(Reading, {"use.deprecated.format": False})
    ctx = SerializationContext("pb", MessageField.VALUE)
    p = Producer({"bootstrap.servers": registry.bootstrap})
    sent = [Reading(sensor=f"s{i}", value=i) for i in range(3)]
    for v in sent:
        p.produce("pb", value=ser(v, ctx))
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": registry.bootstrap, "group.id": "gp", "auto.offset.reset": "earliest"})
    c.subscribe(["pb"])
    got = []
    try:
        while len(got) < len(sent):
            msg = c.poll(10)
            assert msg is not None and msg.error() is None
            got.append(de(msg.value(), ctx))
    finally:
        c.close()
    assert got == sent
    latest = sr.get_latest_version("pb-value")
    assert latest.schema.schema_type == "PROTOBUF"
    status, _, body = http(registry, "GET", f"/schemas/ids/{latest.schema_id}?format=serialized")
    assert status == 200 and body["schemaType"] == "PROTOBUF"
    assert descriptor_pb2.FileDescriptorProto.FromString(__import__("base64").b64decode(body["schema"])).message_type[0].name == "Reading"
    # .proto text: a compatible change is accepted, a field number reused with another wire type is refused.
    text = 'syntax = "proto3";\npackage sluice.test;\nmessage Reading { string sensor = 1; int64 value = 2; %s }\n'
    assert sr.register_schema("pb-value", Schema(text % "bool ok = 3;", "PROTOBUF")) > latest.schema_id
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema("pb-value", Schema(text.replace("int64 value", "double value") % "", "PROTOBUF"))
    assert (e.value.http_status_code, e.value.error_code) == (409, 409)
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema("pb-bad", Schema('syntax = "proto3"; message M { Missing m = 1; }', "PROTOBUF"))
    assert (e.value.http_status_code, e.value.error_code) == (422, 42201)
