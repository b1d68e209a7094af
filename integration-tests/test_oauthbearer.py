"""SASL/OAUTHBEARER with real clients: Kafka's unsecured validator and JWKS-validated tokens.

One broker (module scope) runs three listeners:
    PLAINTEXT       the admin side (User:ANONYMOUS, a super user)
    SASL_PLAINTEXT  OAUTHBEARER with Kafka's unsecured validator (alg none; the JAAS line of
                    org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule)
    JWKS            SASL_PLAINTEXT too, OAUTHBEARER tokens validated against a file:// JWKS
                    holding an RSA and an EC P-256 key, with an expected audience and issuer
The ACL authorizer is on and only a few principals are super users, so a client that produces
has been authenticated as the principal its token names (and one whose token names someone
else gets TOPIC_AUTHORIZATION_FAILED).

confluent-kafka (librdkafka's unsecured JWT builder, `sasl.oauthbearer.config=principal=...`,
and `oauth_cb` with an ES256 JWT) and kafka-python (a token provider with an RS256 JWT) produce
and consume; bad, expired, wrongly signed and wrong-audience tokens fail fast with an
authentication error; raw sockets check RFC 7628's error exchange (the JSON challenge, the
client's 0x01, then SASL_AUTHENTICATION_FAILED and a close), the session lifetime (the token's
expiry) and re-authentication.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid

import pytest

from harness import Broker, free_port, sluice_bin, wait_until
from kafka_wire import KafkaConn, request

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
UNSECURED_JAAS = ('org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required '
                  'unsecuredLoginStringClaim_sub="admin" unsecuredValidatorAllowableClockSkewMs="1000";')
AUDIENCE = "sluice-test"
ISSUER = "https://issuer.sluice.test"


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def unsecured_jwt(sub, lifetime_s=600, **extra) -> str:
    now = int(time.time())
    return f"{b64({'alg': 'none'})}.{b64({'sub': sub, 'iat': now, 'exp': now + lifetime_s, **extra})}."


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from joserfc.jwk import ECKey, RSAKey
    d = tmp_path_factory.mktemp("jwks")
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})  # same kid, not in the set
    path = d / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa.as_dict(private=False), ec.as_dict(private=False)]}))
    return {"rsa": rsa, "ec": ec, "stranger": stranger, "path": path}


def signed_jwt(key, alg, sub, lifetime_s=600, aud=AUDIENCE, iss=ISSUER) -> str:
    from joserfc import jwt
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + lifetime_s, "aud": aud, "iss": iss}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


class ListenersBroker(Broker):
    """A Broker started with `listeners=...` instead of `--listen`."""

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
def broker(tmp_path_factory, keys):
    base = tmp_path_factory.mktemp("oauth")
    ports = {name: free_port() for name in ("PLAINTEXT", "SASL_PLAINTEXT", "JWKS")}
    b = ListenersBroker(base / "data", ports, settings={
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,JWKS:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "OAUTHBEARER",
        "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config": UNSECURED_JAAS,
        "listener.name.jwks.sasl.oauthbearer.jwks.endpoint.url": f"file://{keys['path']}",
        "listener.name.jwks.sasl.oauthbearer.expected.audience": AUDIENCE,
        "listener.name.jwks.sasl.oauthbearer.expected.issuer": ISSUER,
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:ANONYMOUS;User:alice;User:svc-rsa;User:svc-ec",
        "num.partitions": 1,
        "group.initial.rebalance.delay.ms": 0,
    }, binary=sluice_bin())
    b.start()
    try:
        yield b
    finally:
        b.stop(check=False)


def new_topic(b) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic
    topic = f"oauth-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": b.addr("PLAINTEXT")})
    admin.create_topics([NewTopic(topic, 1)])[topic].result(timeout=30)
    return topic


def rdkafka_unsecured(b, principal):
    return {"bootstrap.servers": b.addr("SASL_PLAINTEXT"), "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "OAUTHBEARER", "enable.sasl.oauthbearer.unsecure.jwt": True,
            "sasl.oauthbearer.config": f"principal={principal}"}


def rdkafka_cb(b, listener, make_token):
    return {"bootstrap.servers": b.addr(listener), "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": lambda _config: (make_token(), time.time() + 600)}


def produce_consume_confluent(conf, topic, n=10):
    from confluent_kafka import Consumer, Producer
    p = Producer({**conf, "acks": "all"})
    errors = []
    for i in range(n):
        p.produce(topic, f"v{i}".encode(), on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(30) == 0 and not errors, errors
    c = Consumer({**conf, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    assert got == [f"v{i}" for i in range(n)]


# -- real clients -----------------------------------------------------------------------------------

def test_confluent_kafka_unsecured_jwt_produce_consume(broker):
    produce_consume_confluent(rdkafka_unsecured(broker, "alice"), new_topic(broker))


def test_the_principal_is_the_tokens_subject(broker):
    """mallory authenticates (the token is valid) but is no super user: her produce is refused."""
    from confluent_kafka import KafkaError, Producer
    topic = new_topic(broker)
    p = Producer({**rdkafka_unsecured(broker, "mallory"), "message.timeout.ms": 20000})
    errors = []
    p.produce(topic, b"x", on_delivery=lambda e, m: errors.append(e))
    p.flush(30)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors


def test_confluent_kafka_oauth_cb_es256_against_the_jwks(broker, keys):
    conf = rdkafka_cb(broker, "JWKS", lambda: signed_jwt(keys["ec"], "ES256", "svc-ec"))
    produce_consume_confluent(conf, new_topic(broker))


def test_kafka_python_token_provider_rs256_against_the_jwks(broker, keys):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class Provider(AbstractTokenProvider):
        def token(self):
            return signed_jwt(keys["rsa"], "RS256", "svc-rsa")

        def extensions(self):
            return {"traceId": "kafka-python"}

    conf = {"bootstrap_servers": broker.addr("JWKS"), "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token_provider": Provider(),
            "request_timeout_ms": 20000}
    topic = new_topic(broker)
    p = KafkaProducer(acks="all", **conf)
    for i in range(10):
        p.send(topic, f"v{i}".encode()).get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=15000, **conf)
    got = [m.value.decode() for _, m in zip(range(10), c)]
    c.close()
    assert got == [f"v{i}" for i in range(10)]


def bad_tokens(keys):
    return {
        "expired-unsecured": ("SASL_PLAINTEXT", lambda: unsecured_jwt("alice", lifetime_s=-60)),
        "unsecured-on-jwks": ("JWKS", lambda: unsecured_jwt("svc-rsa")),
        "unknown-signer": ("JWKS", lambda: signed_jwt(keys["stranger"], "RS256", "svc-rsa")),
        "wrong-audience": ("JWKS", lambda: signed_jwt(keys["rsa"], "RS256", "svc-rsa", aud="elsewhere")),
        "wrong-issuer": ("JWKS", lambda: signed_jwt(keys["ec"], "ES256", "svc-ec", iss="https://evil")),
        "expired-signed": ("JWKS", lambda: signed_jwt(keys["ec"], "ES256", "svc-ec", lifetime_s=-3600)),
    }


@pytest.mark.parametrize("case", ["expired-unsecured", "unsecured-on-jwks", "unknown-signer",
                                  "wrong-audience", "wrong-issuer", "expired-signed"])
def test_confluent_kafka_bad_tokens_fail_fast(broker, keys, case):
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient
    listener, make = bad_tokens(keys)[case]
    errors = []
    # The client connects at once; error_cb (served by poll) reports the refusal.
    admin = AdminClient({**rdkafka_cb(broker, listener, make), "error_cb": errors.append})
    wait_until(lambda: (admin.poll(0.2), any(e.code() == KafkaError._AUTHENTICATION for e in errors))[1],
               timeout=20, message=f"no authentication error reported: {errors}")
    assert any("invalid_token" in e.str() for e in errors), [e.str() for e in errors]


def test_kafka_python_expired_token_fails(broker):
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class Expired(AbstractTokenProvider):
        def token(self):
            return unsecured_jwt("alice", lifetime_s=-60)

    with pytest.raises(KafkaError):
        KafkaAdminClient(bootstrap_servers=broker.addr("SASL_PLAINTEXT"), security_protocol="SASL_PLAINTEXT",
                         sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=Expired(),
                         bootstrap_timeout_ms=2000).list_topics()


# -- the wire ---------------------------------------------------------------------------------------

def sasl_handshake(conn, mechanism):
    body = struct.pack(">h", len(mechanism)) + mechanism.encode()
    corr = conn.next_correlation_id()
    conn.send_raw(request(SASL_HANDSHAKE, 1, corr, body))
    payload = conn.recv_frame()
    (c, err) = struct.unpack(">ih", payload[:6])
    assert c == corr
    return err


def sasl_authenticate(conn, token: bytes):
    """SaslAuthenticate v1: (error_code, error_message, auth_bytes, session_lifetime_ms)."""
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


def client_first(token: str, authzid: str = "") -> bytes:
    return f"n,{'a=' + authzid if authzid else ''},\x01auth=Bearer {token}\x01\x01".encode()


def test_invalid_token_gets_the_json_challenge_then_fails_after_control_a(broker):
    conn = KafkaConn.to(broker.addr("SASL_PLAINTEXT"), timeout=10)
    assert sasl_handshake(conn, "OAUTHBEARER") == 0
    err, _, auth, _ = sasl_authenticate(conn, client_first(unsecured_jwt("alice", lifetime_s=-60)))
    assert err == 0 and auth == b'{"status":"invalid_token"}'
    err, msg, _, _ = sasl_authenticate(conn, b"\x01")
    assert err == 58 and msg == '{"status":"invalid_token"}'
    assert conn.wait_closed(timeout=10) in ("eof", "reset")


# Each message is made when the test runs: a token made at collection time expires before
# a long run reaches this test, and an expired token gets the invalid_token challenge instead.
@pytest.mark.parametrize("message", [
    lambda: b"garbage",
    lambda: b"n,,\x01auth=Basic abc\x01\x01",
    lambda: client_first(unsecured_jwt("alice"), authzid="bob"),
], ids=["malformed", "not-bearer", "authzid-mismatch"])
def test_refused_client_first_messages_fail_at_once(broker, message):
    conn = KafkaConn.to(broker.addr("SASL_PLAINTEXT"), timeout=10)
    assert sasl_handshake(conn, "OAUTHBEARER") == 0
    err, msg, _, _ = sasl_authenticate(conn, message())
    assert err == 58 and msg.startswith("Authentication failed"), msg
    assert conn.wait_closed(timeout=10) in ("eof", "reset")


def test_session_lifetime_is_the_tokens_and_reauthentication_works(broker, keys):
    conn = KafkaConn.to(broker.addr("JWKS"), timeout=10)
    assert sasl_handshake(conn, "OAUTHBEARER") == 0
    token = signed_jwt(keys["rsa"], "RS256", "svc-rsa", lifetime_s=300)
    err, msg, _, lifetime = sasl_authenticate(conn, client_first(token, authzid="svc-rsa"))
    assert err == 0, msg
    assert 0 < lifetime <= 300_000
    # KIP-368: the session expires with the token, so the client may re-authenticate in place.
    assert sasl_handshake(conn, "OAUTHBEARER") == 0
    err, msg, _, lifetime = sasl_authenticate(conn, client_first(signed_jwt(keys["ec"], "ES256", "svc-rsa")))
    assert err == 0, msg
    assert 300_000 < lifetime <= 600_000
    # ... but not as somebody else.
    assert sasl_handshake(conn, "OAUTHBEARER") == 0
    err, msg, _, _ = sasl_authenticate(conn, client_first(signed_jwt(keys["ec"], "ES256", "svc-ec")))
    assert err == 58, msg
