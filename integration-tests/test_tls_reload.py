"""TLS principals and certificates: `ssl.principal.mapping.rules` and reloading changed PEM files.

One broker runs a PLAINTEXT listener (the admin side, User:ANONYMOUS, a super user) and an SSL
listener with ssl.client.auth=required, the ACL authorizer and the mapping rules
    RULE:^CN=([a-z]+),OU=eng,.*$/$1/U    (CN=carol,OU=eng,O=acme -> CAROL, a super user)
    RULE:^CN=(dave),.*$/$1-ops/          (CN=dave,O=acme -> dave-ops)
and no DEFAULT, so a subject neither rule matches (CN=erin,O=acme) fails the connection.
confluent-kafka produces with each client certificate: CAROL may, dave-ops is refused until an
ACL names User:dave-ops. Then the broker's keystore file is replaced: a new TLS connection
(Python's ssl) sees the new certificate without a restart, and a broken replacement is logged
while connections keep the last good certificate.
"""

from __future__ import annotations

import os
import socket
import ssl
import uuid

import pytest

from harness import Broker, free_port, run, sluice_bin, wait_until

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
RULES = r"RULE:^CN=([a-z]+),OU=eng,.*$/$1/U, RULE:^CN=(dave),.*$/$1-ops/"


def openssl(*args, cwd):
    run(["openssl", *args], cwd=cwd, timeout=60)


def server_cert(d, name):
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", "server.ext", cwd=d)
    return (d / f"{name}.key").read_text() + (d / f"{name}.pem").read_text()


def client_cert(d, name, subject):
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject, cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", "client.ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=sluice-test-ca", cwd=d)
    (d / "keystore.pem").write_text(server_cert(d, "sluice-a"))
    (d / "keystore-b.pem").write_text(server_cert(d, "sluice-b"))
    client_cert(d, "carol", "/O=acme/OU=eng/CN=carol")
    client_cert(d, "dave", "/O=acme/CN=dave")
    client_cert(d, "erin", "/O=acme/CN=erin")
    return d


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


@pytest.fixture(scope="module")
def broker(tmp_path_factory, certs):
    base = tmp_path_factory.mktemp("tls")
    b = ListenersBroker(base / "data", {"PLAINTEXT": free_port(), "SSL": free_port()}, settings={
        "ssl.keystore.location": certs / "keystore.pem",
        "ssl.truststore.location": certs / "ca.pem",
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.ssl.ssl.principal.mapping.rules": RULES,
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:ANONYMOUS;User:CAROL",
        "num.partitions": 1,
    }, binary=sluice_bin())
    b.start()
    try:
        yield b
    finally:
        b.stop(check=False)


def new_topic(b) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": b.addr("PLAINTEXT")})
    admin.create_topics([NewTopic(topic, 1)])[topic].result(30)
    return topic


def produce(b, certs, who, topic):
    """The delivery error (None on success) of one record produced as `who`."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b.addr("SSL"), "security.protocol": "SSL",
                  "ssl.ca.location": str(certs / "ca.pem"),
                  "ssl.certificate.location": str(certs / f"{who}.pem"),
                  "ssl.key.location": str(certs / f"{who}.key"),
                  "message.timeout.ms": 15000})
    result = []
    p.produce(topic, b"x", on_delivery=lambda e, m: result.append(e))
    p.flush(30)
    assert len(result) == 1
    return result[0]


def test_mapping_rules_name_the_principal_acls_see(broker, certs):
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                       ResourcePatternType, ResourceType)
    topic = new_topic(broker)
    assert produce(broker, certs, "carol", topic) is None
    err = produce(broker, certs, "dave", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    admin = AdminClient({"bootstrap.servers": broker.addr("PLAINTEXT")})
    acl = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:dave-ops", "*",
                     AclOperation.WRITE, AclPermissionType.ALLOW)
    admin.create_acls([acl])[acl].result(timeout=30)
    assert produce(broker, certs, "dave", topic) is None


def test_a_subject_no_rule_matches_fails_the_connection(broker, certs):
    ctx = client_context(certs, "erin")
    try:
        with socket.create_connection(("127.0.0.1", broker.listener_ports["SSL"]), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"\x00\x00\x00\x0a" + b"\x00" * 10)
                assert s.recv(1) == b""
    except (ssl.SSLError, ConnectionError):
        pass
    wait_until(lambda: "no ssl.principal.mapping.rules rule applies to CN=erin,O=acme" in broker.log_text(),
               timeout=10)


def client_context(certs, who):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / f"{who}.pem"), str(certs / f"{who}.key"))
    return ctx


def server_cn(broker, certs) -> str:
    ctx = client_context(certs, "carol")
    with socket.create_connection(("127.0.0.1", broker.listener_ports["SSL"]), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            subject = dict(x[0] for x in s.getpeercert()["subject"])
            return subject["commonName"]


def replace(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_a_replaced_keystore_is_used_by_new_connections(broker, certs):
    assert server_cn(broker, certs) == "sluice-a"
    replace(certs / "keystore.pem", (certs / "keystore-b.pem").read_text())
    wait_until(lambda: server_cn(broker, certs) == "sluice-b", timeout=30,
               message="the new certificate was not picked up")
    # A broken file is logged and the last good certificate stays in use.
    replace(certs / "keystore.pem", "-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    wait_until(lambda: "does not load, keeping the previous certificates" in broker.log_text(), timeout=30)
    assert server_cn(broker, certs) == "sluice-b"
