"""Named listeners, TLS (and mTLS) and SASL (PLAIN, SCRAM-SHA-256/512) with real clients.

One broker (module scope) runs four listeners side by side:
    PLAINTEXT       no security (admin work: SCRAM users are created over it)
    SASL_PLAINTEXT  PLAIN users from a listener-prefixed JAAS line
    SASL_SSL        SCRAM users (created with confluent-kafka's admin API and `sluice user add`)
    SSL             ssl.client.auth=required (mTLS): the client's certificate names it
Certificates are generated per run with openssl (a CA, a server certificate for 127.0.0.1 and a
client certificate CN=carol,OU=eng,O=acme).

confluent-kafka, kafka-python and kcat (Debian's, librdkafka 2.0) produce and consume over each
secured listener; wrong passwords and unknown users fail with Kafka's error within a bounded time;
raw sockets check the wire behaviour (requests before authentication close the connection, a
failed SaslAuthenticate is answered with SASL_AUTHENTICATION_FAILED before the close, TLS to a
PLAINTEXT port and plaintext to a TLS port are closed cleanly with a log line while another
connection carries on). A separate broker checks that SCRAM users survive kill -9.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import time
import uuid

import pytest

from harness import Broker, LogTail, free_port, run, sluice_bin, wait_until
from kafka_wire import KafkaConn, ConnectionClosed, api_versions_body, request, METADATA, metadata_body

KCAT = shutil.which("kcat")
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" user_admin="admin-secret" '
              'user_alice="alice secret = \\"quoted\\"";')
ALICE_PASSWORD = 'alice secret = "quoted"'


# -- certificates ---------------------------------------------------------------------------------

def openssl(*args, cwd):
    run(["openssl", *args], cwd=cwd, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=sluice-test-ca", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/O=acme/OU=eng/CN=carol", cwd=d)
    # A v3 certificate (with an extension): webpki, which rustls verifies with, refuses v1 ones.
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.pem", "-days", "2", "-extfile", "client.ext", cwd=d)
    # Kafka's PEM keystore: the private key and the certificate chain in one file.
    (d / "server-keystore.pem").write_text((d / "server.key").read_text() + (d / "server.pem").read_text()
                                           + (d / "ca.pem").read_text())
    return d


# -- the broker -----------------------------------------------------------------------------------

class ListenersBroker(Broker):
    """A Broker started with `listeners=...` instead of `--listen` (the first port is waited on)."""

    def __init__(self, data_dir, listeners: dict, **kw):
        self.listener_ports = listeners
        first = next(iter(listeners.values()))
        super().__init__(data_dir, port=first, **kw)

    def command(self):
        cmd = super().command()
        i = cmd.index("--listen")
        del cmd[i:i + 2]
        spec = ",".join(f"{name}://127.0.0.1:{port}" for name, port in self.listener_ports.items())
        return cmd + ["--set", f"listeners={spec}"]

    def addr(self, name):
        return f"127.0.0.1:{self.listener_ports[name]}"


@pytest.fixture(scope="module")
def secure(tmp_path_factory, certs):
    base = tmp_path_factory.mktemp("secure")
    ports = {name: free_port() for name in ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")}
    b = ListenersBroker(base / "data", ports, settings={
        "ssl.keystore.location": certs / "server-keystore.pem",
        "ssl.truststore.location": certs / "ca.pem",
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "num.partitions": 1,
        "group.initial.rebalance.delay.ms": 0,
    }, binary=sluice_bin())
    b.start()
    try:
        # SCRAM users: one through confluent-kafka's admin API, one through the CLI.
        from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                           UserScramCredentialUpsertion)
        admin = AdminClient({"bootstrap.servers": b.addr("PLAINTEXT")})
        futures = admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion("scram256", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                                         b"pw-256", b"salt-of-scram256"),
            UserScramCredentialUpsertion("scram512", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                         b"pw-512"),
        ])
        for f in futures.values():
            f.result(timeout=30)
        run([sluice_bin(), "user", "add", "bob", "--password", "bob-secret", "-b", b.addr("PLAINTEXT")], timeout=30)
        yield b
    finally:
        b.stop(check=False)


# client configurations: (listener, mechanism or "mTLS", user, password)
CASES = [
    ("SASL_PLAINTEXT", "PLAIN", "alice", ALICE_PASSWORD),
    ("SASL_SSL", "SCRAM-SHA-256", "scram256", "pw-256"),
    ("SASL_SSL", "SCRAM-SHA-512", "scram512", "pw-512"),
    ("SASL_SSL", "SCRAM-SHA-512", "bob", "bob-secret"),
    ("SSL", "mTLS", None, None),
]
IDS = ["plain", "scram256", "scram512", "scram512-cli-user", "mtls"]


def rdkafka_conf(b, certs, listener, mechanism, user, password):
    conf = {"bootstrap.servers": b.addr(listener), "security.protocol": listener}
    if listener in ("SSL", "SASL_SSL"):
        conf["ssl.ca.location"] = str(certs / "ca.pem")
    if mechanism == "mTLS":
        conf["ssl.certificate.location"] = str(certs / "client.pem")
        conf["ssl.key.location"] = str(certs / "client.key")
    elif mechanism:
        conf.update({"sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password})
    return conf


def kafka_python_conf(b, certs, listener, mechanism, user, password):
    conf = {"bootstrap_servers": b.addr(listener), "security_protocol": listener,
            "request_timeout_ms": 20000}
    if listener in ("SSL", "SASL_SSL"):
        conf["ssl_cafile"] = str(certs / "ca.pem")
        conf["ssl_check_hostname"] = False
    if mechanism == "mTLS":
        conf["ssl_certfile"] = str(certs / "client.pem")
        conf["ssl_keyfile"] = str(certs / "client.key")
    elif mechanism:
        conf.update({"sasl_mechanism": mechanism, "sasl_plain_username": user, "sasl_plain_password": password})
    return conf


def kcat_args(b, certs, listener, mechanism, user, password):
    args = ["-b", b.addr(listener), "-X", f"security.protocol={listener}"]
    if listener in ("SSL", "SASL_SSL"):
        args += ["-X", f"ssl.ca.location={certs / 'ca.pem'}"]
    if mechanism == "mTLS":
        args += ["-X", f"ssl.certificate.location={certs / 'client.pem'}",
                 "-X", f"ssl.key.location={certs / 'client.key'}"]
    elif mechanism:
        args += ["-X", f"sasl.mechanism={mechanism}", "-X", f"sasl.username={user}",
                 "-X", f"sasl.password={password}"]
    return args


# -- produce and consume with each client ----------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_confluent_kafka_produce_consume(secure, certs, case):
    from confluent_kafka import Consumer, Producer
    conf = rdkafka_conf(secure, certs, *case)
    topic = f"ck-{uuid.uuid4().hex[:8]}"
    p = Producer({**conf, "acks": "all"})
    errors = []
    for i in range(20):
        p.produce(topic, f"v{i}".encode(), on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(30) == 0 and not errors, errors
    c = Consumer({**conf, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 20 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    assert got == [f"v{i}" for i in range(20)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kafka_python_produce_consume(secure, certs, case):
    from kafka import KafkaConsumer, KafkaProducer
    conf = kafka_python_conf(secure, certs, *case)
    topic = f"kp-{uuid.uuid4().hex[:8]}"
    p = KafkaProducer(acks="all", **conf)
    for i in range(20):
        p.send(topic, f"v{i}".encode()).get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=15000, **conf)
    got = [m.value.decode() for _, m in zip(range(20), c)]
    c.close()
    assert got == [f"v{i}" for i in range(20)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kcat_produce_consume(secure, certs, case):
    assert KCAT, "kcat is not installed (scripts/install-test-deps.sh installs it)"
    args = kcat_args(secure, certs, *case)
    topic = f"kc-{uuid.uuid4().hex[:8]}"
    lines = [f"v{i}" for i in range(20)]
    r = run([KCAT, "-P", "-t", topic, "-p", "0", "-X", "acks=all", *args], input="\n".join(lines) + "\n", timeout=60)
    assert "ERROR" not in r.stderr and "failed" not in r.stderr.lower(), r.stderr
    r = run([KCAT, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%s\n", *args], timeout=60)
    assert r.stdout.splitlines() == lines, r.stderr


# -- wrong credentials fail cleanly and fast --------------------------------------------------------

BAD = [
    ("SASL_PLAINTEXT", "PLAIN", "alice", "wrong"),
    ("SASL_PLAINTEXT", "PLAIN", "nobody", "x"),
    ("SASL_SSL", "SCRAM-SHA-256", "scram256", "wrong"),
    ("SASL_SSL", "SCRAM-SHA-512", "nobody", "x"),
]
BAD_IDS = ["plain-wrong-password", "plain-unknown-user", "scram256-wrong-password", "scram512-unknown-user"]


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_confluent_kafka_bad_credentials_fail(secure, certs, case):
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient
    errors = []
    admin = AdminClient({**rdkafka_conf(secure, certs, *case), "error_cb": errors.append})
    # The broker refuses at once; the client only gives up on list_topics at its timeout.
    with pytest.raises(Exception):
        admin.list_topics(timeout=3)
    # error_cb is served by poll().
    wait_until(lambda: (admin.poll(0.2), any(e.code() == KafkaError._AUTHENTICATION for e in errors))[1],
               timeout=20, message=f"no authentication error reported: {errors}")
    assert any("Authentication failed" in e.str() for e in errors), [e.str() for e in errors]


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_kafka_python_bad_credentials_fail(secure, certs, case):
    import logging
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError
    tail = LogTail()
    logger = logging.getLogger("kafka")
    logger.addHandler(tail.handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        # kafka-python retries a failed authentication until its bootstrap times out; each
        # attempt must fail with the broker's SASL_AUTHENTICATION_FAILED message.
        with pytest.raises(KafkaError):
            KafkaAdminClient(**kafka_python_conf(secure, certs, *case), bootstrap_timeout_ms=5000).list_topics()
    finally:
        logger.removeHandler(tail.handler)
        logger.setLevel(level)
    assert "Authentication failed" in tail.text(), tail.text()[-3000:]


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_kcat_bad_credentials_fail(secure, certs, case):
    # kcat reports the refusal at once but waits out its metadata timeout (-m) before exiting.
    r = run([KCAT, "-L", "-m", "3", *kcat_args(secure, certs, *case)], timeout=60, check=False)
    assert r.returncode != 0
    assert "Authentication failed" in r.stderr or "authentication" in r.stderr.lower(), r.stderr[-2000:]


def test_ssl_listener_without_client_certificate_is_refused(secure, certs):
    r = run([KCAT, "-L", "-m", "3", *kcat_args(secure, certs, "SSL", None, None, None)], timeout=60, check=False)
    assert r.returncode != 0
    wait_until(lambda: "TLS handshake failed" in secure.log_text(), timeout=10)


# -- the wire: SASL states, failed authentication, listeners -----------------------------------------

def sasl_handshake(conn, mechanism, version=1):
    body = struct.pack(">h", len(mechanism)) + mechanism.encode()
    corr = conn.next_correlation_id()
    conn.send_raw(request(SASL_HANDSHAKE, version, corr, body))
    payload = conn.recv_frame()
    (c, err, n) = struct.unpack(">ihi", payload[:10])
    assert c == corr
    mechs, rest = [], payload[10:]
    for _ in range(n):
        (ln,) = struct.unpack(">h", rest[:2])
        mechs.append(rest[2:2 + ln].decode())
        rest = rest[2 + ln:]
    return err, mechs


def sasl_authenticate(conn, token: bytes):
    """SaslAuthenticate v1 (not flexible): returns (error_code, error_message, auth_bytes, lifetime)."""
    corr = conn.next_correlation_id()
    conn.send_raw(request(SASL_AUTHENTICATE, 1, corr, struct.pack(">i", len(token)) + token))
    p = conn.recv_frame()
    (c, err) = struct.unpack(">ih", p[:6])
    assert c == corr
    (ml,) = struct.unpack(">h", p[6:8])
    msg = p[8:8 + ml].decode() if ml >= 0 else None
    rest = p[8 + max(ml, 0):]
    (bl,) = struct.unpack(">i", rest[:4])
    auth, rest = rest[4:4 + bl], rest[4 + bl:]
    (lifetime,) = struct.unpack(">q", rest[:8])
    return err, msg, auth, lifetime


def test_failed_plain_authentication_is_answered_then_closed(secure):
    conn = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    err, mechs = sasl_handshake(conn, "PLAIN")
    assert err == 0 and mechs == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    err, msg, _, _ = sasl_authenticate(conn, b"\0alice\0wrong")
    assert err == 58 and msg == "Authentication failed: Invalid username or password"
    assert conn.wait_closed(timeout=10) in ("eof", "reset")


def test_requests_before_authentication_close_the_connection(secure):
    conn = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    # ApiVersions is served before authentication ...
    conn.send_raw(request(18, 0, conn.next_correlation_id(), api_versions_body(0)))
    assert conn.recv_frame()
    # ... Metadata is not: the connection closes, as Kafka closes it.
    conn.send_raw(request(METADATA, 1, conn.next_correlation_id(), metadata_body(1)))
    assert conn.wait_closed(timeout=10) in ("eof", "reset")
    # An unsupported mechanism is answered (with the enabled ones), then closed.
    conn = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    err, mechs = sasl_handshake(conn, "GSSAPI")
    assert err == 33 and "PLAIN" in mechs
    assert conn.wait_closed(timeout=10) in ("eof", "reset")


class RawScram:
    """A SCRAM client (RFC 5802) over SaslHandshake v1 + SaslAuthenticate v1 on a raw socket."""

    def __init__(self, conn, mechanism, user, password, client_nonce=None):
        import base64
        import hashlib
        import hmac
        self.b64, self.hmac = base64, hmac
        self.hash = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}[mechanism]
        self.conn, self.mechanism, self.user, self.password = conn, mechanism, user, password
        self.client_nonce = client_nonce or uuid.uuid4().hex

    def first(self):
        assert sasl_handshake(self.conn, self.mechanism)[0] == 0
        self.client_first_bare = f"n={self.user},r={self.client_nonce}"
        err, msg, server_first, _ = sasl_authenticate(self.conn, b"n,," + self.client_first_bare.encode())
        assert err == 0, msg
        self.server_first = server_first.decode()
        fields = dict(kv.split("=", 1) for kv in self.server_first.split(","))
        self.nonce, self.salt, self.iterations = fields["r"], self.b64.b64decode(fields["s"]), int(fields["i"])
        assert self.nonce.startswith(self.client_nonce) and len(self.nonce) > len(self.client_nonce)

    def final_message(self, tamper=False):
        import hashlib
        name = self.hash().name
        salted = hashlib.pbkdf2_hmac(name, self.password.encode(), self.salt, self.iterations)
        client_key = self.hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = self.hash(client_key).digest()
        without_proof = f"c=biws,r={self.nonce}"
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = self.hmac.new(stored_key, auth_message, self.hash).digest()
        proof = bytearray(a ^ b for a, b in zip(client_key, signature))
        if tamper:
            proof[0] ^= 0x01
        return f"{without_proof},p={self.b64.b64encode(bytes(proof)).decode()}".encode()


def test_scram_exchange_on_the_wire(secure):
    """A raw SCRAM-SHA-256 exchange succeeds with the server's signature; a client-final with a bad
    proof, and one replayed from an earlier exchange (its nonce is not this exchange's), each get
    SASL_AUTHENTICATION_FAILED with Kafka's message and then a close, while another connection
    carries on."""
    conn = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    ok = RawScram(conn, "SCRAM-SHA-256", "scram256", "pw-256", client_nonce="fixed-client-nonce")
    ok.first()
    replayable = ok.final_message()
    err, msg, server_final, _ = sasl_authenticate(conn, replayable)
    assert (err, msg) == (0, None) and server_final.startswith(b"v=")
    conn.send_raw(request(METADATA, 1, conn.next_correlation_id(), metadata_body(1)))
    assert conn.recv_frame()

    bad = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    scram = RawScram(bad, "SCRAM-SHA-256", "scram256", "pw-256")
    scram.first()
    err, msg, _, _ = sasl_authenticate(bad, scram.final_message(tamper=True))
    assert err == 58 and msg == "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
    assert bad.wait_closed(timeout=10) in ("eof", "reset")

    replay = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    again = RawScram(replay, "SCRAM-SHA-256", "scram256", "pw-256", client_nonce="fixed-client-nonce")
    again.first()
    assert again.nonce != ok.nonce  # the server's half of the nonce is new
    err, msg, _, _ = sasl_authenticate(replay, replayable)
    assert err == 58, msg
    assert replay.wait_closed(timeout=10) in ("eof", "reset")

    # The first connection was never disturbed.
    conn.send_raw(request(METADATA, 1, conn.next_correlation_id(), metadata_body(1)))
    assert conn.recv_frame()


def test_oversized_frame_before_authentication_closes_the_connection(secure):
    """Before authentication a SASL listener takes frames up to sasl.server.max.receive.size
    (512 KiB by default), as Kafka does: a bigger size prefix closes the connection with a log line
    naming the setting, before the broker reads (or buffers) the body."""
    conn = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    conn.send_raw(struct.pack(">i", 524288 + 1) + b"\0" * 64)
    assert conn.wait_closed(timeout=10) in ("eof", "reset")
    wait_until(lambda: "sasl.server.max.receive.size, before authentication" in secure.log_text(), timeout=10)
    # A PLAINTEXT connection may send the same size (socket.request.max.bytes applies there):
    # it is still waiting for the body.
    plain = KafkaConn.to(secure.addr("PLAINTEXT"), timeout=10)
    plain.send_raw(struct.pack(">i", 524288 + 1) + b"\0" * 64)
    with pytest.raises(AssertionError, match="still open"):
        plain.wait_closed(timeout=1)


def test_plain_authentication_then_requests(secure):
    conn = KafkaConn.to(secure.addr("SASL_PLAINTEXT"), timeout=10)
    assert sasl_handshake(conn, "PLAIN")[0] == 0
    err, msg, _, lifetime = sasl_authenticate(conn, b"\0alice\0" + ALICE_PASSWORD.encode())
    assert (err, msg, lifetime) == (0, None, 0)
    conn.send_raw(request(METADATA, 1, conn.next_correlation_id(), metadata_body(1)))
    assert conn.recv_frame()


@pytest.mark.parametrize("listener", ["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"])
def test_metadata_advertises_the_listener_it_came_in_on(secure, certs, listener):
    from confluent_kafka.admin import AdminClient
    case = {"PLAINTEXT": (None, None, None), "SASL_PLAINTEXT": ("PLAIN", "alice", ALICE_PASSWORD),
            "SASL_SSL": ("SCRAM-SHA-256", "scram256", "pw-256"), "SSL": ("mTLS", None, None)}[listener]
    conf = rdkafka_conf(secure, certs, listener, *case)
    md = AdminClient(conf).list_topics(timeout=30)
    assert [(b.host, b.port) for b in md.brokers.values()] == [("127.0.0.1", secure.listener_ports[listener])]


def test_tls_to_plaintext_and_plaintext_to_tls_are_closed_cleanly(secure, certs):
    from confluent_kafka.admin import AdminClient
    # An established connection that must not notice anything.
    admin = AdminClient({"bootstrap.servers": secure.addr("PLAINTEXT")})
    assert admin.list_topics(timeout=10).brokers
    # TLS ClientHello to the PLAINTEXT port.
    raw = socket.create_connection(("127.0.0.1", secure.listener_ports["PLAINTEXT"]), timeout=10)
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with pytest.raises((ssl.SSLError, OSError)):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    raw.close()
    wait_until(lambda: "the bytes are a TLS handshake, but listener PLAINTEXT is PLAINTEXT" in secure.log_text(),
               timeout=10)
    # A plaintext ApiVersions to the SSL and SASL_SSL ports.
    for name in ("SSL", "SASL_SSL"):
        s = socket.create_connection(("127.0.0.1", secure.listener_ports[name]), timeout=10)
        s.sendall(request(18, 0, 1, api_versions_body(0)))
        # The answer is at most a TLS alert record (rustls says why), then end of stream.
        got = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        s.close()
        assert got == b"" or got.startswith(b"\x15\x03"), got
    wait_until(lambda: secure.log_text().count("TLS handshake failed") >= 2, timeout=10)
    assert admin.list_topics(timeout=10).brokers
    assert secure.is_running()


def command_config(path, certs, listener, mechanism, user, password):
    """A Kafka client properties file, as Kafka's tools take with --command-config."""
    lines = [f"security.protocol={listener}"]
    if listener in ("SSL", "SASL_SSL"):
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={certs / 'ca.pem'}"]
    if mechanism == "mTLS":
        keystore = certs / "client-keystore.pem"
        keystore.write_text((certs / "client.key").read_text() + (certs / "client.pem").read_text())
        lines += ["ssl.keystore.type=PEM", f"ssl.keystore.location={keystore}"]
    elif mechanism:
        module = "plain.PlainLoginModule" if mechanism == "PLAIN" else "scram.ScramLoginModule"
        escaped = password.replace("\\", "\\\\").replace('"', '\\"')
        lines += [f"sasl.mechanism={mechanism}",
                  f"sasl.jaas.config=org.apache.kafka.common.security.{module} required \\",
                  f'    username="{user}" password="{escaped}";']
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_commands_over_each_secured_listener(secure, certs, case, tmp_path):
    """`sluice topic/produce/consume --command-config FILE` (Kafka client properties: TLS trust and
    keystore in PEM, SASL through a JAAS line continued over two lines) work over every secured
    listener; the short flags do the same for PLAIN; a wrong password fails in one line naming the
    error, fast."""
    listener, mechanism, user, password = case
    cfg = command_config(tmp_path / "client.properties", certs, listener, mechanism, user, password)
    sec = ["-b", secure.addr(listener), "--command-config", str(cfg)]
    topic = f"cli-{uuid.uuid4().hex[:8]}"
    run([sluice_bin(), "topic", "create", topic, "--partitions", "1", *sec], timeout=60)
    run([sluice_bin(), "produce", topic, *sec], input="one\ntwo\n", timeout=60)
    out = run([sluice_bin(), "consume", topic, "--from-beginning", "--max-messages", "2", *sec],
              timeout=60).stdout
    assert out.split() == ["one", "two"]
    if mechanism == "PLAIN":
        flags = ["-b", secure.addr(listener), "--security-protocol", listener, "--sasl-mechanism", "PLAIN",
                 "--sasl-username", user, "--sasl-password", password]
        assert topic in run([sluice_bin(), "topic", "list", *flags], timeout=60).stdout
    if mechanism != "mTLS":
        started = time.monotonic()
        r = run([sluice_bin(), "topic", "list", *sec, "--sasl-password", "not-the-password"],
                timeout=60, check=False)
        assert r.returncode != 0 and "SASL_AUTHENTICATION_FAILED" in r.stderr, r.stderr
        assert time.monotonic() - started < 30


def test_sluice_user_list_and_describe_all(secure):
    from confluent_kafka.admin import AdminClient
    r = run([sluice_bin(), "user", "list", "-b", secure.addr("PLAINTEXT")], timeout=30)
    rows = [l.split() for l in r.stdout.splitlines()[1:]]
    assert ["scram256", "SCRAM-SHA-256", "4096"] in rows
    assert ["scram512", "SCRAM-SHA-512", "8192"] in rows
    assert ["bob", "SCRAM-SHA-256", "8192"] in rows and ["bob", "SCRAM-SHA-512", "8192"] in rows
    admin = AdminClient({"bootstrap.servers": secure.addr("PLAINTEXT")})
    described = admin.describe_user_scram_credentials().result(timeout=30)
    assert {"scram256", "scram512", "bob"} <= set(described)
    r = run([sluice_bin(), "user", "list", "nobody", "-b", secure.addr("PLAINTEXT")], timeout=30, check=False)
    assert r.returncode != 0 and "RESOURCE_NOT_FOUND" in r.stderr


# -- durability and start-up ---------------------------------------------------------------------

def test_scram_users_survive_kill9(tmp_path):
    ports = {"PLAINTEXT": free_port(), "SASL_PLAINTEXT": free_port()}
    b = ListenersBroker(tmp_path / "data", ports, binary=sluice_bin())
    b.start()
    try:
        from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
        admin = AdminClient({"bootstrap.servers": b.addr("PLAINTEXT")})
        for f in admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
                "dora", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"dora-pw")]).values():
            f.result(timeout=30)
        b.kill9()
        b.start()
        conf = {"bootstrap.servers": b.addr("SASL_PLAINTEXT"), "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "dora", "sasl.password": "dora-pw"}
        assert AdminClient(conf).list_topics(timeout=30).brokers
        assert not list((tmp_path / "data").glob("scram-credentials.tmp"))
    finally:
        b.stop(check=False)


def test_listen_flag_and_listeners_setting_together_stop_start_up(tmp_path):
    r = run([sluice_bin(), "serve", "--data-dir", tmp_path / "d", "--listen", "127.0.0.1:1",
             "--set", "listeners=SSL://127.0.0.1:2"], timeout=30, check=False)
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if "sluice:" in l]
    assert len(lines) == 1 and "--listen 127.0.0.1:1" in lines[0] and "listeners=SSL://127.0.0.1:2" in lines[0], r.stderr
