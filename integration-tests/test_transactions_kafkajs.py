"""Transactions with kafkajs 2.2 (integration-tests/node/transactions.js): commit and abort as seen
by read_committed and read_uncommitted readers, and zombie fencing."""

from __future__ import annotations

import json
import uuid

from harness import INTEGRATION_DIR, run
from transactions_common import new_topic, read_values


def node(broker, *args):
    r = run(["node", INTEGRATION_DIR / "node" / "transactions.js", broker.bootstrap, *args], timeout=120,
            cwd=INTEGRATION_DIR / "node")
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_kafkajs_commit_and_abort(broker):
    topic = new_topic(broker.bootstrap, 1)
    r = node(broker, "commit-abort", topic, f"kjs-{uuid.uuid4().hex[:6]}")
    assert len(r["committed"]) == 20 and len(r["aborted"]) == 10
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == r["committed"]
    assert read_values(broker.bootstrap, topic, 1, "read_uncommitted") == r["committed"][:10] + r["aborted"] + r["committed"][10:]


def test_kafkajs_zombie_is_fenced(broker):
    topic = new_topic(broker.bootstrap, 1)
    r = node(broker, "fence", topic, f"kjs-{uuid.uuid4().hex[:6]}")
    assert r["zombieError"] in ("PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "KafkaJSNonRetriableError"), r
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == ["fresh"]
