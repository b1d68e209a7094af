"""ListTransactions v2 (KIP-1152): the transactional-id pattern filter, through kafka-python's
admin ``list_transactions(transactional_id_pattern=...)`` and raw v2 requests (kafka-python's
message classes over a plain socket) for the error answer. The transactions are made by real
confluent-kafka transactional producers (``init_transactions``)."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer
from kafka.admin import KafkaAdminClient
from kafka.protocol.admin import ListTransactionsRequest, ListTransactionsResponse

from kafka_wire import KafkaConn
from test_cluster_admin import raw

INVALID_REGULAR_EXPRESSION = 128


def test_list_transactions_filters_by_pattern(broker):
    run = uuid.uuid4().hex[:8]
    ids = [f"pat-{run}-a", f"pat-{run}-b", f"other-{run}"]
    producers = []
    for tid in ids:
        p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": tid})
        p.init_transactions(30)
        producers.append(p)

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        def listed(pattern):
            by_broker = admin.list_transactions(transactional_id_pattern=pattern)
            return sorted(t.transactional_id for ts in by_broker.values() for t in ts)

        assert listed(None) == sorted(ids)
        assert listed(f"^pat-{run}-") == [f"pat-{run}-a", f"pat-{run}-b"]
        # Unanchored: a match anywhere in the id lists it.
        assert listed(f"{run}-b") == [f"pat-{run}-b"]
        assert listed(f"^{run}") == []
    finally:
        admin.close()

    with KafkaConn.to(broker.bootstrap) as c:
        r = raw(c, ListTransactionsRequest(state_filters=[], producer_id_filters=[], duration_filter=-1,
                                           transactional_id_pattern="(unclosed"),
                ListTransactionsResponse, 2)
        assert r.error_code == INVALID_REGULAR_EXPRESSION and r.transaction_states == []
        # v1 has no pattern: everything is listed.
        r = raw(c, ListTransactionsRequest(state_filters=[], producer_id_filters=[], duration_filter=-1),
                ListTransactionsResponse, 1)
        assert sorted(t.transactional_id for t in r.transaction_states) == sorted(ids)
