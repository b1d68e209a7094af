"""The official Java AdminClient (3.9) through the topic lifecycle: CreatePartitions,
IncrementalAlterConfigs, DescribeConfigs, DeleteRecords, ListOffsets, DescribeLogDirs,
DescribeProducers and DeleteTopics (integration-tests/java/AdminChecks.java)."""

from __future__ import annotations

import os
import uuid

from harness import INTEGRATION_DIR, run
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS


def test_java_admin_client_topic_lifecycle(broker, tmp_path):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
    topic = f"java-admin-{uuid.uuid4().hex[:8]}"
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
             str(INTEGRATION_DIR / "java" / "AdminChecks.java"), broker.bootstrap, topic], timeout=180)
    lines = [l for l in r.stdout.splitlines() if l.startswith("OK ")]
    assert len(lines) == 10, r.stdout
