"""The admin HTTP side (`sluice.http.listen`): /metrics scraped by a real Prometheus server,
the exposition parsed by a Prometheus parser, /health and /ready through a slow start-up,
405 and 404 answers, and what a taken port does to start-up.

Prometheus is Debian's `prometheus` package (scripts/install-test-deps.sh installs it),
started here with a scrape config pointing at the broker, on free loopback ports. The
parser is the `prometheus-client` package's. Clients are confluent-kafka.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from harness import free_port, run, sluice_bin, wait_until

PROMETHEUS = shutil.which("prometheus")


def http(url: str, method: str = "GET", headers: dict | None = None, timeout: float = 5):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def admin_broker(broker_factory, **kw):
    port = free_port()
    b = broker_factory(settings={"sluice.http.listen": f"127.0.0.1:{port}", "group.initial.rebalance.delay.ms": 0}, **kw)
    return b, f"http://127.0.0.1:{port}"


def create_topic(bootstrap: str, topic: str, partitions: int):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(30)


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for partition, n in per_partition.items():
        for i in range(n):
            p.produce(topic, value=f"v{i}".encode(), partition=partition)
    assert p.flush(30) == 0


def consume_and_commit(bootstrap: str, group: str, topic: str, partition: int, n: int):
    """Reads n records of one partition in a group and commits the offset after them."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        c.assign([TopicPartition(topic, partition, 0)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(1)
            if m is not None and not m.error():
                got.append(m)
        assert len(got) == n, f"consumed {len(got)} of {n}"
        c.commit(offsets=[TopicPartition(topic, partition, got[-1].offset() + 1)], asynchronous=False)
    finally:
        c.close()


def samples(text: str, parser=parse_prometheus) -> dict:
    """{(sample name, frozen labels): value} and {family name: type} of an exposition."""
    values, types = {}, {}
    for family in parser(text):
        types[family.name] = family.type
        for s in family.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types


def test_prometheus_scrapes_consumer_group_lag(broker_factory, tmp_path):
    assert PROMETHEUS, "prometheus is not installed (scripts/install-test-deps.sh installs Debian's package)"
    b, base = admin_broker(broker_factory)
    create_topic(b.bootstrap, "orders", 2)
    produce(b.bootstrap, "orders", {0: 10, 1: 10})
    consume_and_commit(b.bootstrap, "billing", "orders", 0, 4)

    prom_port = free_port()
    target = base.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: sluice\n    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def query(promql: str):
            url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
            try:
                status, _, body = http(url)
            except OSError:
                return None
            if status != 200:
                return None
            result = json.loads(body)["data"]["result"]
            return {frozenset(r["metric"].items()): float(r["value"][1]) for r in result}

        def lag_is_right():
            lag = query('kafka_consumergroup_lag{consumergroup="billing",topic="orders"}')
            if not lag:
                return False
            by_partition = {dict(k)["partition"]: v for k, v in lag.items()}
            # kafka_exporter: 10 - 4 where committed; -1 where the group never committed.
            return by_partition == {"0": 6.0, "1": -1.0}

        wait_until(lag_is_right, timeout=60, interval=0.5, message="Prometheus to scrape kafka_consumergroup_lag 6")
        assert query('kafka_consumergroup_lag_sum{consumergroup="billing",topic="orders"}') == {
            frozenset({"__name__": "kafka_consumergroup_lag_sum", "consumergroup": "billing", "topic": "orders", "instance": target, "job": "sluice"}.items()): 6.0
        }
        members = query('kafka_consumergroup_members{consumergroup="billing"}')
        assert list(members.values()) == [0.0]
        offsets = query('kafka_topic_partition_current_offset{topic="orders"}')
        assert sorted(offsets.values()) == [10.0, 10.0]
        assert list(query('up{job="sluice"}').values()) == [1.0]
        # The broker's own counters reach Prometheus too.
        produced = query('sluice_topic_records_in_total{topic="orders"}')
        assert list(produced.values()) == [20.0]
    finally:
        prom.terminate()
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(10)
        log.close()


