"""Exactly-once consume-transform-produce across broker crashes.

A confluent-kafka worker (transactions/ctp_worker.py) copies N unique values from an input topic
to an output topic, committing its consumer offsets in each transaction
(send_offsets_to_transaction), while the broker is killed with kill -9 and restarted several
times. At the end every input value is in the output exactly once for a read_committed reader,
and nothing from an aborted transaction is visible to it.
"""

from __future__ import annotations

import sys
import uuid

from groups_common import Worker
from harness import INTEGRATION_DIR, wait_until
from transactions_common import new_topic, read_values

N = 10000
PARTITIONS = 3
CRASHES = 3


def committed_progress(w: Worker) -> int:
    nums = [int(l.split()[1]) for l in w.snapshot() if l.startswith("COMMITTED ")]
    return max(nums, default=0)


def test_consume_transform_produce_is_exactly_once_across_kill_9(broker):
    from confluent_kafka import Producer

    src = new_topic(broker.bootstrap, PARTITIONS, "eos-in")
    dst = new_topic(broker.bootstrap, PARTITIONS, "eos-out")
    values = [f"v{i:05d}-{uuid.uuid4().hex[:6]}" for i in range(N)]
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": False, "linger.ms": 5})
    for i, v in enumerate(values):
        p.produce(src, value=v.encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0

    group, txn_id = f"eos-{uuid.uuid4().hex[:6]}", f"eos-tx-{uuid.uuid4().hex[:6]}"
    cmd = [sys.executable, INTEGRATION_DIR / "transactions" / "ctp_worker.py", broker.bootstrap, src, dst,
           group, txn_id, N]
    workers = [Worker(cmd, "ctp")]

    def progress() -> int:
        return max(committed_progress(w) for w in workers)

    def done() -> bool:
        # A worker that stalled (see ctp_worker.py) is replaced, as an application restart would be.
        w = workers[-1]
        if "DONE" in w.snapshot():
            return True
        if w.proc.poll() is not None:
            assert w.proc.returncode == 3 and len(workers) < 6, f"worker exited {w.proc.returncode}\n{w.output()}"
            workers.append(Worker(cmd, f"ctp{len(workers)}"))
        return False

    try:
        seen = 0
        for crash in range(CRASHES):
            # Crash only once the worker made progress since the last restart, and not after it is done.
            wait_until(lambda: progress() > seen or done(), timeout=120, message=f"progress before crash {crash}")
            if done():
                break
            seen = progress()
            broker.kill9()
            broker.start()
        wait_until(done, timeout=240, message="worker finished")
        assert workers[-1].proc.wait(timeout=30) == 0
    except AssertionError as e:
        raise AssertionError(f"{e}\n{workers[-1].output()}") from None
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill9()
    assert broker.starts >= 2, "the broker was never crashed: make N larger"
    out = read_values(broker.bootstrap, dst, PARTITIONS, "read_committed")
    dupes = sorted({v for v in out if out.count(v) > 1})
    assert not dupes, f"{len(dupes)} values copied twice, e.g. {dupes[:5]}"
    missing = sorted(set(values) - set(out))
    assert not missing, f"{len(missing)} values never copied, e.g. {missing[:5]}"
    assert len(out) == N
    # read_uncommitted may show copies from aborted transactions; read_committed never does.
    assert set(read_values(broker.bootstrap, dst, PARTITIONS, "read_uncommitted")) == set(values)
