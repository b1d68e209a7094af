"""Delegation tokens (CreateDelegationToken, RenewDelegationToken, ExpireDelegationToken,
DescribeDelegationToken) with the official Java clients (integration-tests/java/
DelegationTokenChecks.java): a SCRAM user creates, describes and renews a token, a producer
authenticates with it (SCRAM, tokenauth=true) as the token's owner, the token survives kill -9,
and once expired it no longer authenticates. The ACL authorizer is on with only the owner and
the PLAINTEXT admin as super users, so the producer's success shows the session's principal is
the owner. Raw requests check the refusals on a PLAINTEXT listener.
"""

from __future__ import annotations

import os
import struct
import uuid

import pytest

from harness import INTEGRATION_DIR, Broker, free_port, run, sluice_bin
from kafka_wire import KafkaConn, request
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
CREATE_DELEGATION_TOKEN, DESCRIBE_DELEGATION_TOKEN = 38, 41
DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64


class ListenersBroker(Broker):
    def __init__(self, data_dir, listeners: dict, **kw):
        self.listener_ports = listeners
        super().__init__(data_dir, port=next(iter(listeners.values())), **kw)

    def command(self):
        cmd = super().command()
        i = cmd.index("--listen")
        del cmd[i:i + 2]
        spec = ",".join(f"{name}://127.0.0.1:{port}" for name, port in self.listener_ports.items())
        return cmd + ["--set", f"listeners={spec}"]

    def addr(self, name):
        return f"127.0.0.1:{self.listener_ports[name]}"


@pytest.fixture
def java_classes(tmp_path):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    jars = [str(JAVA_LIB_DIR / j) for j in JARS]
    classes = tmp_path / "classes"
    run(["javac", "-nowarn", "-cp", os.pathsep.join(jars), "-d", classes,
         INTEGRATION_DIR / "java" / "DelegationTokenChecks.java"], timeout=180)
    return os.pathsep.join([str(classes), *jars])


def java(cp, tmp_path, *args):
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp, "DelegationTokenChecks", *map(str, args)],
            timeout=180, tail_lines=120)
    return r.stdout.splitlines()


def test_tokens_through_the_java_clients_survive_kill9_and_expire(tmp_path, java_classes):
    from confluent_kafka.admin import AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism, \
        UserScramCredentialUpsertion
    ports = {"PLAINTEXT": free_port(), "SASL_PLAINTEXT": free_port()}
    b = ListenersBroker(tmp_path / "data", ports, settings={
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "delegation.token.secret.key": "sluice-test-secret",
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:ANONYMOUS;User:alice",
        "num.partitions": 1,
    }, binary=sluice_bin(), in_memory=False)
    b.start()
    try:
        admin = AdminClient({"bootstrap.servers": b.addr("PLAINTEXT")})
        for f in admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion("alice", ScramCredentialInfo(m, 4096), b"alice-pw")
            for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)
        ]).values():
            f.result(timeout=30)
        topic = f"dt-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, 1)])[topic].result(timeout=30)

        # Token requests are refused on a PLAINTEXT listener, as Kafka refuses them.
        conn = KafkaConn.to(b.addr("PLAINTEXT"), timeout=10)
        body = struct.pack(">i", 0) + struct.pack(">q", -1)  # v1: no renewers, max lifetime -1
        conn.send_raw(request(CREATE_DELEGATION_TOKEN, 1, conn.next_correlation_id(), body))
        assert struct.unpack(">h", conn.recv_frame()[4:6])[0] == DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
        conn.send_raw(request(DESCRIBE_DELEGATION_TOKEN, 1, conn.next_correlation_id(), struct.pack(">i", -1)))
        assert struct.unpack(">h", conn.recv_frame()[4:6])[0] == DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
        conn.close()

        sasl = b.addr("SASL_PLAINTEXT")
        out = java(java_classes, tmp_path, "create", sasl, "alice", "alice-pw", topic)
        assert sum(line.startswith("OK ") for line in out) == 7, out
        token_id, hmac = next(line.split()[1:] for line in out if line.startswith("TOKEN "))

        b.kill9()
        b.start()
        out = java(java_classes, tmp_path, "use", sasl, token_id, hmac, topic)
        assert any(line.startswith("OK produce with the token after restart") for line in out), out

        out = java(java_classes, tmp_path, "expire", sasl, "alice", "alice-pw", token_id, hmac, topic)
        assert sum(line.startswith("OK ") for line in out) == 2, out

        # Ten records: five with the token before kill -9 and five after (the last
        # produce failed authentication).
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": b.addr("PLAINTEXT"), "group.id": f"g-{topic}",
                      "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        got = []
        for _ in range(60):
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value().decode())
            if len(got) == 10:
                break
        c.close()
        assert sorted(got) == sorted([f"token-{i}" for i in range(5)] * 2)
    finally:
        b.stop(check=False)
