"""ACLs (Kafka's StandardAuthorizer rules) with real clients over SASL_PLAINTEXT with PLAIN users.

One broker (module scope) runs two listeners:
    PLAINTEXT       the admin side: its clients are User:ANONYMOUS, listed in super.users
    SASL_PLAINTEXT  PLAIN users admin (a super user), alice, bob, carol and dave
with authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer. Each test
works on its own topics, groups and principals, so the tests do not depend on each other's ACLs.

ACLs are created and deleted with confluent-kafka's and kafka-python's admin clients and with
`sluice acl`; the effects are observed with confluent-kafka, kafka-python and kcat (Debian's,
librdkafka 2.0): TOPIC_AUTHORIZATION_FAILED on produce, GROUP_AUTHORIZATION_FAILED for a consumer
group, TRANSACTIONAL_ID_AUTHORIZATION_FAILED for a transactional producer, Metadata hiding topics,
DescribeAcls filters, DeleteAcls at once, super users, and ACLs surviving kill -9.
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from harness import Broker, free_port, run, sluice_bin, wait_for_port

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, NewTopic, ResourcePatternType, ResourceType)

KCAT = shutil.which("kcat")
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
USERS = {"admin": "admin-pw", "alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-pw" '
        + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";")


class AclBroker(Broker):
    """A broker with a PLAINTEXT and a SASL_PLAINTEXT listener (`listeners=` instead of --listen)."""

    def __init__(self, data_dir, **kw):
        self.ports = {"PLAINTEXT": free_port(), "SASL_PLAINTEXT": free_port()}
        settings = {
            "authorizer.class.name": AUTHORIZER,
            "super.users": "User:admin;User:ANONYMOUS",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "num.partitions": 1,
            "group.initial.rebalance.delay.ms": 0,
        }
        super().__init__(data_dir, port=self.ports["PLAINTEXT"], settings=settings, **kw)

    def command(self):
        cmd = super().command()
        i = cmd.index("--listen")
        del cmd[i:i + 2]
        spec = ",".join(f"{n}://127.0.0.1:{p}" for n, p in self.ports.items())
        return cmd + ["--set", f"listeners={spec}"]

    def addr(self, name):
        return f"127.0.0.1:{self.ports[name]}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = AclBroker(tmp_path_factory.mktemp("acl") / "data", binary=sluice_bin())
    b.start()
    assert wait_for_port("127.0.0.1", b.ports["SASL_PLAINTEXT"], 10)
    try:
        yield b
    finally:
        b.stop(check=False)


def conf(b, user):
    return {"bootstrap.servers": b.addr("SASL_PLAINTEXT"), "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": USERS[user]}


def kp_conf(b, user):
    return {"bootstrap_servers": b.addr("SASL_PLAINTEXT"), "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN", "sasl_plain_username": user, "sasl_plain_password": USERS[user],
            "request_timeout_ms": 20000}


def admin(b):
    """confluent-kafka's admin client as User:admin (a super user) over SASL."""
    return AdminClient(conf(b, "admin"))


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topics(b, *topics):
    a = admin(b)  # held until the futures are done: a collected client cancels them
    for f in a.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        f.result(timeout=30)


def acl(principal, rtype, rname, op, perm=AclPermissionType.ALLOW, pattern=ResourcePatternType.LITERAL):
    return AclBinding(rtype, rname, pattern, principal, "*", op, perm)


def create_acls(b, *acls):
    a = admin(b)
    for f in a.create_acls(list(acls)).values():
        f.result(timeout=30)


def produce_one(b, user, topic, **extra):
    """Produces one record as `user`; returns the delivery error (None on success)."""
    p = Producer({**conf(b, user), "message.timeout.ms": 15000, "retries": 0, **extra})
    errors = []
    p.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    p.flush(30)
    assert errors, "no delivery report"
    return errors[0]


# -- the tests -------------------------------------------------------------------------------------

