"""SASL and mTLS with kafkajs and the official Java client (issue 10's client matrix beyond
confluent-kafka, kafka-python and kcat, which test_security.py covers): produce and consume over
SASL_SSL with SCRAM-SHA-256 and SCRAM-SHA-512, over SASL_PLAINTEXT with PLAIN and over SSL with a
client certificate (ssl.client.auth=required), a wrong password fails with the
client's authentication error (within the client's own bounded timeouts), and a principal without
WRITE is refused with TOPIC_AUTHORIZATION_FAILED on a broker with the ACL authorizer.

Reuses test_security.py's certificates and four-listener broker (SCRAM users scram256/scram512,
PLAIN user alice) and test_acl.py's broker with the StandardAuthorizer (PLAIN users; no ACL names
carol). Java runs integration-tests/java/SaslChecks.java, kafkajs integration-tests/node/sasl.js.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest

from harness import INTEGRATION_DIR, run, sluice_bin, wait_for_port
from test_acl import USERS, AclBroker
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS
from test_security import ALICE_PASSWORD, certs, secure  # noqa: F401 (fixtures)

NODE_DIR = INTEGRATION_DIR / "node"

# (listener, mechanism, user, password)
CASES = [
    ("SASL_SSL", "SCRAM-SHA-256", "scram256", "pw-256"),
    ("SASL_SSL", "SCRAM-SHA-512", "scram512", "pw-512"),
    ("SASL_PLAINTEXT", "PLAIN", "alice", ALICE_PASSWORD),
]
IDS = [f"{c[0]}-{c[1]}" for c in CASES]
# A wrong password: one SCRAM case over TLS and PLAIN (the SCRAM-512 exchange is the same code).
BAD = [CASES[0], CASES[2]]
BAD_IDS = [IDS[0], IDS[2]]


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory):
    b = AclBroker(tmp_path_factory.mktemp("sasl-acl") / "data", binary=sluice_bin())
    b.start()
    assert wait_for_port("127.0.0.1", b.ports["SASL_PLAINTEXT"], 10)
    try:
        yield b
    finally:
        b.stop(check=False)


@pytest.fixture(scope="module")
def sasl_classpath(tmp_path_factory):
    """SaslChecks.java and AclAdminChecks.java compiled once for the module."""
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    jars = [str(JAVA_LIB_DIR / j) for j in JARS]
    classes = tmp_path_factory.mktemp("sasl-java")
    run(["javac", "-nowarn", "-cp", os.pathsep.join(jars), "-d", classes,
         INTEGRATION_DIR / "java" / "SaslChecks.java", INTEGRATION_DIR / "java" / "AclAdminChecks.java"], timeout=180)
    return os.pathsep.join([str(classes), *jars])


def java(cp, tmp_path, *args):
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp, "SaslChecks", *map(str, args)],
            timeout=180, tail_lines=80)
    return [line for line in r.stdout.splitlines() if line.startswith("OK ")]


def kafkajs(*args):
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (NODE_DIR / "node_modules" / "kafkajs").is_dir(), "kafkajs missing: run scripts/install-test-deps.sh"
    r = run([node, NODE_DIR / "sasl.js", *map(str, args)], timeout=120, cwd=NODE_DIR, tail_lines=80)
    return json.loads(r.stdout)


def topic_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_java_produce_consume_over_sasl(secure, certs, case, sasl_classpath, tmp_path):  # noqa: F811
    listener, mechanism, user, password = case
    ca = certs / "ca.pem" if listener == "SASL_SSL" else "-"
    lines = java(sasl_classpath, tmp_path, secure.addr(listener), listener, mechanism, user, password, ca,
                 topic_name("java-sasl"), "ok")
    assert len(lines) == 2, lines


def test_java_produce_consume_over_ssl_with_a_client_certificate(secure, certs, sasl_classpath, tmp_path):  # noqa: F811
    # Kafka's PEM keystore: the client's private key and its certificate in one file.
    keystore = tmp_path / "client-keystore.pem"
    keystore.write_text((certs / "client.key").read_text() + (certs / "client.pem").read_text())
    lines = java(sasl_classpath, tmp_path, secure.addr("SSL"), "SSL", "mTLS", keystore, "-", certs / "ca.pem",
                 topic_name("java-mtls"), "ok")
    assert len(lines) == 2, lines


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_java_wrong_password_fails(secure, certs, case, sasl_classpath, tmp_path):  # noqa: F811
    listener, mechanism, user, _ = case
    ca = certs / "ca.pem" if listener == "SASL_SSL" else "-"
    lines = java(sasl_classpath, tmp_path, secure.addr(listener), listener, mechanism, user, "wrong-password", ca,
                 topic_name("java-bad"), "badauth")
    assert len(lines) == 1, lines


def js_mechanism(mechanism):
    return mechanism.lower()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kafkajs_produce_consume_over_sasl(secure, certs, case):  # noqa: F811
    listener, mechanism, user, password = case
    tls = "yes" if listener == "SASL_SSL" else "no"
    out = kafkajs(secure.addr(listener), tls, js_mechanism(mechanism), user, password, certs / "ca.pem",
                  topic_name("js-sasl"), "ok")
    assert out == {"produced": 10, "values": [f"v{i}" for i in range(10)]}, out


def test_kafkajs_produce_consume_over_ssl_with_a_client_certificate(secure, certs):  # noqa: F811
    out = kafkajs(secure.addr("SSL"), "yes", "mtls", certs / "client.pem", certs / "client.key", certs / "ca.pem",
                  topic_name("js-mtls"), "ok")
    assert out == {"produced": 10, "values": [f"v{i}" for i in range(10)]}, out


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_kafkajs_wrong_password_fails(secure, certs, case):  # noqa: F811
    listener, mechanism, user, _ = case
    tls = "yes" if listener == "SASL_SSL" else "no"
    out = kafkajs(secure.addr(listener), tls, js_mechanism(mechanism), user, "wrong-password", certs / "ca.pem",
                  topic_name("js-bad"), "badauth")
    assert out["error"] == "KafkaJSSASLAuthenticationError", out


def test_java_and_kafkajs_without_write_are_refused(acl_broker, sasl_classpath, tmp_path):
    b = acl_broker
    topic = topic_name("sasl-denied")
    run([str(sluice_bin()), "topic", "-b", b.addr("PLAINTEXT"), "create", topic, "--partitions", "1"], timeout=60)
    lines = java(sasl_classpath, tmp_path, b.addr("SASL_PLAINTEXT"), "SASL_PLAINTEXT", "PLAIN", "carol", USERS["carol"], "-",
                 topic, "denied")
    assert len(lines) == 1, lines
    out = kafkajs(b.addr("SASL_PLAINTEXT"), "no", "plain", "carol", USERS["carol"], "-", topic, "denied")
    assert out["type"] == "TOPIC_AUTHORIZATION_FAILED", out


def test_java_admin_client_manages_acls_that_take_effect_at_once(acl_broker, sasl_classpath, tmp_path):
    b = acl_broker
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", sasl_classpath, "AclAdminChecks",
             b.addr("PLAINTEXT"), b.addr("SASL_PLAINTEXT"), "dave", USERS["dave"], topic_name("java-acl")],
            timeout=180, tail_lines=80)
    lines = [line for line in r.stdout.splitlines() if line.startswith("OK ")]
    assert len(lines) == 6, r.stdout


def test_kafkajs_admin_client_manages_acls_that_take_effect_at_once(acl_broker):
    b = acl_broker
    node = shutil.which("node")
    assert node, "node is not installed"
    r = run([node, NODE_DIR / "acl_admin.js", b.addr("PLAINTEXT"), b.addr("SASL_PLAINTEXT"), "bob", USERS["bob"],
             topic_name("js-acl")], timeout=120, cwd=NODE_DIR, tail_lines=80)
    out = json.loads(r.stdout)
    assert out == {"before": "TOPIC_AUTHORIZATION_FAILED", "described": 1, "produced": None, "deleted": 1,
                   "after": "TOPIC_AUTHORIZATION_FAILED"}, out
