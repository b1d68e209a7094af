"""The schema registry under concurrent load with a kill -9 in the middle (issue 13, Tests):
SLUICE_SR_KILL_REGISTRATIONS (default 1000) registrations of distinct subjects from 4 processes
(plain urllib, as any REST client), the broker killed with SIGKILL once half of them were
answered, then restarted on the same ports while the workers keep going (retrying what got no
answer). Every registration that got a 200 is present after a final restart with its id, no id
is given to two subjects, and the ids are dense (1..N: kill -9 loses no write the registry made).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import urllib.error
import urllib.request

import pytest

from harness import free_port, wait_for_port

CT = "application/vnd.schemaregistry.v1+json"


def _call(url, method, path, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": CT})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def _worker(url, worker, count, answered, out, deadline):
    """Registers `count` distinct subjects; retries each until it gets an answer (the broker may
    be down for a while). Puts [(subject, id from a 200)] on `out`."""
    got = []
    for i in range(count):
        subject = f"kill-{worker}-{i}-value"
        schema = json.dumps({"type": "record", "name": f"K{worker}x{i}", "fields": [{"name": "a", "type": "int"}]})
        while True:
            if time.monotonic() > deadline:
                out.put(("timeout", got))
                return
            try:
                status, body = _call(url, "POST", f"/subjects/{subject}/versions", {"schema": schema})
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.05)
                continue
            assert status == 200, (status, body)
            got.append((subject, body["id"]))
            with answered.get_lock():
                answered.value += 1
            break
    out.put(("ok", got))


def test_concurrent_registrations_survive_kill9_in_the_middle(broker_factory):
    total = int(os.environ.get("SLUICE_SR_KILL_REGISTRATIONS", "1000"))
    workers = 4
    per = total // workers
    total = per * workers
    port = free_port()
    b = broker_factory(settings={"sluice.schema.registry.listen": f"127.0.0.1:{port}"})
    assert wait_for_port("127.0.0.1", port, 10), b.log_tail()
    url = f"http://127.0.0.1:{port}"
    ctx = multiprocessing.get_context("spawn")
    answered = ctx.Value("i", 0)
    out = ctx.Queue()
    deadline = time.monotonic() + 240
    procs = [ctx.Process(target=_worker, args=(url, w, per, answered, out, deadline)) for w in range(workers)]
    for p in procs:
        p.start()
    try:
        while answered.value < total // 2:
            assert time.monotonic() < deadline, f"only {answered.value} registrations answered"
            assert all(p.is_alive() or p.exitcode == 0 for p in procs), "a worker died"
            time.sleep(0.01)
        killed_at = answered.value
        b.kill9()
        b.start()
        assert wait_for_port("127.0.0.1", port, 10), b.log_tail()
        results = []
        for _ in procs:
            status, got = out.get(timeout=max(1, deadline - time.monotonic()))
            assert status == "ok", f"a worker timed out after {len(got)} registrations"
            results.extend(got)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert killed_at < total, "the kill came after the last registration"
    assert len(results) == total
    ids = [i for _, i in results]
    assert len(set(ids)) == total, "an id was given to two subjects"
    assert sorted(ids) == list(range(1, total + 1)), "ids are not dense"

    # Everything answered is still there after another kill -9.
    b.kill9()
    b.start()
    assert wait_for_port("127.0.0.1", port, 10), b.log_tail()
    status, subjects = _call(url, "GET", "/subjects")
    assert status == 200 and len(subjects) == total
    for subject, schema_id in results:
        status, latest = _call(url, "GET", f"/subjects/{subject}/versions/latest")
        assert (status, latest["id"], latest["version"]) == (200, schema_id, 1), (subject, latest)
    status, body = _call(url, "POST", "/subjects/after-value/versions", {"schema": '"string"'})
    assert (status, body["id"]) == (200, total + 1), "a new id continues after the highest"
