#!/usr/bin/env python3
"""A consume-transform-produce loop with confluent-kafka, for test_transactions_eos.py.

Usage: ctp_worker.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID TOTAL

Reads INPUT as member of GROUP (read_committed), copies each record's value to OUTPUT (same
partition) and commits the consumed offsets in the same transaction
(send_offsets_to_transaction). It survives broker crashes: an abortable error aborts and rewinds
to the committed offsets, a fatal one (fenced, ...) recreates the producer. Prints
``COMMITTED <consumed positions total>`` after each commit and ``DONE`` once the group's
committed offsets over every INPUT partition add up to TOTAL, then exits 0.

Completion is judged by the committed offsets, not by ``position()``: a worker that replaces a
stalled one may be assigned a partition its predecessor already finished, and librdkafka reports
no position for a partition the application has not consumed from. The same check runs while
the worker is idle, since the last transaction may have been committed by its predecessor (or
committed on the broker just before a crash hid the answer).

The producer sets ``metadata.recovery.strategy=none``: with librdkafka's default (re-bootstrap
when every known broker is down, which with one broker is every restart), a restart in the
middle of send_offsets_to_transaction leaves the TxnOffsetCommit waiting for good on the
decommissioned broker object, ignoring the call's timeout (seen with librdkafka 2.16; see
README.md, "Known client issue"). Watchdog, in case a client stalls some other way: a
transaction that has not finished after STALL_S seconds makes the worker print ``STALLED`` and
exit 3, like an application crash; the test then starts a new worker with the same
transactional.id and group, which fences and aborts the stalled one.
"""

import faulthandler
import os
import signal
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

faulthandler.register(signal.SIGUSR1)  # stack dump on demand, for debugging hangs
bootstrap, src, dst, group, txn_id, total = sys.argv[1:7]
total = int(total)
STALL_S = 60
txn_started = [None]


def watchdog():
    while True:
        time.sleep(1)
        t = txn_started[0]
        if t is not None and time.monotonic() - t > STALL_S:
            print("STALLED", flush=True)
            os._exit(3)


threading.Thread(target=watchdog, daemon=True).start()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def new_producer():
    while True:
        p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
                      "transaction.timeout.ms": 30000, "message.timeout.ms": 30000,
                      "metadata.recovery.strategy": "none", **({"debug": os.environ["CTP_DEBUG"]} if os.environ.get("CTP_DEBUG") else {})})
        try:
            p.init_transactions(30)
            return p
        except KafkaException as e:
            log("init_transactions failed:", e)
            time.sleep(0.5)


def committed_total(c):
    """The sum of the group's committed offsets over every partition of INPUT, or None if the
    broker cannot say right now (it may be restarting)."""
    try:
        parts = c.list_topics(src, timeout=10).topics[src].partitions
        tps = [TopicPartition(src, p) for p in parts]
        return sum(max(tp.offset, 0) for tp in c.committed(tps, timeout=10))
    except KafkaException as e:
        log("committed offsets unavailable:", e)
        return None


def finish_if_done(c):
    done = committed_total(c)
    if done is not None and done >= total:
        print("DONE", flush=True)
        c.close()
        sys.exit(0)


def rewind(c):
    while True:
        try:
            parts = c.assignment()
            if not parts:
                return
            for tp in c.committed(parts, timeout=30):
                c.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
            return
        except KafkaException as e:
            log("rewind failed:", e)
            time.sleep(0.5)


c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "isolation.level": "read_committed",
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
c.subscribe([src])
p = new_producer()
idle_since = time.monotonic()
while True:
    msgs = []
    for m in c.consume(100, 1.0):
        if m.error() is None:
            msgs.append(m)
        else:
            log("consume error:", m.error())
    if not msgs:
        if time.monotonic() - idle_since > 3:
            finish_if_done(c)
            idle_since = time.monotonic()
        continue
    idle_since = time.monotonic()
    txn_started[0] = time.monotonic()
    try:
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, value=m.value(), partition=m.partition())
        positions = c.position(c.assignment())
        p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
    except KafkaException as e:
        err = e.args[0]
        log("transaction failed:", err, "abortable" if err.txn_requires_abort() else "",
            "fatal" if err.fatal() else "")
        if err.fatal():
            p = new_producer()
        else:
            try:
                p.abort_transaction(30)
            except KafkaException as e2:
                log("abort failed:", e2)
                p = new_producer()
        rewind(c)
        txn_started[0] = None
        continue
    txn_started[0] = None
    progress = sum(tp.offset for tp in positions if tp.offset >= 0)
    print(f"COMMITTED {progress}", flush=True)
    if progress >= total or any(tp.offset < 0 for tp in positions):
        finish_if_done(c)