def test_produce_needs_write_and_acls_take_effect_at_once(broker):
    topic = name("orders")
    create_topics(broker, topic)
    err = produce_one(broker, "alice", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    create_acls(broker, acl("User:alice", ResourceType.TOPIC, topic, AclOperation.WRITE))
    assert produce_one(broker, "alice", topic) is None
    # DeleteAcls takes effect at once: the same principal is refused on its next produce.
    a = admin(broker)
    deleted = a.delete_acls([AclBindingFilter(
        ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", None,
        AclOperation.ANY, AclPermissionType.ANY)])
    for f in deleted.values():
        assert len(f.result(timeout=30)) == 1
    err = produce_one(broker, "alice", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err


def test_kafka_python_admin_acls_and_group_read(broker):
    from kafka import KafkaConsumer
    from kafka.admin import (ACL, ACLOperation, ACLPermissionType, KafkaAdminClient, ResourcePattern,
                             ResourceType as KPResourceType)
    from kafka.errors import GroupAuthorizationFailedError
    topic, group = name("bobs"), name("bob-group")
    create_topics(broker, topic)
    assert produce_one(broker, "admin", topic) is None
    kp_admin = KafkaAdminClient(**kp_conf(broker, "admin"))
    try:
        result = kp_admin.create_acls([ACL("User:bob", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                                           ResourcePattern(KPResourceType.TOPIC, topic))])
        assert not result["failed"], result
    finally:
        kp_admin.close()
    # READ on the topic but not on the group: the group join is refused.
    c = KafkaConsumer(topic, group_id=group, auto_offset_reset="earliest", consumer_timeout_ms=15000,
                      **kp_conf(broker, "bob"))
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            for _ in range(20):
                c.poll(timeout_ms=1000)
    finally:
        c.close()
    # confluent-kafka's consumer sees the same error code.
    seen = []
    cc = Consumer({**conf(broker, "bob"), "group.id": group, "auto.offset.reset": "earliest",
                   "error_cb": lambda e: seen.append(e)})
    cc.subscribe([topic])
    try:
        for _ in range(30):
            m = cc.poll(1)
            if m is not None and m.error():
                seen.append(m.error())
            if any(e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED for e in seen):
                break
        assert any(e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED for e in seen), seen
    finally:
        cc.close()
    # With group READ the same consumer reads the record.
    create_acls(broker, acl("User:bob", ResourceType.GROUP, group, AclOperation.READ))
    cc = Consumer({**conf(broker, "bob"), "group.id": group, "auto.offset.reset": "earliest"})
    cc.subscribe([topic])
    try:
        got = None
        for _ in range(30):
            m = cc.poll(1)
            if m is not None and not m.error():
                got = m.value()
                break
        assert got == b"v"
    finally:
        cc.close()


def test_transactional_producer_needs_transactional_id_write(broker):
    topic, txn = name("txn-topic"), name("txn")
    create_topics(broker, topic)
    create_acls(broker, acl("User:carol", ResourceType.TOPIC, topic, AclOperation.WRITE))
    p = Producer({**conf(broker, "carol"), "transactional.id": txn, "transaction.timeout.ms": 10000})
    with pytest.raises(KafkaException) as e:
        p.init_transactions(20)
    assert e.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e.value
    create_acls(broker, acl("User:carol", ResourceType.TRANSACTIONAL_ID, txn, AclOperation.WRITE))
    p = Producer({**conf(broker, "carol"), "transactional.id": txn, "transaction.timeout.ms": 10000})
    p.init_transactions(20)
    p.begin_transaction()
    p.produce(topic, b"in-txn")
    p.commit_transaction(20)


def test_metadata_hides_topics_the_principal_may_not_describe(broker):
    visible, hidden = name("visible"), name("hidden")
    create_topics(broker, visible, hidden)
    create_acls(broker, acl("User:dave", ResourceType.TOPIC, visible, AclOperation.READ))
    topics = AdminClient(conf(broker, "dave")).list_topics(timeout=30).topics
    assert visible in topics and hidden not in topics
    # Asked for by name, the hidden topic answers TOPIC_AUTHORIZATION_FAILED (not whether it exists).
    md = AdminClient(conf(broker, "dave")).list_topics(topic=hidden, timeout=30)
    assert md.topics[hidden].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    from kafka import KafkaConsumer
    c = KafkaConsumer(**kp_conf(broker, "dave"))
    try:
        names = c.topics()
        assert visible in names and hidden not in names
    finally:
        c.close()
    # The super user sees both.
    all_topics = admin(broker).list_topics(timeout=30).topics
    assert visible in all_topics and hidden in all_topics


def test_describe_acls_filters(broker):
    base = name("flt")
    create_acls(broker,
                acl("User:alice", ResourceType.TOPIC, f"{base}-exact", AclOperation.READ),
                acl("User:alice", ResourceType.TOPIC, base, AclOperation.WRITE,
                    pattern=ResourcePatternType.PREFIXED),
                acl("User:bob", ResourceType.TOPIC, f"{base}-exact", AclOperation.DESCRIBE,
                    perm=AclPermissionType.DENY))

    def describe(rname, pattern, principal=None):
        f = AclBindingFilter(ResourceType.TOPIC, rname, pattern, principal, None,
                             AclOperation.ANY, AclPermissionType.ANY)
        a = admin(broker)
        return a.describe_acls(f).result(timeout=30)

    assert len(describe(f"{base}-exact", ResourcePatternType.LITERAL)) == 2
    assert len(describe(base, ResourcePatternType.PREFIXED)) == 1
    # MATCH: the literal ACLs on the name and the prefixed one covering it.
    assert len(describe(f"{base}-exact", ResourcePatternType.MATCH)) == 3
    assert len(describe(f"{base}-other", ResourcePatternType.MATCH)) == 1
    # ANY with a name: every pattern type, exact name only.
    assert len(describe(base, ResourcePatternType.ANY)) == 1
    assert len(describe(f"{base}-exact", ResourcePatternType.ANY, principal="User:bob")) == 1
    # The prefixed ACL is in force: alice may write a topic it covers.
    topic = f"{base}-new"
    create_topics(broker, topic)
    assert produce_one(broker, "alice", topic) is None


def test_super_users_bypass_acls(broker):
    topic = name("su")
    create_topics(broker, topic)
    # A DENY for everyone does not stop a super user.
    create_acls(broker, acl("User:*", ResourceType.TOPIC, topic, AclOperation.ALL, perm=AclPermissionType.DENY))
    assert produce_one(broker, "admin", topic) is None
    err = produce_one(broker, "alice", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_deny_wins_over_allow(broker):
    topic = name("deny")
    create_topics(broker, topic)
    create_acls(broker,
                acl("User:*", ResourceType.TOPIC, "*", AclOperation.WRITE),
                acl("User:carol", ResourceType.TOPIC, topic, AclOperation.WRITE, perm=AclPermissionType.DENY))
    err = produce_one(broker, "carol", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert produce_one(broker, "dave", topic) is None
    a = admin(broker)
    for f in a.delete_acls([AclBindingFilter(
            ResourceType.TOPIC, "*", ResourcePatternType.LITERAL, "User:*", None,
            AclOperation.WRITE, AclPermissionType.ALLOW)]).values():
        f.result(timeout=30)


def test_kcat_is_refused_with_the_topic_error(broker):
    assert KCAT, "kcat is not installed (scripts/install-test-deps.sh installs it)"
    topic = name("kcat")
    create_topics(broker, topic)
    args = ["-b", broker.addr("SASL_PLAINTEXT"), "-X", "security.protocol=SASL_PLAINTEXT",
            "-X", "sasl.mechanism=PLAIN", "-X", "sasl.username=dave", "-X", "sasl.password=dave-pw"]
    r = run([KCAT, "-P", "-t", topic, "-p", "0", "-X", "message.timeout.ms=15000", *args],
            input="refused\n", timeout=60, check=False)
    out = r.stdout + r.stderr
    assert "authoriz" in out.lower(), out


def test_acl_apis_answer_security_disabled_without_an_authorizer(tmp_path):
    b = Broker(tmp_path / "data", binary=sluice_bin())
    b.start()
    try:
        a = AdminClient({"bootstrap.servers": b.bootstrap})
        fs = a.create_acls(
            [acl("User:alice", ResourceType.TOPIC, "t", AclOperation.READ)])
        for f in fs.values():
            with pytest.raises(KafkaException) as e:
                f.result(timeout=30)
            assert e.value.args[0].code() == KafkaError.SECURITY_DISABLED
        r = run([sluice_bin(), "acl", "list", "-b", b.bootstrap], timeout=30, check=False)
        assert r.returncode != 0 and "SECURITY_DISABLED" in r.stderr, r.stderr
    finally:
        b.stop(check=False)


def test_acls_from_the_cli_survive_kill9(tmp_path):
    b = AclBroker(tmp_path / "data", binary=sluice_bin(), in_memory=False)
    b.start()
    try:
        topic = "kept"
        create_topics(b, topic)
        boot = ["-b", b.addr("PLAINTEXT")]
        run([sluice_bin(), "acl", "add", "--allow-principal", "User:alice", "--operation", "WRITE",
             "--topic", topic, *boot], timeout=30)
        run([sluice_bin(), "acl", "add", "--allow-principal", "User:bob", "--operation", "READ",
             "--topic", "kep", "--resource-pattern-type", "prefixed", *boot], timeout=30)
        b.kill9()
        b.start()
        assert wait_for_port("127.0.0.1", b.ports["SASL_PLAINTEXT"], 10)
        listed = run([sluice_bin(), "acl", "list", *boot], timeout=30).stdout
        assert "User:alice" in listed and "PREFIXED" in listed, listed
        assert produce_one(b, "alice", topic) is None
        err = produce_one(b, "bob", topic)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        removed = run([sluice_bin(), "acl", "remove", "--principal", "User:alice", "--topic", topic, *boot],
                      timeout=30).stdout
        assert "User:alice" in removed
        err = produce_one(b, "alice", topic)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert not list((tmp_path / "data").glob("acls.tmp"))
    finally:
        b.stop(check=False)