def test_exposition_parses_in_both_formats(broker_factory):
    b, base = admin_broker(broker_factory)
    create_topic(b.bootstrap, "clicks", 3)
    produce(b.bootstrap, "clicks", {0: 5, 2: 7})
    consume_and_commit(b.bootstrap, "reader", "clicks", 2, 7)
    # A member of a subscribing group: its join is the group's first rebalance.
    joiner = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "joiner"})
    try:
        joiner.subscribe(["clicks"])
        deadline = time.monotonic() + 30
        while not joiner.assignment() and time.monotonic() < deadline:
            joiner.poll(0.2)
        assert joiner.assignment(), "the joiner never got an assignment"
    finally:
        joiner.close()

    status, headers, text = http(f"{base}/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    values, types = samples(text)
    lab = lambda **kw: frozenset((k, str(v)) for k, v in kw.items())  # noqa: E731
    assert values[("kafka_brokers", lab())] == 1
    assert values[("kafka_topic_partitions", lab(topic="clicks"))] == 3
    assert values[("kafka_topic_partition_current_offset", lab(topic="clicks", partition=2))] == 7
    assert values[("kafka_topic_partition_oldest_offset", lab(topic="clicks", partition=2))] == 0
    assert values[("kafka_topic_partition_leader", lab(topic="clicks", partition=1))] == 1
    assert values[("kafka_topic_partition_replicas", lab(topic="clicks", partition=1))] == 1
    assert values[("kafka_topic_partition_in_sync_replica", lab(topic="clicks", partition=1))] == 1
    assert values[("kafka_consumergroup_current_offset", lab(consumergroup="reader", topic="clicks", partition=2))] == 7
    assert values[("kafka_consumergroup_lag", lab(consumergroup="reader", topic="clicks", partition=2))] == 0
    assert values[("kafka_consumergroup_lag", lab(consumergroup="reader", topic="clicks", partition=0))] == -1
    assert values[("kafka_consumergroup_lag_sum", lab(consumergroup="reader", topic="clicks"))] == 0
    assert values[("kafka_consumergroup_members", lab(consumergroup="reader"))] == 0
    assert values[("sluice_topic_bytes_in_total", lab(topic="clicks"))] > 0
    assert values[("sluice_topic_records_in_total", lab(topic="clicks"))] == 12
    assert values[("sluice_topic_records_out_total", lab(topic="clicks"))] >= 7
    produce_ok = [
        v for (n, k), v in values.items()
        if n == "sluice_requests_total" and dict(k)["api"] == "Produce" and dict(k)["error"] == "NONE"
    ]
    assert produce_ok and sum(produce_ok) >= 1
    assert values[("sluice_log_segments", lab(topic="clicks", partition=0))] == 1
    assert values[("process_open_fds", lab())] > 0
    assert values[("process_resident_memory_bytes", lab())] > 0
    assert values[("sluice_process_memory_maps", lab())] > 0
    assert values[("sluice_fsync_duration_seconds_count", lab())] >= 1
    # produce() used acks=all: its appends were made durable by group-commit fsyncs
    assert values[("sluice_group_commit_offsets_count", lab())] >= 1
    assert values[("sluice_group_commit_offsets_sum", lab())] >= 12
    assert types["kafka_consumergroup_lag"] == "gauge"
    assert types["sluice_requests"] == "counter"
    assert types["sluice_request_duration_seconds"] == "histogram"
    assert types["sluice_fsync_duration_seconds"] == "histogram"
    assert types["process_cpu_seconds"] == "counter"
    # Every request stage is timed for the produce and the consume path; acks=all
    # produces also wait for durability (remote).
    for api in ("Produce", "Fetch"):
        for stage in ("queue", "handle", "send", "total"):
            assert values[("sluice_request_duration_seconds_count", lab(api=api, stage=stage))] >= 1, (api, stage)
    assert values[("sluice_request_duration_seconds_count", lab(api="Produce", stage="remote"))] >= 1
    # The group's first rebalance; no transaction is open; the cleaner has not run (no
    # compacted topic); no share group holds records.
    assert values[("sluice_group_rebalances_total", lab(group="joiner"))] >= 1
    assert values[("sluice_transactions_open", lab())] == 0
    assert values[("sluice_producer_ids", lab())] >= 0
    assert values[("sluice_log_cleaner_runs_total", lab())] == 0
    assert values[("sluice_log_cleaner_cleaned_bytes_total", lab())] == 0
    assert types["sluice_log_cleaner_duration_seconds"] == "histogram"
    assert types["sluice_share_group_acquired_records"] == "gauge"

    status, headers, om = http(f"{base}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert om.rstrip().endswith("# EOF")
    om_values, om_types = samples(om, parse_openmetrics)
    assert om_values[("kafka_consumergroup_lag", lab(consumergroup="reader", topic="clicks", partition=2))] == 0
    assert om_types["sluice_requests"] == "counter"


def test_methods_and_unknown_paths(broker_factory):
    _, base = admin_broker(broker_factory)
    status, headers, body = http(f"{base}/metrics", method="POST")
    assert status == 405
    assert "GET" in headers.get("allow", headers.get("Allow", ""))
    assert json.loads(body)["error"] == "method not allowed"
    for path in ("/health", "/ready"):
        assert http(f"{base}{path}", method="DELETE")[0] == 405
    status, headers, body = http(f"{base}/no/such/page")
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["path"] == "/no/such/page"
    assert http(f"{base}/health")[0] == 200
    assert http(f"{base}/ready")[0] == 200


def test_ready_is_503_during_a_slow_start_then_200(broker_factory):
    """/health answers and /ready says 503 until the broker serves. Start-up opens
    partitions lazily (crash recovery included), so what takes a while is the group
    coordinator's replay of `__consumer_offsets`: 100,000 commit records (200 commits of
    500 partitions), about 0.35 s in a debug build, during which the HTTP side answers."""
    b, base = admin_broker(broker_factory, start=True)
    partitions, commits = 500, 200
    create_topic(b.bootstrap, "committed", partitions)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "many-commits", "enable.auto.commit": False})
    try:
        for offset in range(commits):
            c.commit(offsets=[TopicPartition("committed", p, offset) for p in range(partitions)], asynchronous=False)
    finally:
        c.close()
    b.kill9()

    seen: list[tuple[int, int]] = []  # (ready status, health status)
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            try:
                ready = http(f"{base}/ready", timeout=2)[0]
                health = http(f"{base}/health", timeout=2)[0]
                seen.append((ready, health))
                if ready == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        b.start(timeout=120)
        poller.join(60)
    finally:
        stop.set()
    print("ready statuses seen:", len([s for s in seen if s[0] == 503]), "x 503")
    assert seen and seen[-1][0] == 200, seen[-5:]
    statuses = [r for r, _ in seen]
    first_ok = statuses.index(200)
    assert statuses[:first_ok] and set(statuses[:first_ok]) == {503}, f"no 503 before 200: {statuses[:10]}"
    assert all(h == 200 for _, h in seen)
    # `sluice status` prints the same answers and succeeds once ready.
    out = run([str(sluice_bin()), "status", "--http", base.removeprefix("http://")], timeout=30)
    assert "health: 200" in out.stdout and "ready:  200" in out.stdout


