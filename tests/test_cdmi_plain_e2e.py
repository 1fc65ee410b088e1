"""CDMI over HTTP against a real ``omsh serve``: plain bodies and hostile input.

Non-CDMI PUT and GET of values (media types, ``Range`` and ``Content-Range``),
the limit on CDMI JSON bodies, and what a careless or malicious client can
send: malformed JSON, wrong field types, huge headers, path traversal and a
connection dropped in the middle of a large upload.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from omsh.store.content import INLINE_LIMIT
from tests.cdmi_http import OBJECT, VERSION, CdmiClient, basic
from tests.e2e import ADMIN_PASSWORD, OmshServer

pytestmark = pytest.mark.e2e

#: The server below accepts CDMI JSON bodies up to this many bytes.
JSON_LIMIT = 64 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmshServer]:
    root = tmp_path_factory.mktemp("omsh-cdmi-plain")
    instance = OmshServer(root, serve_args=("--cdmi-json-limit", str(JSON_LIMIT))).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def cdmi(server: OmshServer) -> CdmiClient:
    client = CdmiClient(server.cdmi_url)
    assert client.put_container("/p/").status == 201
    return client


def staged_uploads(server: OmshServer) -> list[Path]:
    return list((server.data / "blobs" / "tmp").glob("upload-*"))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def children(cdmi: CdmiClient, uri: str) -> list[str]:
    return cdmi.read(uri)["children"]


# -- plain values --------------------------------------------------------------


def test_plain_put_and_get(cdmi: CdmiClient):
    data = os.urandom(5000)
    made = cdmi.put_plain("/p/a.bin", data, "Application/Octet-Stream")
    assert made.status == 201, made
    assert (made.version, made.body) == (None, b"")
    read = cdmi.read("/p/a.bin?mimetype;objectID")
    assert read["mimetype"] == "application/octet-stream"  # lower-cased, as CDMI says
    got = cdmi.get("/p/a.bin", cdmi=False)
    assert got.status == 200
    assert got.content_type == "application/octet-stream"
    assert got.version is None
    assert got.body == data
    assert got.headers["Accept-Ranges"] == "bytes"

    replaced = cdmi.put_plain("/p/a.bin", b"text now", "text/plain; charset=utf-8")
    assert replaced.status == 204, replaced
    again = cdmi.read("/p/a.bin?mimetype;objectID")
    assert again == {"mimetype": "text/plain; charset=utf-8", "objectID": read["objectID"]}
    assert cdmi.value("/p/a.bin") == b"text now"


def test_the_mimetype_defaults_from_the_name(cdmi: CdmiClient):
    made = cdmi.request("PUT", "/p/photo.png", b"\x89PNG", cdmi=False)
    assert made.status == 201, made
    assert cdmi.read("/p/photo.png?mimetype")["mimetype"] == "image/png"


@pytest.mark.parametrize("content_type", ["not a type", "text/", "a/b; broken", "x" * 300 + "/y"])
def test_invalid_media_types_are_refused(cdmi: CdmiClient, content_type: str):
    assert cdmi.put_plain("/p/typed", b"x", content_type).status == 400
    assert cdmi.put_object("/p/typed", {"mimetype": content_type, "value": "x"}).status == 400
    assert cdmi.get("/p/typed").status == 404


def test_range_reads(cdmi: CdmiClient):
    data = bytes(range(256)) * 4
    assert cdmi.put_plain("/p/ranged", data, "application/octet-stream").status == 201
    cases = {
        "bytes=10-19": (10, 19),
        "bytes=1000-": (1000, 1023),
        "bytes=-5": (1019, 1023),
        "bytes=0-0": (0, 0),
        "bytes=1020-5000": (1020, 1023),
    }
    for header, (start, end) in cases.items():
        reply = cdmi.get("/p/ranged", cdmi=False, headers={"Range": header})
        assert reply.status == 206, (header, reply)
        assert reply.headers["Content-Range"] == f"bytes {start}-{end}/1024"
        assert reply.body == data[start : end + 1]
    for unsatisfiable in ("bytes=1024-", "bytes=2000-3000"):
        reply = cdmi.get("/p/ranged", cdmi=False, headers={"Range": unsatisfiable})
        assert reply.status == 416, (unsatisfiable, reply)
        assert reply.headers["Content-Range"] == "bytes */1024"
    for malformed in ("bytes=abc", "bytes=5-2", "lines=1-2", "bytes=1-2,4-5"):
        reply = cdmi.get("/p/ranged", cdmi=False, headers={"Range": malformed})
        assert reply.status in (400, 416), (malformed, reply)


def test_partial_writes_with_content_range(cdmi: CdmiClient):
    assert cdmi.put_plain("/p/patch", b"abcdefghij", "text/plain").status == 201
    object_id = cdmi.read("/p/patch?objectID")["objectID"]

    def patch(data: bytes, content_range: str) -> int:
        headers = {"Content-Range": content_range}
        return cdmi.put_plain("/p/patch", data, "text/plain", headers=headers).status

    assert patch(b"XYZ", "bytes 2-4/10") == 204
    assert cdmi.value("/p/patch") == b"abXYZfghij"
    assert patch(b"123", "bytes 10-12/*") == 204
    assert cdmi.value("/p/patch") == b"abXYZfghij123"
    assert patch(b"!", "bytes 15-15/*") == 204  # a gap reads as zeros
    assert cdmi.value("/p/patch") == b"abXYZfghij123\x00\x00!"
    for bad_range in ("bytes 0-9/*", "bytes 4-2/*", "bytes x-y/*", "2-4/10", "bytes 2-4"):
        assert patch(b"abc", bad_range) == 400, bad_range
    assert cdmi.value("/p/patch") == b"abXYZfghij123\x00\x00!"
    assert cdmi.read("/p/patch?objectID")["objectID"] == object_id
    # A patch can also create an object.
    assert cdmi.put_plain("/p/new", b"end", "text/plain", headers={"Content-Range": "bytes 2-4/*"})
    assert cdmi.value("/p/new") == b"\x00\x00end"


def test_a_chunked_plain_put_streams(cdmi: CdmiClient):
    pieces = [os.urandom(100_000) for _ in range(5)]
    connection = cdmi.connection()
    try:
        connection.putrequest("PUT", "/p/chunked")
        connection.putheader("Authorization", basic("admin", ADMIN_PASSWORD))
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for piece in pieces:
            connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        connection.send(b"0\r\n\r\n")
        assert connection.getresponse().status == 201
    finally:
        connection.close()
    assert cdmi.value("/p/chunked") == b"".join(pieces)


# -- the CDMI JSON limit ----------------------------------------------------------


def test_cdmi_json_bodies_over_the_limit_get_413(cdmi: CdmiClient):
    big = {"value": "x" * JSON_LIMIT}
    reply = cdmi.put_object("/p/big", big)
    assert reply.status == 413, reply
    message = reply.json()["error"]
    assert str(JSON_LIMIT) in message
    assert "plain" in message and VERSION in message  # says how to send it instead
    assert cdmi.get("/p/big").status == 404
    # Without a Content-Length, the limit is found while reading.
    connection = cdmi.connection()
    try:
        headers = {
            VERSION: "1.1.1",
            "Content-Type": OBJECT,
            "Authorization": basic("admin", ADMIN_PASSWORD),
        }
        body = (b'{"value": "' + b"y" * (JSON_LIMIT // 4) + b'",' for _ in range(8))
        connection.request("PUT", "/p/big", body=body, headers=headers, encode_chunked=True)
        assert connection.getresponse().status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may stop reading once it has answered
    finally:
        connection.close()
    assert cdmi.get("/p/big").status == 404
    # Just under the limit is fine, and plain PUTs have no such limit.
    assert cdmi.put_object("/p/big", {"value": "x" * (JSON_LIMIT - 100)}).status == 201
    assert cdmi.put_plain("/p/big", b"z" * (4 * JSON_LIMIT), "text/plain").status == 204


# -- hostile input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"value": "x"',
        b"[1, 2]",
        b'"a string"',
        b"\xff\xfe{}",
        b"[" * 30_000 + b"]" * 30_000,
        b'{"metadata": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
        b'{"value": NaN}',
    ],
)
def test_malformed_json_is_refused(cdmi: CdmiClient, body: bytes):
    reply = cdmi.request("PUT", "/p/malformed", body, content_type=OBJECT)
    assert reply.status == 400, reply
    assert "error" in reply.json()
    assert cdmi.get("/p/malformed").status == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata": "x"},
        {"metadata": ["a"]},
        {"metadata": {"a": [1]}},
        {"metadata": {"a": {"b": 1}}},
        {"metadata": {"a": None}},
        {"metadata": {"": "empty key"}},
        {"metadata": {"big": 2**70}},
        {"metadata": {"a=b": 1}},
        {"metadata": {f"k{i}": i for i in range(2000)}},
        {"mimetype": 5},
        {"mimetype": None},
        {"value": 5},
        {"value": None},
        {"value": ["x"]},
        {"valuetransferencoding": 5, "value": "x"},
        {"copy": 5},
        {"copy": "relative/path"},
        {"move": ["/x"]},
        {"metadata": {"cdmi_acl": "everyone"}},
        {"metadata": {"cdmi_acl": [{"acetype": "MAYBE", "identifier": "x", "acemask": "0x1"}]}},
        {"metadata": {"cdmi_acl": [{"acetype": "ALLOW", "identifier": "nobody", "acemask": "1"}]}},
        {"metadata": {"cdmi_acl": [5]}},
        {"unknownfield": 1},
        {"deserialize": "/p/x"},
        {"reference": "/p/x"},
    ],
)
def test_wrong_field_types_are_refused(cdmi: CdmiClient, fields: dict[str, Any]):
    reply = cdmi.put_object("/p/typed-fields", fields)
    assert reply.status == 400, (fields, reply)
    assert cdmi.get("/p/typed-fields").status == 404
    container = cdmi.put_container("/p/typed-container/", fields)
    assert container.status == 400, (fields, container)
    assert cdmi.get("/p/typed-container/").status == 404


def test_huge_headers_are_refused_and_the_server_survives(cdmi: CdmiClient):
    for headers in ({"X-Huge": "a" * 100_000}, {f"X-Many-{i}": "v" * 100 for i in range(500)}):
        try:
            reply = cdmi.get("/p/", headers=headers)
        except (ConnectionError, OSError):
            continue  # refusing by closing the connection is fine too
        assert reply.status in (400, 431), reply
    with contextlib.suppress(OSError):  # closing the connection is fine too
        assert cdmi.get("/p/" + "a" * 100_000).status in (400, 414)
    assert cdmi.get("/p/").status == 200


TRAVERSALS = [
    "/p/jail/../outside",
    "/p/jail/%2e%2e/outside",
    "/p/jail/%2E%2E/outside",
    "/p/jail/.%2e/outside",
    "/p/jail/..%2Foutside",
    "/p/jail%2F..%2Foutside",
    "/p/jail/%2e%2e%2foutside",
    "/p/jail/./inside",
    "/p/jail/%2e/inside",
    "/p/jail/a%2Fb",
    "/p/jail/%00inside",
    "/p/jail/%ff%fe",
    "/p/jail/../../",
    "/p/jail/%2e%2e/",
]


@pytest.mark.parametrize("uri", TRAVERSALS)
def test_path_traversal_is_refused(cdmi: CdmiClient, uri: str):
    assert cdmi.put_container("/p/jail/").status in (201, 204)
    assert cdmi.put_plain("/p/jail/inside", b"inside", "text/plain").status in (201, 204)
    assert cdmi.put_plain("/p/outside", b"outside", "text/plain").status in (201, 204)
    before = (children(cdmi, "/"), children(cdmi, "/p/"), children(cdmi, "/p/jail/"))
    attempts = [
        cdmi.get(uri, cdmi=False),
        cdmi.get(uri),
        cdmi.put_plain(uri, b"overwritten", "text/plain"),
        cdmi.put_object(uri, {"value": "overwritten"}),
        cdmi.put_container(uri.rstrip("/") + "/"),
        cdmi.delete(uri),
        cdmi.put_object("/p/jail/target", {"copy": uri}),
        cdmi.put_object("/p/jail/target", {"move": uri}),
    ]
    for reply in attempts:
        assert reply.status == 400, (uri, reply)
    assert cdmi.value("/p/outside") == b"outside"
    assert cdmi.value("/p/jail/inside") == b"inside"
    assert (children(cdmi, "/"), children(cdmi, "/p/"), children(cdmi, "/p/jail/")) == before


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_client_that_disconnects_mid_put_leaves_nothing(
    cdmi: CdmiClient, server: OmshServer, how: str
):
    """A 100 MiB PUT cut off after 8 MiB (FIN or RST): no object, no staged upload."""
    assert not staged_uploads(server)
    declared = 100 * MIB
    head = (
        "PUT /p/dropped.bin HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{cdmi.port}\r\n"
        f"Authorization: {basic('admin', ADMIN_PASSWORD)}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    chunk = os.urandom(MIB)
    with cdmi.raw_socket() as connection:
        connection.sendall(head.encode())
        for _ in range(8):
            connection.sendall(chunk)
        # The upload is being staged as it arrives, not buffered whole...
        wait_for(
            lambda: any(path.stat().st_size > 0 for path in staged_uploads(server)),
            10,
            "the upload to be staged",
        )
        if how == "reset":  # close with RST instead of FIN
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # ...and thrown away when the client goes.
    wait_for(lambda: not staged_uploads(server), 10, "the staged upload to be removed")
    assert cdmi.get("/p/dropped.bin").status == 404
    assert "dropped.bin" not in children(cdmi, "/p/")
    assert cdmi.get("/p/").status == 200


def _exchange(cdmi: CdmiClient, head: str, body: bytes | None) -> tuple[bytes, bytes]:
    """Send *head*; read what comes back at once; then *body* and the answer."""
    with cdmi.raw_socket() as connection:
        connection.settimeout(5)
        connection.sendall(head.encode())
        first = connection.recv(4096)
        rest = b""
        if body is not None and first.startswith(b"HTTP/1.1 100 "):
            connection.sendall(body)
            while b"\r\n\r\n" not in rest:
                rest += connection.recv(4096)
        return first, rest


def test_expect_100_continue(cdmi: CdmiClient):
    """The client waits for 100 Continue, which comes only once the headers pass."""

    def head(path: str, password: str, length: int, content_type: str, cdmi: bool = False) -> str:
        return (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {basic('admin', password)}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n"
            + (f"{VERSION}: 1.1.1\r\n" if cdmi else "")
            + "Expect: 100-continue\r\n\r\n"
        )

    first, answer = _exchange(cdmi, head("/p/expected", ADMIN_PASSWORD, 5, "text/plain"), b"hello")
    assert first.startswith(b"HTTP/1.1 100 Continue"), first
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert cdmi.value("/p/expected") == b"hello"
    refused = [
        head("/p/expected", "wrong", 5, "text/plain"),  # credentials
        head("/p/nowhere/x", ADMIN_PASSWORD, 5, "text/plain"),  # no such container
        head("/p/big", ADMIN_PASSWORD, JSON_LIMIT + 1, OBJECT, cdmi=True),  # too large
    ]
    for request in refused:
        first, _ = _exchange(cdmi, request, None)
        assert first.startswith((b"HTTP/1.1 401", b"HTTP/1.1 404", b"HTTP/1.1 413")), first
    assert cdmi.value("/p/expected") == b"hello"


def test_a_missing_blob_file_is_a_server_error(cdmi: CdmiClient, server: OmshServer):
    """Damage to the blob directory is the server's fault (500), said in one line."""
    data = os.urandom(INLINE_LIMIT + 1000)  # a blob file: smaller content is in the database
    assert cdmi.put_plain("/p/damaged", data, "application/octet-stream").status == 201
    blobs = [path for path in (server.data / "blobs").rglob("*.blob") if path.read_bytes() == data]
    assert len(blobs) == 1
    blobs[0].unlink()
    for reply in (cdmi.get("/p/damaged", cdmi=False), cdmi.get("/p/damaged")):
        assert reply.status == 500, reply
        assert b"omsh check" in reply.body
    assert cdmi.read("/p/damaged?metadata:cdmi_size")["metadata"]["cdmi_size"] == str(len(data))
