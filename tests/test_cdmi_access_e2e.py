"""CDMI over HTTPS against a real ``omsh serve``: who may do what, and the SSH side.

The server here serves CDMI over TLS (a self-signed certificate made for
the test) with short login-throttling delays.  HTTP Basic against the same
principals as SSH, ``ANONYMOUS@`` entries deciding unauthenticated access,
``cdmi_acl`` as the very ACL the shell edits, and objects written on one
front end read on the other, byte for byte, hash for hash.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import ipaddress
import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cdmi_http import CdmiClient
from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e

PASSWORDS = {"alice": "alice-cdmi-pw", "bob": "bob-cdmi-pw"}
#: Login throttling of the server below: the first delay, and its caps.  Long
#: enough to stand out from an argon2 check on a loaded machine (up to ~1 s).
DELAY = 2.0
THROTTLE = ("--auth-delay", str(DELAY), "--auth-delay-max", str(DELAY))
#: Loopback addresses failed logins come from, so that the throttle they earn
#: does not slow the SSH commands (from 127.0.0.1) of the other tests.
FAILING, THROTTLED = "127.0.0.2", "127.0.0.3"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "omsh test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]
) -> Iterator[OmshServer]:
    cert, key = certificate
    root = tmp_path_factory.mktemp("omsh-cdmi-access")
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    instance = OmshServer(root, serve_args=(*tls, *THROTTLE)).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def cdmi(server: OmshServer, certificate: tuple[Path, Path]) -> CdmiClient:
    """Admin over HTTPS, trusting only the test certificate; alice and bob exist."""
    assert server.cdmi_url.startswith("https://")
    context = ssl.create_default_context(cafile=str(certificate[0]))
    for user, password in PASSWORDS.items():
        server.ok(f"user add {user} --password-stdin", stdin=f"{password}\n".encode())
    return CdmiClient(server.cdmi_url, ssl_context=context)


@pytest.fixture(scope="module")
def alice(cdmi: CdmiClient) -> CdmiClient:
    return cdmi.as_user("alice", PASSWORDS["alice"])


@pytest.fixture(scope="module")
def bob(cdmi: CdmiClient) -> CdmiClient:
    return cdmi.as_user("bob", PASSWORDS["bob"])


@pytest.fixture(scope="module")
def anonymous(cdmi: CdmiClient) -> CdmiClient:
    return cdmi.as_user(None)


def assert_challenged(reply: Any) -> None:
    assert reply.status == 401, reply
    assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")


# -- TLS and HTTP Basic --------------------------------------------------------


def test_cdmi_is_served_over_tls_only(cdmi: CdmiClient):
    assert cdmi.get("/").status == 200
    plain = http.client.HTTPConnection(cdmi.host, cdmi.port, timeout=10)
    try:
        plain.request("GET", "/")
        answer = plain.getresponse()
        assert answer.status == 400  # a TLS server may answer a plain request with 400
    except (OSError, http.client.HTTPException):
        pass
    finally:
        plain.close()
    untrusting = cdmi.as_user("admin")
    untrusting.ssl_context = ssl.create_default_context()  # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusting.get("/")


def test_credentials_are_checked(cdmi: CdmiClient, alice: CdmiClient):
    assert alice.get("/home/alice/").status == 200
    # Failures come from their own loopback address: the throttle is per address.
    assert_challenged(cdmi.as_user("alice", "wrong", source=FAILING).get("/home/alice/"))
    assert_challenged(cdmi.as_user("nobody", "x", source=FAILING).get("/home/alice/"))
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"):
        reply = cdmi.as_user(None).get("/home/", headers={"Authorization": header})
        assert_challenged(reply)
    # The challenge also comes on plain (non-CDMI) requests.
    plain = cdmi.as_user("alice", "wrong", source=FAILING).get("/home/alice/", cdmi=False)
    assert_challenged(plain)


def test_a_changed_password_takes_effect_at_once(server: OmshServer, cdmi: CdmiClient):
    server.ok("user add carol --password-stdin", stdin=b"first-pw\n")
    assert cdmi.as_user("carol", "first-pw").get("/home/carol/").status == 200  # remembered
    server.ok("passwd carol", stdin=b"second-pw\n")
    assert_challenged(cdmi.as_user("carol", "first-pw", source=FAILING).get("/"))
    assert cdmi.as_user("carol", "second-pw").get("/home/carol/").status == 200
    server.ok("user del carol")
    assert_challenged(cdmi.as_user("carol", "second-pw", source=FAILING).get("/"))


# -- ACLs ---------------------------------------------------------------------------


def test_the_owner_and_others(alice: CdmiClient, bob: CdmiClient):
    made = alice.put_object("/home/alice/diary", {"value": "dear diary"})
    assert made.status == 201, made
    assert made.json()["metadata"]["cdmi_owner"] == "alice"
    assert bob.get("/home/alice/diary").status == 403  # private by default
    assert bob.put_object("/home/alice/diary", {"value": "defaced"}).status == 403
    assert bob.put_plain("/home/alice/other", b"x", "text/plain").status == 403
    assert bob.delete("/home/alice/diary").status == 403
    assert bob.put_container("/home/alice/sub/").status == 403
    assert alice.value("/home/alice/diary") == b"dear diary"


def test_a_fresh_store_shows_others_nothing(cdmi: CdmiClient, alice: CdmiClient, bob: CdmiClient):
    """Private by default: bob reads nothing of alice's or the admin's, not even names."""
    made = alice.put_plain("/home/alice/private", b"mine", "text/plain")
    assert made.status == 201, made
    assert cdmi.put_plain("/admins-only", b"admin's", "text/plain").status == 201
    object_id = alice.read("/home/alice/private")["objectID"]
    for path in (
        "/",
        "/home/",
        "/home/alice/",
        "/home/alice/private",
        "/home/alice/nothing",
        "/admins-only",
        f"/cdmi_objectid/{object_id}",
    ):
        assert bob.get(path).status == 403, path
        assert bob.get(path, cdmi=False).status == 403, path
    assert bob.read("/home/bob/")["children"] == []
    assert cdmi.value("/home/alice/private") == b"mine"  # administrators see everything


def test_acl_grant_over_ssh_governs_cdmi_at_once(
    server: OmshServer, alice: CdmiClient, bob: CdmiClient
):
    assert alice.put_container("/home/alice/shared/").status == 201
    assert alice.put_plain("/home/alice/shared/doc", b"v1", "text/plain").status == 201
    assert bob.put_plain("/home/alice/shared/doc", b"bob's", "text/plain").status == 403
    server.ok("acl grant /home/alice/shared bob write --inherit")
    assert bob.put_plain("/home/alice/shared/doc", b"bob's", "text/plain").status == 204
    assert bob.put_plain("/home/alice/shared/new", b"new", "text/plain").status == 201
    server.ok("acl deny /home/alice/shared/doc bob read")
    assert bob.get("/home/alice/shared/doc", cdmi=False).status == 403
    assert bob.get("/home/alice/shared/doc").status == 403
    assert alice.value("/home/alice/shared/doc") == b"bob's"
    server.ok("acl revoke /home/alice/shared/doc bob")
    server.ok("acl revoke /home/alice/shared bob")
    assert bob.get("/home/alice/shared/doc").status == 403  # private again
    assert bob.put_plain("/home/alice/shared/doc", b"again", "text/plain").status == 403


def test_anonymous_access_is_decided_by_anonymous_aces(
    server: OmshServer, cdmi: CdmiClient, anonymous: CdmiClient
):
    assert cdmi.put_container("/pub/").status == 201
    assert cdmi.put_plain("/pub/readme", b"public", "text/plain").status == 201
    assert_challenged(anonymous.get("/pub/readme", cdmi=False))
    assert_challenged(anonymous.get("/pub/readme"))
    server.ok("acl grant /pub ANONYMOUS@ read --inherit")
    assert anonymous.value("/pub/readme") == b"public"
    assert anonymous.read("/pub/readme")["value"] == "public"
    assert anonymous.read("/pub/")["children"] == ["readme"]
    assert_challenged(anonymous.put_plain("/pub/readme", b"vandal", "text/plain"))
    assert_challenged(anonymous.delete("/pub/readme"))
    assert_challenged(anonymous.get("/home/"))  # nothing else opened up
    server.ok("acl revoke /pub ANONYMOUS@")
    assert_challenged(anonymous.get("/pub/readme", cdmi=False))
    assert cdmi.value("/pub/readme") == b"public"


def test_cdmi_acl_is_the_acl_the_shell_edits(
    server: OmshServer, alice: CdmiClient, bob: CdmiClient
):
    assert alice.put_plain("/home/alice/secret", b"s3cret", "text/plain").status == 201
    deny_bob = {"acetype": "DENY", "identifier": "bob", "aceflags": "0x0", "acemask": "0x1"}
    reply = alice.put_object(
        "/home/alice/secret?metadata:cdmi_acl", {"metadata": {"cdmi_acl": [deny_bob]}}
    )
    assert reply.status == 204, reply
    assert bob.get("/home/alice/secret", cdmi=False).status == 403
    shown = json.loads(server.ok("acl --json /home/alice/secret"))
    assert shown["cdmi_acl"] == [
        {"acetype": "DENY", "identifier": "bob", "aceflags": "0x00000000", "acemask": "0x00000001"}
    ]
    assert (
        alice.read("/home/alice/secret?metadata:cdmi_acl")["metadata"]["cdmi_acl"]
        == shown["cdmi_acl"]
    )
    # bob may not change it (no write-acl), even to let himself in.
    taken = bob.put_object("/home/alice/secret?metadata:cdmi_acl", {"metadata": {"cdmi_acl": []}})
    assert taken.status == 403, taken
    assert json.loads(server.ok("acl --json /home/alice/secret"))["cdmi_acl"] == shown["cdmi_acl"]
    # Names are checked against the principals, and so are ACEs.
    unknown = {"acetype": "ALLOW", "identifier": "nobody", "acemask": "0x1"}
    refused = alice.put_object(
        "/home/alice/secret?metadata:cdmi_acl", {"metadata": {"cdmi_acl": [unknown]}}
    )
    assert refused.status == 400, refused
    server.ok("acl revoke /home/alice/secret bob; acl grant /home/alice/secret bob read")
    assert bob.value("/home/alice/secret") == b"s3cret"


# -- the SSH side -----------------------------------------------------------------------


def test_an_object_put_over_cdmi_is_the_same_over_ssh(server: OmshServer, cdmi: CdmiClient):
    data = os.urandom(300_000) + "ünïcode".encode()
    metadata = {"colour": "red", "count": 3, "ok": True, "ratio": 0.5}
    made = cdmi.put_object(
        "/cross.bin",
        {
            "mimetype": "application/x-test",
            "metadata": metadata,
            "valuetransferencoding": "base64",
            "value": base64.b64encode(data).decode(),
        },
    )
    assert made.status == 201, made
    body = made.json()
    result = server.ssh("cat /cross.bin")
    assert result.status == 0, result.err
    assert result.stdout == data
    stat = json.loads(server.ok("stat --json /cross.bin"))
    assert stat["cdmi_hash"] == body["metadata"]["cdmi_hash"] == hashlib.sha256(data).hexdigest()
    assert stat["cdmi_size"] == len(data) == int(body["metadata"]["cdmi_size"])
    assert stat["objectid"] == body["objectID"]
    assert stat["mimetype"] == "application/x-test"
    meta = json.loads(server.ok("meta --json /cross.bin"))
    assert meta["metadata"] == metadata
    assert meta["types"] == {"colour": "str", "count": "int", "ok": "bool", "ratio": "float"}


def test_an_object_put_over_ssh_is_the_same_over_cdmi(server: OmshServer, cdmi: CdmiClient):
    data = os.urandom(100_000)
    server.ok("put /from-ssh.bin", stdin=data)
    server.ok("set-meta /from-ssh.bin colour=blue n=7")
    assert cdmi.value("/from-ssh.bin") == data
    read = cdmi.read("/from-ssh.bin?metadata")["metadata"]
    assert (read["colour"], read["n"]) == ("blue", 7)
    assert read["cdmi_hash"] == json.loads(server.ok("stat --json /from-ssh.bin"))["cdmi_hash"]
    server.ok("rm /from-ssh.bin")
    assert cdmi.get("/from-ssh.bin").status == 404


# -- throttling (last: it slows this address down for the rest of the module) -----------


def test_failed_logins_over_http_are_throttled(cdmi: CdmiClient):
    """From a fresh address: three free failures, then DELAY before the next answer."""
    wrong = cdmi.as_user("alice", "guess", source=THROTTLED)
    timings = []
    for _ in range(4):
        started = time.monotonic()
        assert_challenged(wrong.get("/"))
        timings.append(time.monotonic() - started)
    assert timings[3] >= DELAY, timings
    assert timings[3] >= min(timings[:3]) + DELAY / 2, timings
    # Credentials verified before are remembered, so the owner is not locked out.
    started = time.monotonic()
    assert cdmi.as_user("alice", PASSWORDS["alice"]).get("/home/alice/").status == 200
    assert time.monotonic() - started < DELAY, "a remembered login waited"
