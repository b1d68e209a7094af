"""Transactions with the official Java client (3.9): commit, abort, read_committed vs
read_uncommitted, and zombie fencing (integration-tests/java/TxnChecks.java)."""

from __future__ import annotations

import os
import uuid

from harness import INTEGRATION_DIR, run
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS


def test_java_transactions_commit_abort_and_fencing(broker, tmp_path):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
    topic = f"java-txn-{uuid.uuid4().hex[:8]}"
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
             str(INTEGRATION_DIR / "java" / "TxnChecks.java"), broker.bootstrap, topic, f"tx-{topic}"],
            timeout=240)
    lines = [l for l in r.stdout.splitlines() if l.startswith("OK ")]
    assert len(lines) == 4, r.stdout
