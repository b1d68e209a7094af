"""The web console (`/` on the admin HTTP side) end to end in Debian's Chromium, and its
JSON API (`/api/`) against its OpenAPI document.

- test_console_in_chromium: playwright-core (npm) drives /usr/bin/chromium through
  integration-tests/node/console_e2e.js: create a topic, produce from the form, find the
  record in the message browser, watch the live tail and its top keys update while
  confluent-kafka produces, see a group's lag fall as a confluent-kafka consumer
  consumes, reset the empty group's offsets, see an open transaction hold a partition
  back, find a share group (confluent-kafka's ShareConsumer) in the group list and its
  share-partition lag on its page, and a schema registered over the schema registry's
  REST API on the schema pages (pretty-printed). The script prints `STEP name` and waits for `GO`; this side does the Kafka part
  of each step. Screenshots go to $SLUICE_CONSOLE_SCREENSHOTS (docs/console/ in the
  repository is made that way) or the test's temporary directory.
- test_browse_pages_both_ways_and_searches_keys: pages newest and oldest first, key
  search bounded by search_records, positions by time.
- test_api_errors_are_json_4xx: bad input to each kind of endpoint gets a JSON 4xx with
  Kafka's error name where Kafka has one; a reset of a group with members is refused.
- test_schemathesis: schemathesis (PyPI) generates requests from /api/openapi.json against
  the live broker; no answer may be a server error. The live tail is left out: it is an
  endless event stream, which the Chromium test covers.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from confluent_kafka import AcknowledgeType, Consumer, Producer, ShareConsumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import free_port, run, wait_until
from share_wire import set_group_configs

NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = shutil.which("chromium")


def console_broker(broker_factory):
    """A broker with the admin HTTP side and the schema registry (at b.registry_url)."""
    port, registry = free_port(), free_port()
    b = broker_factory(
        settings={
            "sluice.http.listen": f"127.0.0.1:{port}",
            "sluice.schema.registry.listen": f"127.0.0.1:{registry}",
            "group.initial.rebalance.delay.ms": 0,
        }
    )
    url = f"http://127.0.0.1:{port}/"
    b.registry_url = f"http://127.0.0.1:{registry}/"
    wait_until(lambda: http(url + "ready")[0] == 200, timeout=30, message="/ready")
    return b, url


def register_schema(b, subject: str, fields: list[dict]) -> int:
    """Registers an Avro record schema over the registry's REST API; its id."""
    schema = json.dumps({"type": "record", "name": "Product", "fields": fields}, separators=(",", ":"))
    status, r = http(b.registry_url + f"subjects/{subject}/versions", "POST", {"schema": schema})
    assert status == 200, (status, r)
    return r["id"]


def start_share_group(b, topic: str, group: str):
    """A ShareConsumer of `group` that got records 0-9 of one-partition `topic`, accepted
    0-5 and holds 6-9 (start offset 6, lag 4), still a member; the caller closes it."""
    creator = AdminClient({"bootstrap.servers": b.bootstrap})
    creator.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(15)
    set_group_configs(b.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    produce(b.bootstrap, topic, [(None, b"r%d" % i) for i in range(10)])
    c = ShareConsumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                       "share.acknowledgement.mode": "explicit"})
    try:
        c.subscribe([topic])
        got, deadline = [], time.monotonic() + 40
        while len(got) < 10 and time.monotonic() < deadline:
            got.extend(m for m in c.poll(0.5) or [] if m.error() is None)
        assert sorted(m.offset() for m in got) == list(range(10)), [m.offset() for m in got]
        for m in got:
            if m.offset() < 6:
                c.acknowledge(m, AcknowledgeType.ACCEPT)
        c.commit_sync()
    except BaseException:
        c.close()
        raise
    return c


