"""CDMI 1.1.1 over HTTP against a real ``omsh serve``: the protocol itself.

Version negotiation, content types, containers, data objects in CDMI JSON,
field selectors, the metadata update rules, copy and move, object IDs,
capabilities and the ``?query=`` extension.  Plain (non-CDMI) bodies, the
JSON size limit and hostile input are in ``test_cdmi_plain_e2e``; users,
ACLs, TLS and the SSH side in ``test_cdmi_access_e2e``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from typing import Any
from urllib.parse import quote

import pytest

from omsh.store.ids import new_object_id, parse_object_id
from tests.cdmi_http import CAPABILITY, CONTAINER, OBJECT, TIMESTAMP, CdmiClient

pytestmark = pytest.mark.e2e


def user_metadata(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body["metadata"].items() if not k.startswith("cdmi_")}


# -- versions and media types ------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        ("1.1.1", "1.1.1"),
        ("1.1", "1.1"),
        ("1.0.2", "1.0.2"),
        ("1.0.2, 1.1.1", "1.1.1"),
        ("1.1,1.0.2", "1.1"),
        ("9.0, 1.0.2", "1.0.2"),
    ],
)
def test_the_highest_common_version_is_answered(cdmi: CdmiClient, offered: str, answered: str):
    reply = cdmi.get("/", version=offered)
    assert reply.status == 200, reply
    assert reply.version == answered


@pytest.mark.parametrize("offered", ["2.0", "1.1.1.1", "", "1.1.1;q=1", "x" * 200])
def test_unknown_versions_are_refused(cdmi: CdmiClient, offered: str):
    reply = cdmi.get("/", version=offered)
    assert reply.status == 400, reply
    assert b"1.1.1" in reply.body  # says what it speaks


def test_the_version_header_is_only_on_cdmi_responses(cdmi: CdmiClient, box: str):
    assert cdmi.put_plain(f"{box}v.txt", b"v", "text/plain").version is None
    assert cdmi.get(f"{box}v.txt", cdmi=False).version is None
    assert cdmi.get(f"{box}missing", cdmi=False).version is None
    assert cdmi.delete(f"{box}v.txt", cdmi=False).version is None
    assert cdmi.get(f"{box}missing").version == "1.1.1"  # a CDMI error still says it


@pytest.mark.parametrize("suffix", ["", "+json", "+json; charset=utf-8", "; charset=UTF-8"])
def test_cdmi_media_types_with_and_without_json_suffix(cdmi: CdmiClient, box: str, suffix: str):
    made = cdmi.request("PUT", f"{box}c/", {}, content_type=CONTAINER + suffix)
    assert made.status == 201, made
    assert made.content_type.startswith(CONTAINER)
    stored = cdmi.request("PUT", f"{box}o", {"value": "x"}, content_type=OBJECT + suffix)
    assert stored.status == 201, stored
    assert stored.content_type.startswith(OBJECT)
    assert cdmi.read(f"{box}o")["value"] == "x"


@pytest.mark.parametrize(
    ("uri", "content_type", "cdmi_request"),
    [
        ("x/", OBJECT, True),  # a data object body for a container URI
        ("x", CONTAINER, True),  # a container body for a data object URI
        ("x", CAPABILITY, True),
        ("x/", CAPABILITY, True),
        ("x", "text/plain", True),  # CDMI header, but not a CDMI body
        ("x", OBJECT, False),  # a CDMI body without the CDMI header
        ("x/", CONTAINER, False),
    ],
)
def test_a_body_that_does_not_fit_the_resource_is_refused(
    cdmi: CdmiClient, box: str, uri: str, content_type: str, cdmi_request: bool
):
    reply = cdmi.request(
        "PUT", box + uri, {"metadata": {}}, content_type=content_type, cdmi=cdmi_request
    )
    assert reply.status == 400, reply
    assert cdmi.read(box)["children"] == []


# -- containers ----------------------------------------------------------------


def test_container_create_read_update_delete(cdmi: CdmiClient, box: str):
    root = cdmi.read("/")
    parent = cdmi.read(box)
    made = cdmi.put_container(f"{box}albums/", {"metadata": {"colour": "blue", "n": 3}})
    assert made.status == 201, made
    assert made.version == "1.1.1"
    assert made.content_type.startswith(CONTAINER)
    body = made.json()
    assert body["objectType"] == CONTAINER
    assert parse_object_id(body["objectID"]) == body["objectID"]
    assert body["objectName"] == "albums/"
    assert body["parentURI"] == box
    assert body["parentID"] == parent["objectID"]
    assert body["capabilitiesURI"] == "/cdmi_capabilities/container/"
    assert body["completionStatus"] == "Complete"
    assert user_metadata(body) == {"colour": "blue", "n": 3}
    assert body["children"] == []
    assert "childrenrange" in body
    assert "parentURI" not in root and root["objectName"] == "/"

    read = cdmi.read(f"{box}albums/")
    assert read["objectID"] == body["objectID"]
    assert user_metadata(read) == {"colour": "blue", "n": 3}

    updated = cdmi.put_container(f"{box}albums/", {"metadata": {"colour": "red"}})
    assert updated.status == 204, updated
    assert updated.body == b""
    assert updated.version == "1.1.1"
    read = cdmi.read(f"{box}albums/")
    assert read["objectID"] == body["objectID"]
    assert user_metadata(read) == {"colour": "red"}  # no selector: replaces them all

    assert cdmi.delete(f"{box}albums/").status == 204
    assert cdmi.get(f"{box}albums/").status == 404


def test_container_create_needs_an_existing_parent(cdmi: CdmiClient, box: str):
    assert cdmi.put_container(f"{box}no/such/").status == 404
    assert cdmi.read(box)["children"] == []


def test_plain_put_of_a_container_uri_creates_a_container(cdmi: CdmiClient, box: str):
    made = cdmi.request("PUT", f"{box}plain/", cdmi=False)
    assert made.status == 201, made
    assert made.version is None
    assert cdmi.read(f"{box}plain/")["objectType"] == CONTAINER
    refused = cdmi.request("PUT", f"{box}other/", b"data", cdmi=False, content_type="text/plain")
    assert refused.status == 400, refused


def test_children_and_childrenrange(cdmi: CdmiClient, box: str):
    for index in range(5):
        assert cdmi.put_plain(f"{box}o{index}", b"x", "text/plain").status == 201
    assert cdmi.put_container(f"{box}sub/").status == 201
    listed = cdmi.read(box)
    assert listed["children"] == ["o0", "o1", "o2", "o3", "o4", "sub/"]
    assert listed["childrenrange"] == "0-5"

    page = cdmi.read(f"{box}?children:1-2")
    assert page == {"children": ["o1", "o2"], "childrenrange": "1-2"}
    assert cdmi.read(f"{box}?children:4-100")["children"] == ["o4", "sub/"]
    assert cdmi.read(f"{box}?children:4-100")["childrenrange"] == "4-5"
    assert cdmi.read(f"{box}?children:50-60")["children"] == []
    assert cdmi.read(f"{box}?childrenrange;children:0-0") == {
        "childrenrange": "0-0",
        "children": ["o0"],
    }
    for bad in ("children:3-1", "children:x", "children:1-", "children:-1-2"):
        assert cdmi.get(f"{box}?{bad}").status == 400, bad


def test_field_selection_on_a_container(cdmi: CdmiClient, box: str):
    selected = cdmi.read(f"{box}?objectName;parentURI")
    assert selected == {"objectName": box.strip("/") + "/", "parentURI": "/"}
    assert cdmi.read(f"{box}?nosuchfield") == {}
    assert set(cdmi.read(f"{box}?metadata:cdmi_s")["metadata"]) == {"cdmi_size"}


def test_delete_is_recursive(cdmi: CdmiClient, box: str):
    assert cdmi.put_container(f"{box}top/").status == 201
    assert cdmi.put_container(f"{box}top/mid/").status == 201
    leaf = cdmi.put_object(f"{box}top/mid/leaf", {"value": "x"}).json()["objectID"]
    assert cdmi.put_object(f"{box}top/other", {"value": "y"}).status == 201
    deleted = cdmi.delete(f"{box}top/")
    assert deleted.status == 204, deleted
    assert deleted.body == b""
    assert cdmi.get(f"{box}top/mid/leaf").status == 404
    assert cdmi.get(f"/cdmi_objectid/{leaf}").status == 404
    assert cdmi.read(box)["children"] == []


def test_the_root_cannot_be_deleted(cdmi: CdmiClient):
    assert cdmi.delete("/").status == 403
    assert cdmi.get("/").status == 200


# -- data objects ----------------------------------------------------------------


def test_data_object_create_read_update(cdmi: CdmiClient, box: str):
    made = cdmi.put_object(
        f"{box}note.txt", {"mimetype": "text/plain", "metadata": {"k": "v"}, "value": "héllo"}
    )
    assert made.status == 201, made
    assert made.content_type.startswith(OBJECT)
    body = made.json()
    assert body["objectType"] == OBJECT
    assert body["objectName"] == "note.txt"
    assert body["parentURI"] == box
    assert body["parentID"] == cdmi.read(box)["objectID"]
    assert body["capabilitiesURI"] == "/cdmi_capabilities/dataobject/"
    assert body["completionStatus"] == "Complete"
    assert body["mimetype"] == "text/plain"
    assert user_metadata(body) == {"k": "v"}
    assert body["metadata"]["cdmi_size"] == "6"
    assert "value" not in body

    read = cdmi.read(f"{box}note.txt")
    assert read["value"] == "héllo"
    assert read["valuetransferencoding"] == "utf-8"
    assert read["valuerange"] == "0-5"
    assert read["objectID"] == body["objectID"]

    updated = cdmi.put_object(f"{box}note.txt", {"value": "bye"})
    assert updated.status == 204, updated
    assert updated.body == b""
    read = cdmi.read(f"{box}note.txt")
    assert (read["value"], read["objectID"], user_metadata(read)) == (
        "bye",
        body["objectID"],
        {"k": "v"},
    )

    assert cdmi.put_object(f"{box}note.txt", {"mimetype": "text/markdown"}).status == 204
    read = cdmi.read(f"{box}note.txt")
    assert (read["mimetype"], read["value"]) == ("text/markdown", "bye")
    plain = cdmi.get(f"{box}note.txt", cdmi=False)
    assert plain.status == 200
    assert plain.content_type.startswith("text/markdown")
    assert plain.body == b"bye"

    assert cdmi.delete(f"{box}note.txt").status == 204
    assert cdmi.get(f"{box}note.txt").status == 404


def test_an_object_without_a_value_is_empty(cdmi: CdmiClient, box: str):
    assert cdmi.put_object(f"{box}empty", {"metadata": {"a": 1}}).status == 201
    read = cdmi.read(f"{box}empty")
    assert read["value"] == ""
    assert read["metadata"]["cdmi_size"] == "0"
    assert cdmi.value(f"{box}empty") == b""


def test_the_parent_must_exist_and_be_a_container(cdmi: CdmiClient, box: str):
    assert cdmi.put_object(f"{box}nowhere/x", {"value": "x"}).status == 404
    assert cdmi.put_object(f"{box}file", {"value": "x"}).status == 201
    assert cdmi.put_object(f"{box}file/x", {"value": "x"}).status in (400, 409)
    assert cdmi.put_container(f"{box}c/").status == 201
    assert cdmi.put_object(f"{box}c", {"value": "x"}).status == 409  # a container is there


def test_base64_values(cdmi: CdmiClient, box: str):
    data = bytes(range(256)) * 3
    made = cdmi.put_object(
        f"{box}bin",
        {"valuetransferencoding": "base64", "value": base64.b64encode(data).decode()},
    )
    assert made.status == 201, made
    read = cdmi.read(f"{box}bin")
    assert read["valuetransferencoding"] == "base64"
    assert base64.b64decode(read["value"]) == data
    assert read["valuerange"] == f"0-{len(data) - 1}"
    assert read["metadata"]["cdmi_hash"] == hashlib.sha256(data).hexdigest()
    assert cdmi.value(f"{box}bin") == data


def test_text_stored_as_base64_reads_back_as_base64(cdmi: CdmiClient, box: str):
    """The encoding a client chose is the one it gets back (CDMI test suites expect it)."""
    encoded = base64.b64encode(b"plain words").decode()
    made = cdmi.put_object(f"{box}t", {"valuetransferencoding": "base64", "value": encoded})
    assert made.status == 201
    read = cdmi.read(f"{box}t")
    assert (read["valuetransferencoding"], read["value"]) == ("base64", encoded)
    # Replaced by other means, the stored choice no longer applies.
    assert cdmi.put_plain(f"{box}t", b"\xff\xfe binary", "application/octet-stream").status == 204
    read = cdmi.read(f"{box}t")
    assert read["valuetransferencoding"] == "base64"
    assert base64.b64decode(read["value"]) == b"\xff\xfe binary"
    assert cdmi.put_plain(f"{box}t", b"text again", "text/plain").status == 204
    assert cdmi.read(f"{box}t")["valuetransferencoding"] == "utf-8"


def test_binary_values_stored_plainly_read_as_base64(cdmi: CdmiClient, box: str):
    data = b"\x00\x01\xfe\xffnot utf-8"
    assert cdmi.put_plain(f"{box}raw", data, "application/octet-stream").status == 201
    read = cdmi.read(f"{box}raw")
    assert read["valuetransferencoding"] == "base64"
    assert base64.b64decode(read["value"]) == data


@pytest.mark.parametrize(
    "fields",
    [
        {"valuetransferencoding": "base64", "value": "!!!not base64"},
        {"valuetransferencoding": "base64", "value": "YWJj="},  # bad padding
        {"valuetransferencoding": "rot13", "value": "x"},
        {"valuetransferencoding": "json", "value": "x"},
        {"value": "\ud800 lone surrogate"},
    ],
)
def test_undecodable_values_are_refused(cdmi: CdmiClient, box: str, fields: dict[str, Any]):
    reply = cdmi.put_object(f"{box}bad", fields)
    assert reply.status == 400, reply
    assert cdmi.get(f"{box}bad").status == 404


def test_field_selection_on_a_data_object(cdmi: CdmiClient, box: str):
    made = cdmi.put_object(
        f"{box}f.txt",
        {
            "mimetype": "text/plain",
            "metadata": {"colour": "red", "column": 2, "x": 1},
            "value": "v",
        },
    ).json()
    assert cdmi.read(f"{box}f.txt?objectID;mimetype") == {
        "objectID": made["objectID"],
        "mimetype": "text/plain",
    }
    # Whoever gets a value also learns its encoding and range, needed to use it.
    assert cdmi.read(f"{box}f.txt?value") == {
        "value": "v",
        "valuetransferencoding": "utf-8",
        "valuerange": "0-0",
    }
    only_metadata = cdmi.read(f"{box}f.txt?metadata")
    assert list(only_metadata) == ["metadata"]
    assert cdmi.read(f"{box}f.txt?metadata:col") == {"metadata": {"colour": "red", "column": 2}}
    system = cdmi.read(f"{box}f.txt?metadata:cdmi_")["metadata"]
    assert set(system) == {
        "cdmi_size",
        "cdmi_ctime",
        "cdmi_mtime",
        "cdmi_atime",
        "cdmi_owner",
        "cdmi_hash",
        "cdmi_acl",
    }
    two = cdmi.read(f"{box}f.txt?metadata:x;metadata:colour;objectName")
    assert two == {"metadata": {"colour": "red", "x": 1}, "objectName": "f.txt"}


def test_value_ranges_are_inclusive(cdmi: CdmiClient, box: str):
    assert cdmi.put_object(f"{box}digits", {"value": "0123456789"}).status == 201
    ranged = cdmi.read(f"{box}digits?value:2-5")
    assert (ranged["value"], ranged["valuerange"]) == ("2345", "2-5")
    assert cdmi.read(f"{box}digits?valuerange;value:0-0")["value"] == "0"
    tail = cdmi.read(f"{box}digits?value:8-100")
    assert (tail["value"], tail["valuerange"]) == ("89", "8-9")
    assert cdmi.get(f"{box}digits?value:10-12").status == 416
    assert cdmi.get(f"{box}digits?value:5-2").status == 400
    assert cdmi.get(f"{box}digits?value:a-b").status == 400

    data = bytes(range(200, 256)) + bytes(range(100))
    encoded = base64.b64encode(data).decode()
    assert cdmi.put_object(f"{box}b", {"valuetransferencoding": "base64", "value": encoded})
    for start, end in ((0, 0), (1, 5), (3, 155), (50, 60)):
        ranged = cdmi.read(f"{box}b?value:{start}-{end}")
        assert base64.b64decode(ranged["value"]) == data[start : end + 1]
        assert ranged["valuerange"] == f"{start}-{min(end, len(data) - 1)}"


def test_value_range_update(cdmi: CdmiClient, box: str):
    assert cdmi.put_object(f"{box}r", {"value": "abcdefghij"}).status == 201
    assert cdmi.put_object(f"{box}r?value:2-4", {"value": "XYZ"}).status == 204
    assert cdmi.value(f"{box}r") == b"abXYZfghij"
    encoded = base64.b64encode(b"\x00\x01").decode()
    patch = {"valuetransferencoding": "base64", "value": encoded}
    assert cdmi.put_object(f"{box}r?value:9-10", patch).status == 204
    assert cdmi.value(f"{box}r") == b"abXYZfghi\x00\x01"
    assert cdmi.put_object(f"{box}r?value:0-5", {"value": "short"}).status == 400
    assert cdmi.value(f"{box}r") == b"abXYZfghi\x00\x01"


# -- metadata ------------------------------------------------------------------------


def test_metadata_update_semantics(cdmi: CdmiClient, box: str):
    """CDMI 1.1.1 §16.6: a named item is added, replaced or (absent) deleted."""
    uri = f"{box}m"
    made = cdmi.put_object(uri, {"metadata": {"a": 1, "ab": 2, "b": "x"}, "value": "v"})
    assert made.status == 201

    def items() -> dict[str, Any]:
        return user_metadata(cdmi.read(f"{uri}?metadata"))

    assert (
        cdmi.put_object(f"{uri}?metadata:a", {"metadata": {"a": 10, "b": "ignored"}}).status == 204
    )
    assert items() == {"a": 10, "ab": 2, "b": "x"}  # exact names, not prefixes
    assert cdmi.put_object(f"{uri}?metadata:c", {"metadata": {"c": True}}).status == 204
    assert items() == {"a": 10, "ab": 2, "b": "x", "c": True}
    assert cdmi.put_object(f"{uri}?metadata:b", {"metadata": {}}).status == 204
    assert items() == {"a": 10, "ab": 2, "c": True}
    assert cdmi.put_object(f"{uri}?metadata:a;metadata:ab", {"metadata": {"ab": 5}}).status == 204
    assert items() == {"ab": 5, "c": True}
    assert cdmi.put_object(f"{uri}?metadata:c", {}).status == 204  # no metadata field: deleted
    assert items() == {"ab": 5}
    assert cdmi.put_object(uri, {"value": "new"}).status == 204  # no metadata: kept
    assert items() == {"ab": 5}
    assert cdmi.put_object(uri, {"metadata": {"z": 0.5}}).status == 204  # replaces all
    assert items() == {"z": 0.5}
    assert cdmi.value(uri) == b"new"

    assert cdmi.put_container(f"{box}mc/", {"metadata": {"p": 1, "q": 2}}).status == 201
    assert cdmi.put_container(f"{box}mc/?metadata:p", {"metadata": {}}).status == 204
    assert user_metadata(cdmi.read(f"{box}mc/")) == {"q": 2}


def test_system_metadata(cdmi: CdmiClient, box: str):
    data = "système"
    body = cdmi.put_object(f"{box}s", {"value": data}).json()
    metadata = cdmi.read(f"{box}s")["metadata"]
    assert metadata == {**body["metadata"], "cdmi_atime": metadata["cdmi_atime"]}
    for key in ("cdmi_ctime", "cdmi_mtime", "cdmi_atime"):
        assert re.fullmatch(TIMESTAMP, metadata[key]), metadata[key]
    assert metadata["cdmi_size"] == str(len(data.encode()))
    assert metadata["cdmi_hash"] == hashlib.sha256(data.encode()).hexdigest()
    assert metadata["cdmi_owner"] == "admin"
    assert isinstance(metadata["cdmi_acl"], list)
    container = cdmi.read(box)["metadata"]
    for key in ("cdmi_ctime", "cdmi_mtime", "cdmi_atime"):
        assert re.fullmatch(TIMESTAMP, container[key]), container[key]


def test_clients_cannot_set_system_metadata(cdmi: CdmiClient, box: str):
    forged = {
        "cdmi_size": "999",
        "cdmi_owner": "eve",
        "cdmi_hash": "00",
        "cdmi_ctime": "2000-01-01T00:00:00.000000Z",
        "cdmi_custom": "x",
        "note": "kept",
    }
    made = cdmi.put_object(f"{box}sys", {"metadata": forged, "value": "abc"})
    assert made.status == 201, made
    metadata = cdmi.read(f"{box}sys")["metadata"]
    assert metadata["cdmi_size"] == "3"
    assert metadata["cdmi_owner"] == "admin"
    assert metadata["cdmi_hash"] == hashlib.sha256(b"abc").hexdigest()
    assert not metadata["cdmi_ctime"].startswith("2000")
    assert "cdmi_custom" not in metadata
    assert metadata["note"] == "kept"
    reply = cdmi.put_object(f"{box}sys?metadata:cdmi_owner", {"metadata": {"cdmi_owner": "eve"}})
    assert reply.status in (204, 400)
    assert cdmi.read(f"{box}sys")["metadata"]["cdmi_owner"] == "admin"


# -- copy and move -------------------------------------------------------------------


def test_copy_makes_a_new_object(cdmi: CdmiClient, box: str):
    source = cdmi.put_object(
        f"{box}src.txt", {"mimetype": "text/plain", "metadata": {"m": 1}, "value": "payload"}
    ).json()
    made = cdmi.put_object(f"{box}copy.txt", {"copy": f"{box}src.txt"})
    assert made.status == 201, made
    copy = cdmi.read(f"{box}copy.txt")
    assert copy["objectID"] != source["objectID"]
    assert (copy["value"], copy["mimetype"], user_metadata(copy)) == (
        "payload",
        "text/plain",
        {"m": 1},
    )
    assert cdmi.read(f"{box}src.txt")["value"] == "payload"
    # Fields given with the copy apply to the new object.
    made = cdmi.put_object(f"{box}copy2.txt", {"copy": f"{box}src.txt", "metadata": {"n": 2}})
    assert made.status == 201
    assert user_metadata(cdmi.read(f"{box}copy2.txt")) == {"n": 2}
    # By object ID too.
    by_id = cdmi.put_object(f"{box}copy3.txt", {"copy": f"/cdmi_objectid/{source['objectID']}"})
    assert by_id.status == 201
    assert cdmi.value(f"{box}copy3.txt") == b"payload"


def test_move_keeps_the_object_id(cdmi: CdmiClient, box: str):
    source = cdmi.put_object(f"{box}a.txt", {"metadata": {"m": 1}, "value": "moving"}).json()
    moved = cdmi.put_object(f"{box}b.txt", {"move": f"{box}a.txt"})
    assert moved.status == 201, moved
    assert moved.json()["objectID"] == source["objectID"]
    assert cdmi.get(f"{box}a.txt").status == 404
    read = cdmi.read(f"/cdmi_objectid/{source['objectID']}")
    assert (read["objectName"], read["parentURI"], read["value"]) == ("b.txt", box, "moving")
    again = cdmi.put_object(f"{box}c.txt", {"move": f"/cdmi_objectid/{source['objectID']}"})
    assert again.status == 201
    assert cdmi.read(f"{box}c.txt")["objectID"] == source["objectID"]


def test_a_failed_move_leaves_the_source_unchanged(cdmi: CdmiClient, box: str):
    source = cdmi.put_object(f"{box}stay.txt", {"metadata": {"m": 1}, "value": "here"}).json()
    assert cdmi.put_container(f"{box}dir/").status == 201
    attempts = [
        (f"{box}missing/x.txt", {"move": f"{box}stay.txt"}, 404),
        (f"{box}y.txt", {"move": f"{box}nothing.txt"}, 404),
        (f"{box}y.txt", {"move": f"{box}stay.txt", "copy": f"{box}stay.txt"}, 400),
        (f"{box}y.txt", {"move": f"{box}stay.txt", "value": "x"}, 400),
        (f"{box}y.txt", {"move": f"{box}stay.txt", "metadata": {"cdmi_acl": "bad"}}, 400),
        (f"{box}y.txt", {"move": f"{box}stay.txt", "mimetype": "not a type"}, 400),
        (f"{box}y.txt", {"move": f"{box}dir/"}, 400),  # a container is no data object
        (f"{box}dir", {"move": f"{box}stay.txt"}, 409),  # a container is in the way
    ]
    for uri, fields, status in attempts:
        reply = cdmi.put_object(uri, fields)
        assert reply.status == status, (uri, fields, reply)
        assert cdmi.get(f"{box}y.txt").status == 404
    read = cdmi.read(f"{box}stay.txt")
    assert (read["objectID"], read["value"], user_metadata(read)) == (
        source["objectID"],
        "here",
        {"m": 1},
    )
    assert cdmi.read(f"{box}dir/")["children"] == []


def test_copy_and_move_containers(cdmi: CdmiClient, box: str):
    original = cdmi.put_container(f"{box}tree/", {"metadata": {"t": 1}}).json()
    leaf = cdmi.put_object(f"{box}tree/leaf", {"value": "leaf"}).json()
    copied = cdmi.put_container(f"{box}copy/", {"copy": f"{box}tree/"})
    assert copied.status == 201, copied
    assert copied.json()["objectID"] != original["objectID"]
    assert copied.json()["children"] == ["leaf"]
    assert cdmi.read(f"{box}copy/leaf")["objectID"] != leaf["objectID"]
    moved = cdmi.put_container(f"{box}moved/", {"move": f"{box}tree/"})
    assert moved.status == 201, moved
    assert moved.json()["objectID"] == original["objectID"]
    assert cdmi.read(f"{box}moved/leaf")["objectID"] == leaf["objectID"]
    assert cdmi.get(f"{box}tree/").status == 404
    assert cdmi.put_container(f"{box}moved/inner/", {"move": f"{box}moved/"}).status == 400
    assert cdmi.put_container(f"{box}x/", {"copy": f"{box}moved/leaf"}).status == 400
    assert cdmi.put_container(f"{box}copy/", {"copy": f"{box}moved/"}).status == 409
    assert cdmi.read(f"{box}moved/")["children"] == ["leaf"]


# -- object IDs ------------------------------------------------------------------------


def test_every_object_is_reachable_by_id(cdmi: CdmiClient, box: str):
    container = cdmi.read(box)
    made = cdmi.put_object(f"{box}o.txt", {"mimetype": "text/plain", "value": "by id"}).json()
    by_id = cdmi.read(f"/cdmi_objectid/{container['objectID']}/")
    assert (by_id["objectName"], by_id["objectType"]) == (box.strip("/") + "/", CONTAINER)
    assert cdmi.read(f"/cdmi_objectid/{container['objectID']}")["objectID"] == container["objectID"]
    read = cdmi.read(f"/cdmi_objectid/{made['objectID']}")
    assert (read["objectName"], read["value"]) == ("o.txt", "by id")
    assert cdmi.read(f"/cdmi_objectid/{made['objectID'].lower()}")["value"] == "by id"
    assert cdmi.value(f"/cdmi_objectid/{made['objectID']}") == b"by id"
    assert cdmi.put_object(f"/cdmi_objectid/{made['objectID']}", {"value": "new"}).status == 204
    assert cdmi.value(f"{box}o.txt") == b"new"
    assert cdmi.delete(f"/cdmi_objectid/{made['objectID']}").status == 204
    assert cdmi.get(f"{box}o.txt").status == 404
    assert cdmi.get(f"/cdmi_objectid/{made['objectID']}").status == 404


def test_malformed_and_unknown_object_ids(cdmi: CdmiClient, box: str):
    good = cdmi.read(box)["objectID"]
    bad_crc = good[:-1] + ("0" if good[-1] != "0" else "1")
    header = bytearray(bytes.fromhex(good))
    header[5] = 19  # the length byte disagrees
    for malformed in (bad_crc, good[:-2], good + "00", header.hex(), "ABC", "00" * 4, "Z" * 40):
        for suffix in ("", "/"):
            reply = cdmi.get(f"/cdmi_objectid/{malformed}{suffix}")
            assert reply.status == 400, (malformed, reply)
    unknown = new_object_id()
    assert cdmi.get(f"/cdmi_objectid/{unknown}").status == 404
    assert cdmi.get(f"/cdmi_objectid/{unknown}/").status == 404
    assert cdmi.put_object(f"/cdmi_objectid/{unknown}", {"value": "x"}).status == 404
    assert cdmi.get("/cdmi_objectid/").status in (400, 404)


# -- capabilities ------------------------------------------------------------------------


def _all_strings(capabilities: dict[str, Any]) -> bool:
    return all(isinstance(value, str) for value in capabilities.values())


def test_capabilities_tree(cdmi: CdmiClient, box: str):
    root = cdmi.get("/cdmi_capabilities/")
    assert root.status == 200, root
    assert root.content_type.startswith(CAPABILITY)
    assert root.version == "1.1.1"
    body = root.json()
    assert body["objectType"] == CAPABILITY
    assert body["children"] == ["container/", "dataobject/"]
    assert body["childrenrange"] == "0-1"
    assert _all_strings(body["capabilities"])
    assert body["capabilities"]["cdmi_object_access_by_ID"] == "true"
    assert all(name.startswith(("cdmi_", "omsh_")) for name in body["capabilities"]), (
        "extensions are prefixed omsh_"
    )
    ids = {body["objectID"]}
    for child in ("container", "dataobject"):
        read = cdmi.read(f"/cdmi_capabilities/{child}/")
        assert read["objectType"] == CAPABILITY
        assert read["parentURI"] == "/cdmi_capabilities/"
        assert _all_strings(read["capabilities"])
        ids.add(read["objectID"])
    assert len(ids) == 3
    for object_id in ids:  # well-formed, and reachable by ID like every object
        assert parse_object_id(object_id) == object_id
        assert cdmi.read(f"/cdmi_objectid/{object_id}/")["objectID"] == object_id
    container = cdmi.read("/cdmi_capabilities/container/")["capabilities"]
    for name in ("cdmi_list_children", "cdmi_create_container", "cdmi_move_dataobject"):
        assert container[name] == "true", name
    dataobject = cdmi.read("/cdmi_capabilities/dataobject/")["capabilities"]
    for name in ("cdmi_read_value", "cdmi_read_value_range", "cdmi_modify_value_range"):
        assert dataobject[name] == "true", name
    # Every object names capabilities that exist.
    made = cdmi.put_object(f"{box}x", {"value": "x"}).json()
    for uri in (made["capabilitiesURI"], cdmi.read(box)["capabilitiesURI"]):
        assert cdmi.get(uri).status == 200


def test_capabilities_are_read_only_and_bounded(cdmi: CdmiClient):
    assert cdmi.get("/cdmi_capabilities/nothing/").status == 404
    assert cdmi.get("/cdmi_capabilities/container/nothing/").status == 404
    refused = cdmi.request("PUT", "/cdmi_capabilities/container/", {}, content_type=CAPABILITY)
    assert refused.status == 405
    assert cdmi.delete("/cdmi_capabilities/").status == 405
    plain = cdmi.get("/cdmi_capabilities/", cdmi=False)
    assert plain.status == 200 and plain.version is None


# -- methods and the query extension --------------------------------------------------------


def test_head_and_unsupported_methods(cdmi: CdmiClient, box: str):
    assert cdmi.put_object(f"{box}h", {"value": "head"}).status == 201
    head = cdmi.request("HEAD", f"{box}h", cdmi=False)
    assert (head.status, head.body, head.headers["Content-Length"]) == (200, b"", "4")
    assert cdmi.request("HEAD", box).status == 200
    for method in ("POST", "PATCH", "OPTIONS"):
        reply = cdmi.request(method, f"{box}h", b"")
        assert reply.status == 405, (method, reply)
        assert "GET" in reply.headers.get("Allow", "")


def test_query_extension(cdmi: CdmiClient, box: str):
    for index, colour in enumerate(("red", "blue", "red")):
        fields = {"metadata": {"colour": colour, "n": index}, "value": colour}
        assert cdmi.put_object(f"{box}q{index}", fields).status == 201
    outside = cdmi.put_object("/query-outside", {"metadata": {"colour": "red"}})
    assert outside.status in (201, 204)
    expression = quote("colour = 'red'")
    reply = cdmi.get(f"{box}?query={expression}")
    assert reply.status == 200, reply
    found = reply.json()
    assert found["count"] == 2
    assert [item["objectURI"] for item in found["results"]] == [f"{box}q0", f"{box}q2"]
    assert all(parse_object_id(item["objectID"]) for item in found["results"])
    assert cdmi.get(f"{box}?query={quote('colour = ')}").status == 400
    assert cdmi.get(f"{box}q0?query={expression}").status == 400


def test_large_values_stream(cdmi: CdmiClient, box: str):
    """Values past the in-memory limit (256 KiB) take the streaming paths."""
    data = os.urandom(700_000)
    assert cdmi.put_plain(f"{box}big.bin", data, "application/octet-stream").status == 201
    read = cdmi.read(f"{box}big.bin")
    assert (read["valuetransferencoding"], read["valuerange"]) == ("base64", "0-699999")
    assert base64.b64decode(read["value"]) == data
    ranged = cdmi.read(f"{box}big.bin?value:1-600001")
    assert base64.b64decode(ranged["value"]) == data[1:600002]
    assert ranged["valuerange"] == "1-600001"
    assert cdmi.read(f"{box}big.bin?metadata:cdmi_size")["metadata"]["cdmi_size"] == "700000"
    tail = cdmi.get(f"{box}big.bin", cdmi=False, headers={"Range": "bytes=-300000"})
    assert (tail.status, tail.body) == (206, data[-300_000:])
    assert cdmi.value(f"{box}big.bin") == data

    text = "ünïcödé text " * 30_000
    assert cdmi.put_object(f"{box}big.txt", {"value": text}).status == 201
    read = cdmi.read(f"{box}big.txt")
    assert (read["valuetransferencoding"], read["value"]) == ("utf-8", text)
    part = cdmi.read(f"{box}big.txt?value:1-300000")  # may cut a character: base64
    assert part["valuetransferencoding"] == "base64"
    assert base64.b64decode(part["value"]) == text.encode()[1:300_001]


def test_a_container_with_many_children(cdmi: CdmiClient, box: str):
    """More children than are listed on the event loop (64): listed by a worker."""
    names = [f"n{index:03d}" for index in range(70)]
    for name in names:
        assert cdmi.put_plain(f"{box}{name}", b"", "text/plain").status == 201
    listed = cdmi.read(box)
    assert (listed["children"], listed["childrenrange"]) == (names, "0-69")
    assert cdmi.read(f"{box}?children:65-80") == {"children": names[65:], "childrenrange": "65-69"}
