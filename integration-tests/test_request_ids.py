"""Every Kafka request's log lines carry a request id (issue 12, item 5): the handler's
lines appear inside a `request{request_id=N api=...}` span, and ids differ between
requests. Clients are confluent-kafka's admin client and producer."""

from __future__ import annotations

import re

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from harness import wait_until


def test_handler_log_lines_carry_a_request_id(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for name in ("ids-a", "ids-b"):
        for f in admin.create_topics([NewTopic(name, 1, 1)]).values():
            f.result(30)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce("ids-a", b"v")
    assert p.flush(30) == 0

    def created_lines():
        return [l for l in broker.log_text().splitlines() if "created topic" in l]

    wait_until(lambda: len(created_lines()) == 2, timeout=10, message="two 'created topic' lines")
    ids = []
    for line in created_lines():
        m = re.search(r"request\{request_id=(\d+) api=CreateTopics\}", line)
        assert m, line
        ids.append(int(m.group(1)))
    assert ids[0] != ids[1], ids