def http(url: str, method: str = "GET", body=None, timeout: float = 10):
    """(status, parsed JSON body or text) of one request; HTTP errors are answers too."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, method=method, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Script:
    """console_e2e.js as a child process, spoken to line by line."""

    def __init__(self, args, timeout: float):
        self.deadline = time.monotonic() + timeout
        self.out: list[str] = []
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.p = subprocess.Popen(
            ["node", str(NODE_DIR / "console_e2e.js"), *args],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "CHROMIUM": CHROMIUM or "/usr/bin/chromium"},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_step(self) -> str | None:
        """The next STEP name, or None once the script ended."""
        while True:
            left = self.deadline - time.monotonic()
            assert left > 0, "console_e2e.js took too long:\n" + "\n".join(self.out[-60:])
            try:
                line = self.lines.get(timeout=min(left, 1))
            except queue.Empty:
                continue
            if line is None:
                self.p.wait(10)
                return None
            self.out.append(line)
            if line.startswith("STEP "):
                return line[5:]

    def go(self):
        self.p.stdin.write("GO\n")
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


def produce(bootstrap, topic, records, partition=None):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value in records:
        if partition is None:
            p.produce(topic, key=key, value=value)
        else:
            p.produce(topic, key=key, value=value, partition=partition)
    assert p.flush(30) == 0


def consume_all(consumer, n, timeout=30):
    got = 0
    deadline = time.monotonic() + timeout
    while got < n and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got += 1
    assert got == n, f"consumed {got} of {n}"


def test_console_in_chromium(broker_factory, tmp_path):
    assert CHROMIUM, "chromium is not installed: run scripts/install-test-deps.sh"
    assert (NODE_DIR / "node_modules" / "playwright-core").is_dir(), "playwright-core missing: run scripts/install-test-deps.sh"
    b, url = console_broker(broker_factory)
    topic, group = "console-e2e", "console-group"
    shots = Path(os.environ.get("SLUICE_CONSOLE_SCREENSHOTS") or tmp_path / "shots").resolve()
    shots.mkdir(parents=True, exist_ok=True)
    script = Script([url, str(shots), topic, group], timeout=240)
    consumer = txn = load = share = None
    stop_load = threading.Event()
    total = 1  # the record produced from the form
    try:
        while (step := script.next_step()) is not None:
            if step == "produce_for_tail":
                records = [(b"product-7", b"view")] * 20 + [(f"product-{i}".encode(), b"view") for i in range(10)]
                produce(b.bootstrap, topic, records)
                total += len(records)
            elif step == "group_partly_consumed":
                # Committed at 0 everywhere, without joining: the whole topic is lag.
                c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
                c.commit(offsets=[TopicPartition(topic, p, 0) for p in range(3)], asynchronous=False)
                c.close()
            elif step == "group_consume_rest":
                consumer = Consumer(
                    {
                        "bootstrap.servers": b.bootstrap,
                        "group.id": group,
                        "enable.auto.commit": False,
                        "auto.offset.reset": "earliest",
                    }
                )
                consumer.subscribe([topic])
                consume_all(consumer, total)
                consumer.commit(asynchronous=False)
                # While the consumer is a member, an offset reset is refused with
                # the coordinator's error, as Kafka refuses it.
                status, body = http(url + f"api/groups/{group}/reset-offsets", "POST", {"to": "earliest"})
                assert status == 409 and body.get("error_name") == "UNKNOWN_MEMBER_ID", (status, body)
            elif step == "group_empty":
                consumer.close()
                consumer = None
            elif step == "open_transaction":
                txn = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "console-txn"})
                txn.init_transactions(30)
                txn.begin_transaction()
                txn.produce(topic, key=b"in-txn", value=b"pending", partition=2)
                assert txn.flush(30) == 0
            elif step == "close_transaction":
                txn.abort_transaction(30)
                txn = None
            elif step == "share_group":
                share = start_share_group(b, topic + "-share", group + "-share")
            elif step == "share_group_done":
                share.close()
                share = None
            elif step == "schema_registered":
                register_schema(b, topic + "-value", [{"name": "id", "type": "string"}])
                register_schema(b, topic + "-value", [{"name": "id", "type": "string"},
                                                      {"name": "price", "type": "double", "default": 0}])
            elif step == "load_for_overview":

                def traffic():
                    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
                    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "console-load", "auto.offset.reset": "earliest"})
                    c.subscribe([topic])
                    i = 0
                    while not stop_load.is_set():
                        for _ in range(20):
                            p.produce(topic, key=f"product-{i % 13}".encode(), value=b"x" * 200)
                            i += 1
                        p.poll(0)
                        c.poll(0.05)
                        time.sleep(0.05)
                    p.flush(10)
                    c.close()

                load = threading.Thread(target=traffic, daemon=True)
                load.start()
            else:
                raise AssertionError(f"unknown step {step}")
            script.go()
        stop_load.set()
        output = "\n".join(script.out)
        assert script.p.returncode == 0 and "PASSED" in output, output
        for name in ["overview", "topics", "topic", "groups", "group", "transactions", "share-group", "schemas", "schema"]:
            assert (shots / f"{name}.png").stat().st_size > 10_000, name
    finally:
        stop_load.set()
        if load is not None:
            load.join(20)
        script.kill()
        if consumer is not None:
            consumer.close()
        if txn is not None:
            txn.abort_transaction(10)
        if share is not None:
            share.close()


def test_api_errors_are_json_4xx(broker_factory):
    b, url = console_broker(broker_factory)
    api = url + "api/"
    assert http(api + "topics", "POST", {"name": "t", "partitions": 2})[0] == 201
    cases = [
        ("GET", "topics/nope", None, 404, "UNKNOWN_TOPIC_OR_PARTITION"),
        ("POST", "topics", {"name": "t", "partitions": 2}, 409, "TOPIC_ALREADY_EXISTS"),
        ("POST", "topics", {"name": "bad/name"}, 400, "INVALID_TOPIC_EXCEPTION"),
        ("POST", "topics", {"name": "x", "partitions": 0}, 400, None),
        ("POST", "topics", b"{not json", 400, None),
        ("PATCH", "topics/t/configs", {"set": {"retention.ms": "soon"}}, 400, "INVALID_CONFIG"),
        ("GET", "topics/t/messages?partition=9", None, 404, "UNKNOWN_TOPIC_OR_PARTITION"),
        ("GET", "topics/t/messages?limit=100000", None, 400, None),
        ("GET", "topics/t/messages?order=sideways", None, 400, None),
        ("GET", "topics/t/messages?offset=abc", None, 400, None),
        ("POST", "topics/t/messages", {"value": "x", "encoding": "base64"}, 400, None),
        ("POST", "topics/nope/messages", {"value": "x"}, 404, "UNKNOWN_TOPIC_OR_PARTITION"),
        ("GET", "topics/t/tail?window_ms=0", None, 400, None),
        ("GET", "groups/none", None, 404, "GROUP_ID_NOT_FOUND"),
        ("POST", "groups/g/reset-offsets", {"to": "yesterday"}, 400, None),
        ("GET", "groups?type=streams", None, 400, None),
        ("GET", "share-groups/none", None, 404, "GROUP_ID_NOT_FOUND"),
        ("POST", "acls", {"resource_type": "TOPIC", "resource_name": "t", "principal": "User:a", "operation": "ANY"}, 400, None),
        ("POST", "acls", {"resource_type": "TOPIC"}, 422, None),
        ("DELETE", "acls?resource_type=TOPIC", None, 400, None),
        ("PUT", "users/x", {"password": ""}, 400, None),
        ("PUT", "users/x", {"password": "p", "iterations": 1}, 400, None),
        ("DELETE", "users/nobody", None, 404, "RESOURCE_NOT_FOUND"),
        ("GET", "schemas/nope/versions/1", None, 404, None),
        ("GET", "schemas/nope/versions/first", None, 422, None),
    ]
    for method, path, body, status, name in cases:
        got, answer = http(api + path, method, body)
        assert got == status, (method, path, got, answer)
        assert isinstance(answer, dict) and answer.get("error"), (method, path, answer)
        if name:
            assert answer.get("error_name") == name, (method, path, answer)
    # The produced record comes back byte for byte, repeated header names and all.
    status, r = http(api + "topics/t/messages", "POST", {"partition": 1, "key": "azE=", "value": "AAH/", "encoding": "base64",
                                                          "headers": [{"key": "h", "value": "MQ=="}, {"key": "h", "value": None}]})
    assert status == 201 and r["partition"] == 1, r
    status, page = http(api + "topics/t/messages?partition=1&order=oldest")
    assert status == 200
    [m] = page["messages"]
    assert (m["key"], m["value"], m["headers"]) == ("azE=", "AAH/", [{"key": "h", "value": "MQ=="}, {"key": "h", "value": None}])
    status, _ = http(api + "topics/t/messages", "PUT", {})
    assert status == 405
    # No authorizer on this broker: the ACL list says so rather than failing.
    assert http(api + "acls") == (200, {"authorizer_enabled": False, "acls": [], "truncated": False})


def test_schemathesis(broker_factory):
    b, url = console_broker(broker_factory)
    # Something to find: a topic with records and a group with committed offsets.
    assert http(url + "api/topics", "POST", {"name": "seeded", "partitions": 2})[0] == 201
    produce(b.bootstrap, "seeded", [(f"k{i}".encode(), b"v") for i in range(20)])
    register_schema(b, "seeded-value", [{"name": "id", "type": "string"}])
    st = Path(sys.executable).parent / "schemathesis"
    r = run(
        [
            str(st), "run", url + "api/openapi.json", "--url", url.rstrip("/"),
            "--checks", "not_a_server_error", "--max-examples", "10", "--seed", "1",
            "--workers", "1", "--request-timeout", "20",
            "--exclude-path", "/api/topics/{topic}/tail",
        ],
        timeout=150,
        check=False,
        tail_lines=120,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert b.is_running()


def test_browse_pages_both_ways_and_searches_keys(broker_factory):
    b, url = console_broker(broker_factory)
    api = url + "api/topics/pages/messages"
    assert http(url + "api/topics", "POST", {"name": "pages", "partitions": 1})[0] == 201
    produce(b.bootstrap, "pages", [(f"k{i % 3}".encode(), f"v{i}".encode()) for i in range(10)])

    def offsets(query):
        status, page = http(api + "?" + query)
        assert status == 200, page
        return [m["offset"] for m in page["messages"]], page["next_offset"]

    assert offsets("limit=3") == ([9, 8, 7], 6)
    assert offsets("limit=3&offset=6") == ([6, 5, 4], 3)
    assert offsets("limit=20&offset=1") == ([1, 0], None)
    assert offsets("order=oldest&limit=4") == ([0, 1, 2, 3], 4)
    assert offsets("order=oldest&limit=4&offset=8") == ([8, 9], 10)
    # Key search: k1 is at offsets 1, 4, 7; the window bounds how many records are read.
    assert offsets("key=k1")[0] == [7, 4, 1]
    assert offsets("key=k1&order=oldest&limit=2")[0] == [1, 4]
    found, _ = offsets("key=k1&search_records=4")
    assert found == [7], found  # looked at 9, 8, 7, 6 only
    # By time: every record's timestamp is at or before now, so a time in the future
    # starts oldest-first at the end, and newest-first shows everything before it.
    future = int(time.time() * 1000) + 3_600_000
    assert offsets(f"order=oldest&timestamp={future}")[0] == []
    assert offsets(f"timestamp={future}&limit=2")[0] == [9, 8]
    assert offsets("order=oldest&timestamp=0&limit=1")[0] == [0]