def test_busy_default_port_warns_and_kafka_still_serves(broker_factory):
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 9644))
        holder.listen(1)
    except OSError:
        pass  # someone else holds the default port: it is busy all the same
    try:
        b = broker_factory(http_defaults=True)  # no sluice.http.listen: the default
        wait_until(lambda: "default HTTP address is taken" in b.log_text(), timeout=10, message="the warning")
        produce(b.bootstrap, "still-serving", {0: 3})
        consume_and_commit(b.bootstrap, "g", "still-serving", 0, 3)
    finally:
        holder.close()


def test_explicit_busy_address_stops_start_up_with_one_line(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        out = run(
            [
                str(sluice_bin()),
                "serve",
                "--listen",
                f"127.0.0.1:{free_port()}",
                "--data-dir",
                str(tmp_path / "data"),
                "--http",
                f"127.0.0.1:{port}",
            ],
            timeout=30,
            check=False,
        )
    finally:
        holder.close()
    assert out.returncode != 0
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, out.stderr
    assert "sluice.http.listen" in lines[0] and f"127.0.0.1:{port}" in lines[0]


def test_empty_address_disables_the_http_side(broker_factory):
    b = broker_factory(settings={"sluice.http.listen": ""})
    assert "HTTP service disabled" in b.log_text()
    assert "admin HTTP side listening" not in b.log_text()
    produce(b.bootstrap, "no-http", {0: 1})
