"""The web console's login when the broker has a SASL listener, and its ACLs.

One broker (module scope) runs a PLAINTEXT listener (User:ANONYMOUS, a super user, used to
create ACLs with confluent-kafka's AdminClient) and a SASL_PLAINTEXT listener with PLAIN
users from its JAAS line, with StandardAuthorizer, and the admin HTTP side. The console's
API is driven with `requests`; the login form with Debian's Chromium through playwright-core
(integration-tests/node/console_login.js).

- test_api_needs_a_login: every API route but login/logout/openapi.json answers 401 JSON
  without a session; a wrong password is 401; the page itself loads.
- test_scram_users_log_in: a SCRAM-SHA-512 user created with AlterUserScramCredentials logs
  in with its password, not with another.
- test_login_honours_acls_and_logout_ends_the_session: alice logs in (HttpOnly,
  SameSite=Strict cookie), sees only the topic she may DESCRIBE, gets 403 with Kafka's
  error name for a topic she may not see, for creating a topic and for producing without
  WRITE, produces where she may; admin (a super user) sees both; after logout the same
  cookie is 401.
- test_cli_share_describe_logs_in: `sluice group describe` of a share group reads what is
  in flight from the console API, logged in as its SASL user; without one it says a login
  is needed and describes the rest.
- test_login_form_in_chromium: the page shows the login form, logs in as alice and shows
  the overview with her principal.
- test_acls_and_users_as_the_logged_in_user: the ACL and SCRAM-user endpoints run as the
  logged-in user: alice (no cluster ACLs) gets 403 CLUSTER_AUTHORIZATION_FAILED for each;
  admin sees the ACLs confluent-kafka's AdminClient created and its SCRAM user, never a
  password or key.
- test_access_page_in_chromium: admin creates an ACL from the form, sees it listed and
  deletes it, adds a SCRAM user from the form and sees it listed
  (integration-tests/node/console_access.js); the new user then authenticates with
  SASL/SCRAM-SHA-512 from confluent-kafka and logs in to the console, and after its
  removal from the API can do neither. The page's screenshot goes to
  $SLUICE_CONSOLE_SCREENSHOTS (docs/console/access.png) when set.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from harness import Broker, free_port, sluice_bin, wait_for_port, wait_until

from confluent_kafka import KafkaException
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                   ResourcePatternType, ResourceType, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)

NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = shutil.which("chromium")
USERS = {"admin": "admin-pw", "alice": "alice-pw"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-pw" '
        + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";")
SUFFIX = uuid.uuid4().hex[:8]
OPEN, SECRET = f"open-{SUFFIX}", f"secret-{SUFFIX}"


class LoginBroker(Broker):
    def __init__(self, data_dir, **kw):
        self.ports = {"PLAINTEXT": free_port(), "SASL_PLAINTEXT": free_port()}
        self.http_port = free_port()
        settings = {
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:admin;User:ANONYMOUS",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "num.partitions": 1,
            "sluice.http.listen": f"127.0.0.1:{self.http_port}",
        }
        super().__init__(data_dir, port=self.ports["PLAINTEXT"], settings=settings, **kw)

    def command(self):
        cmd = super().command()
        i = cmd.index("--listen")
        del cmd[i:i + 2]
        spec = ",".join(f"{n}://127.0.0.1:{p}" for n, p in self.ports.items())
        return cmd + ["--set", f"listeners={spec}"]


@pytest.fixture(scope="module")
def console(login_broker):
    return login_broker[0]


@pytest.fixture(scope="module")
def login_broker(tmp_path_factory):
    """(console URL, broker)."""
    b = LoginBroker(tmp_path_factory.mktemp("console-login") / "data", binary=sluice_bin())
    b.start()
    url = f"http://127.0.0.1:{b.http_port}"
    try:
        assert wait_for_port("127.0.0.1", b.ports["SASL_PLAINTEXT"], 10)
        wait_until(lambda: requests.get(url + "/ready", timeout=5).status_code == 200,
                   timeout=30, message="/ready")
        s = login(url, "admin")
        for t in (OPEN, SECRET):
            r = s.post(url + "/api/topics", json={"name": t, "partitions": 1}, timeout=10)
            assert r.status_code in (200, 201), r.text
        a = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.ports['PLAINTEXT']}"})
        acls = [AclBinding(ResourceType.TOPIC, OPEN, ResourcePatternType.LITERAL, "User:alice", "*",
                           op, AclPermissionType.ALLOW)
                for op in (AclOperation.DESCRIBE, AclOperation.WRITE)]
        for f in a.create_acls(acls).values():
            f.result(timeout=30)
        scram = UserScramCredentialUpsertion(
            "sam", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"sam-pw", b"salt-of-sam")
        for f in a.alter_user_scram_credentials([scram]).values():
            f.result(timeout=30)
        yield url, b
    finally:
        b.stop(check=False)


def login(url, user, password=None):
    s = requests.Session()
    r = s.post(url + "/api/login", json={"user": user, "password": password or USERS[user]}, timeout=30)
    assert r.status_code in (200, 201), r.text
    assert r.json()["principal"] == f"User:{user}"
    return s


def test_api_needs_a_login(console):
    for method, path in [("GET", "/api/topics"), ("GET", "/api/overview"), ("GET", "/api/whoami"),
                         ("POST", "/api/topics"), ("GET", f"/api/topics/{OPEN}/messages"),
                         ("GET", "/api/groups"), ("GET", "/api/transactions"), ("GET", "/api/share-groups/g"),
                         ("GET", "/api/acls"), ("GET", "/api/users"), ("PUT", "/api/users/x"),
                         ("GET", "/api/schemas")]:
        r = requests.request(method, console + path, json={}, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.json()["login_required"] is True
    assert requests.get(console + "/api/openapi.json", timeout=10).status_code == 200
    assert requests.get(console + "/", timeout=10).status_code == 200
    for body in [{"user": "alice", "password": "wrong"}, {"user": "mallory", "password": "alice-pw"},
                 {"user": "alice", "password": ""}]:
        r = requests.post(console + "/api/login", json=body, timeout=30)
        assert r.status_code == 401, r.text
        assert "set-cookie" not in r.headers
    r = requests.get(console + "/api/topics", cookies={"sluice_session": "0" * 64}, timeout=10)
    assert r.status_code == 401


def test_scram_users_log_in(console):
    """A SCRAM user (stored by AlterUserScramCredentials) logs in with its password; the
    console acts as that user, who has no ACLs and so sees no topic."""
    s = login(console, "sam", "sam-pw")
    assert s.get(console + "/api/topics", timeout=10).json()["topics"] == []
    r = requests.post(console + "/api/login", json={"user": "sam", "password": "sam-pw2"}, timeout=30)
    assert r.status_code == 401


def test_login_honours_acls_and_logout_ends_the_session(console):
    r = requests.post(console + "/api/login", json={"user": "alice", "password": "alice-pw"}, timeout=30)
    assert r.status_code in (200, 201), r.text
    cookie, sid = r.headers["set-cookie"], r.cookies["sluice_session"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    s = requests.Session()
    s.cookies.update(r.cookies)
    assert s.get(console + "/api/whoami", timeout=10).json() == {
        "login_required": True, "principal": "User:alice"}

    names = [t["name"] for t in s.get(console + "/api/topics", timeout=10).json()["topics"]]
    assert OPEN in names and SECRET not in names, names
    assert s.get(console + f"/api/topics/{OPEN}", timeout=10).status_code == 200

    r = s.get(console + f"/api/topics/{SECRET}", timeout=10)
    assert r.status_code == 403 and r.json()["error_name"] == "TOPIC_AUTHORIZATION_FAILED", r.text
    r = s.post(console + "/api/topics", json={"name": f"new-{SUFFIX}", "partitions": 1}, timeout=10)
    assert r.status_code == 403 and r.json()["error_name"] == "TOPIC_AUTHORIZATION_FAILED", r.text
    r = s.post(console + f"/api/topics/{SECRET}/messages", json={"value": "no"}, timeout=10)
    assert r.status_code == 403 and r.json()["error_name"] == "TOPIC_AUTHORIZATION_FAILED", r.text
    r = s.post(console + f"/api/topics/{OPEN}/messages", json={"key": "k", "value": "yes"}, timeout=10)
    assert r.status_code in (200, 201), r.text
    # Alice has no READ on the topic: the message browser is refused, not emptied.
    r = s.get(console + f"/api/topics/{OPEN}/messages", timeout=10)
    assert r.status_code == 403 and r.json()["error_name"] == "TOPIC_AUTHORIZATION_FAILED", r.text

    admin = login(console, "admin")
    names = [t["name"] for t in admin.get(console + "/api/topics", timeout=10).json()["topics"]]
    assert OPEN in names and SECRET in names
    page = admin.get(console + f"/api/topics/{OPEN}/messages", timeout=10).json()
    assert [base64.b64decode(m["value"]) for m in page["messages"]] == [b"yes"], page

    r = s.post(console + "/api/logout", timeout=10)
    assert r.status_code == 200
    r = requests.get(console + "/api/topics", cookies={"sluice_session": sid}, timeout=10)
    assert r.status_code == 401, r.text
    assert s.get(console + "/api/topics", timeout=10).status_code == 401
    assert admin.get(console + "/api/topics", timeout=10).status_code == 200


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_login_form_in_chromium(console):
    p = subprocess.run(["node", str(NODE_DIR / "console_login.js"), console + "/", "alice", USERS["alice"]],
                       cwd=NODE_DIR, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0 and "LOGGED IN" in p.stdout, p.stdout + p.stderr


def test_acls_and_users_as_the_logged_in_user(console):
    alice = login(console, "alice")
    acl = {"resource_type": "TOPIC", "resource_name": OPEN, "principal": "User:alice", "operation": "READ"}
    for method, path, body in [("GET", "/api/acls", None), ("POST", "/api/acls", acl),
                               ("DELETE", "/api/acls", None), ("GET", "/api/users", None),
                               ("PUT", "/api/users/alice", {"password": "mine"}), ("DELETE", "/api/users/sam", None)]:
        params = acl if method == "DELETE" and path == "/api/acls" else None
        r = alice.request(method, console + path, json=body, params=params, timeout=30)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.json()["error_name"] == "CLUSTER_AUTHORIZATION_FAILED", r.text

    admin = login(console, "admin")
    r = admin.get(console + "/api/acls", timeout=10).json()
    assert r["authorizer_enabled"] is True
    mine = {(a["resource_name"], a["principal"], a["operation"], a["permission"], a["pattern_type"], a["host"])
            for a in r["acls"] if a["resource_type"] == "TOPIC"}
    assert {(OPEN, "User:alice", op, "ALLOW", "LITERAL", "*") for op in ("DESCRIBE", "WRITE")} <= mine, r
    r = admin.get(console + "/api/users", timeout=10)
    assert r.status_code == 200, r.text
    assert {"user": "sam", "credentials": [{"mechanism": "SCRAM-SHA-512", "iterations": 4096}]} in r.json()["users"]
    assert "sam-pw" not in r.text


def scram_client_authenticates(b, user, password, timeout=10) -> bool:
    a = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.ports['SASL_PLAINTEXT']}",
                     "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                     "sasl.username": user, "sasl.password": password})
    try:
        a.list_topics(timeout=timeout)
        return True
    except KafkaException:
        return False


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_access_page_in_chromium(login_broker, tmp_path):
    console, b = login_broker
    shots = Path(os.environ.get("SLUICE_CONSOLE_SCREENSHOTS") or tmp_path).resolve()
    shots.mkdir(parents=True, exist_ok=True)
    user, password = f"carol-{SUFFIX}", f"carol-pw-{SUFFIX}"
    p = subprocess.run(["node", str(NODE_DIR / "console_access.js"), console + "/", "admin", USERS["admin"],
                        str(shots), user, password],
                       cwd=NODE_DIR, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0 and "ACCESS OK" in p.stdout, p.stdout + p.stderr
    assert (shots / "access.png").stat().st_size > 10_000
    # The console salted the password right: a real SCRAM client and the console's login
    # both authenticate with it.
    assert scram_client_authenticates(b, user, password)
    login(console, user, password)
    admin = login(console, "admin")
    r = admin.delete(console + f"/api/users/{user}", timeout=10)
    assert r.status_code == 200 and r.json()["deleted"] == ["SCRAM-SHA-512"], r.text
    assert requests.post(console + "/api/login", json={"user": user, "password": password}, timeout=30).status_code == 401
    assert not scram_client_authenticates(b, user, password, timeout=5)
    assert password not in b.log_text(), "the broker logged the password"


def test_cli_share_describe_logs_in(login_broker):
    import share_wire as sw
    from confluent_kafka import Producer
    from kafka import KafkaAdminClient

    url, b = login_broker
    plain = f"127.0.0.1:{b.ports['PLAINTEXT']}"
    topic, group = f"shared-{SUFFIX}", f"sg-{SUFFIX}"
    s = login(url, "admin")
    assert s.post(url + "/api/topics", json={"name": topic, "partitions": 1}, timeout=10).status_code in (200, 201)
    p = Producer({"bootstrap.servers": plain})
    for v in (b"a", b"b"):
        p.produce(topic, v)
    assert p.flush(30) == 0
    sw.set_group_configs(plain, group, {"share.auto.offset.reset": "earliest"})
    admin = KafkaAdminClient(bootstrap_servers=plain, request_timeout_ms=10000)
    try:
        (t,) = admin.describe_topic_partitions([topic])["topics"]
    finally:
        admin.close()
    assert sw.heartbeat(plain, group, "m1", 0, [topic])[0] == 0
    f = sw.share_fetch(plain, group, "m1", 0, uuid.UUID(str(t["topic_id"])))
    assert f["partition"]["acquired"] == [(0, 1, 1)], f

    def describe(*security):
        out = subprocess.run([str(sluice_bin()), "group", "describe", group, "--http", f"127.0.0.1:{b.http_port}",
                              *security], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    out = describe("-b", plain)
    assert "Type: share" in out and "In flight: not shown (the console at" in out and "--sasl-username" in out, out
    out = describe("-b", f"127.0.0.1:{b.ports['SASL_PLAINTEXT']}", "--security-protocol", "SASL_PLAINTEXT",
                   "--sasl-mechanism", "PLAIN", "--sasl-username", "admin", "--sasl-password", USERS["admin"])
    rows = [line.split() for line in out.splitlines() if line.startswith(topic)]
    assert [r[:6] for r in rows if len(r) == 7] == [[topic, "0", "0-1", "acquired", "1", "m1"]], out
