"""CDMI 1.1.1 conformance, section by section, against a real ``omsh serve``.

Each test is named after the clause it checks (ISO/IEC 17826, CDMI 1.1.1);
where the server deliberately differs, the test pins the documented choice
(see ``omsh/cdmi/__init__.py``).  Clients send the version they speak, as
``libcdmi`` 0.1.2 does, and may try Digest before Basic.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.cdmi_http import CAPABILITY, CONTAINER, TIMESTAMP, CdmiClient

pytestmark = pytest.mark.e2e


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def redirected(reply: Any, location: str) -> None:
    """A 301 to *location*, as §9.1 requires."""
    assert reply.status == 301, reply
    assert reply.headers["Location"] == location


# -- §5.10 object IDs ----------------------------------------------------------------


def test_5_10_paths_below_a_container_id(cdmi: CdmiClient, box: str):
    container = cdmi.read(box)["objectID"]
    assert cdmi.put_container(f"{box}sub/").status == 201
    leaf = cdmi.put_object(f"{box}sub/leaf.txt", {"value": "leaf"}).json()
    by_id = f"/cdmi_objectid/{container}"
    read = cdmi.read(f"{by_id}/sub/leaf.txt")
    assert (read["objectID"], read["value"]) == (leaf["objectID"], "leaf")
    assert cdmi.read(f"{by_id}/sub/")["children"] == ["leaf.txt"]
    assert cdmi.read(f"{by_id}/sub/leaf.txt?value") == {
        "value": "leaf",
        "valuerange": "0-3",
        "valuetransferencoding": "utf-8",
    }
    # Writes and deletes resolve the same way.
    assert cdmi.put_object(f"{by_id}/sub/new", {"value": "n"}).status == 201
    assert cdmi.value(f"{box}sub/new") == b"n"
    assert cdmi.put_container(f"{by_id}/sub/inner/").status == 201
    assert cdmi.read(f"{box}sub/inner/")["parentURI"] == f"{box}sub/"
    assert cdmi.delete(f"{by_id}/sub/new").status == 204
    assert cdmi.get(f"{box}sub/new").status == 404
    # As a copy source too.
    assert cdmi.put_object(f"{box}copied", {"copy": f"{by_id}/sub/leaf.txt"}).status == 201
    assert cdmi.value(f"{box}copied") == b"leaf"
    # Missing names below an ID, and names below a data object's ID.
    assert cdmi.get(f"{by_id}/sub/none").status == 404
    assert cdmi.get(f"/cdmi_objectid/{leaf['objectID']}/x").status == 404
    assert cdmi.get(f"{by_id}/../x").status == 400
    # Capabilities by ID, with a path below.
    capabilities = cdmi.read("/cdmi_capabilities/")["objectID"]
    below = cdmi.read(f"/cdmi_objectid/{capabilities}/container/")
    assert below["objectName"] == "container/"


# -- §7.1/§9.1 container URIs end in '/' -----------------------------------------------


def test_9_1_a_container_uri_without_its_slash_is_redirected(cdmi: CdmiClient, box: str):
    name = box.rstrip("/")
    redirected(cdmi.get(name), box)
    redirected(cdmi.get(f"{name}?children"), f"{box}?children")
    redirected(cdmi.get(name, cdmi=False), box)
    redirected(cdmi.request("HEAD", name), box)
    redirected(cdmi.delete(name), box)
    assert cdmi.get(name).version == "1.1.1"
    assert cdmi.read(box)["objectType"] == CONTAINER  # nothing was deleted
    # A CDMI update of an existing container named without '/': 301 too.
    redirected(cdmi.request("PUT", name, {}, content_type=CONTAINER), box)
    # Creating one without '/' is a 400 (§9.2), and nothing is created.
    assert cdmi.request("PUT", f"{box}new", {}, content_type=CONTAINER).status == 400
    assert cdmi.get(f"{box}new/").status == 404
    # The same below an object ID, and for capability URIs.
    container = cdmi.read(box)["objectID"]
    assert cdmi.put_container(f"{box}sub/").status == 201
    redirected(cdmi.get(f"/cdmi_objectid/{container}/sub"), f"/cdmi_objectid/{container}/sub/")
    redirected(cdmi.get("/cdmi_capabilities"), "/cdmi_capabilities/")
    redirected(cdmi.get("/cdmi_capabilities/container"), "/cdmi_capabilities/container/")
    # A bare object ID names either kind and is answered as it is.
    assert cdmi.get(f"/cdmi_objectid/{container}").status == 200


def test_9_1_a_data_object_uri_with_a_slash_is_redirected(cdmi: CdmiClient, box: str):
    assert cdmi.put_object(f"{box}o", {"value": "x"}).status == 201
    redirected(cdmi.get(f"{box}o/"), f"{box}o")
    redirected(cdmi.get(f"{box}o/?value", cdmi=False), f"{box}o?value")
    redirected(cdmi.delete(f"{box}o/"), f"{box}o")
    assert cdmi.value(f"{box}o") == b"x"
    # A non-CDMI PUT without '/' creates a data object, never a container.
    assert cdmi.put_plain(f"{box}plain", b"p", "text/plain").status == 201
    assert cdmi.read(f"{box}plain")["objectType"] == "application/cdmi-object"


# -- §9.1.2 reserved names --------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["cdmi_x", "cdmi_objectid", "cdmi_capabilities2"])
def test_9_1_2_names_starting_with_cdmi_are_reserved(cdmi: CdmiClient, box: str, suffix: str):
    attempts = [
        cdmi.put_object(f"{box}{suffix}", {"value": "x"}),
        cdmi.put_container(f"{box}{suffix}/"),
        cdmi.put_plain(f"{box}{suffix}", b"x", "text/plain"),
        cdmi.request("PUT", f"{box}{suffix}/", cdmi=False),
    ]
    assert cdmi.put_object(f"{box}source", {"value": "s"}).status == 201
    attempts.append(cdmi.put_object(f"{box}{suffix}", {"copy": f"{box}source"}))
    attempts.append(cdmi.put_object(f"{box}{suffix}", {"move": f"{box}source"}))
    for reply in attempts:
        assert reply.status == 400, reply
    assert cdmi.read(box)["children"] == ["source"]
    # Only the prefix is reserved.
    assert cdmi.put_object(f"{box}my_cdmi_x", {"value": "x"}).status == 201


# -- §8.1/§8.3 ranged values --------------------------------------------------------------


def test_8_3_a_ranged_read_encodes_the_bytes_of_the_range(cdmi: CdmiClient, box: str):
    data = bytes(range(256))
    assert cdmi.put_object(
        f"{box}bin", {"valuetransferencoding": "base64", "value": b64(data)}
    ).status == (201)
    for start, end in ((0, 9), (7, 7), (250, 300)):
        ranged = cdmi.read(f"{box}bin?value:{start}-{end}")
        last = min(end, len(data) - 1)
        assert ranged["valuetransferencoding"] == "base64"
        assert ranged["valuerange"] == f"{start}-{last}"
        assert base64.b64decode(ranged["value"]) == data[start : last + 1]
    # Text read as text; a range cutting a character in two falls back to base64.
    assert cdmi.put_object(f"{box}text", {"value": "añb"}).status == 201
    whole = cdmi.read(f"{box}text?value:0-3")
    assert (whole["value"], whole["valuetransferencoding"]) == ("añb", "utf-8")
    cut = cdmi.read(f"{box}text?value:0-1")
    assert cut["valuetransferencoding"] == "base64"
    assert base64.b64decode(cut["value"]) == "añb".encode()[:2]
    # Text written as base64 stays base64 in every range.
    assert cdmi.put_object(
        f"{box}b64text", {"valuetransferencoding": "base64", "value": b64(b"words")}
    ).status == (201)
    part = cdmi.read(f"{box}b64text?value:1-2")
    assert (part["valuetransferencoding"], part["value"]) == ("base64", b64(b"or"))


# -- §8.4 ranged and base64 updates ---------------------------------------------------------


def test_8_4_ranged_updates_write_decoded_bytes(cdmi: CdmiClient, box: str):
    original = bytes(range(16))
    fields = {"valuetransferencoding": "base64", "value": b64(original)}
    assert cdmi.put_object(f"{box}r", fields).status == 201
    patch = {"valuetransferencoding": "base64", "value": b64(b"\xff\xfe\xfd")}
    assert cdmi.put_object(f"{box}r?value:4-6", patch).status == 204
    expected = original[:4] + b"\xff\xfe\xfd" + original[7:]
    assert cdmi.value(f"{box}r") == expected
    read = cdmi.read(f"{box}r")
    assert read["valuetransferencoding"] == "base64"
    assert base64.b64decode(read["value"]) == expected
    # A text patch into a value written as base64 keeps base64.
    assert cdmi.put_object(f"{box}r?value:0-1", {"value": "ab"}).status == 204
    assert cdmi.read(f"{box}r")["valuetransferencoding"] == "base64"
    assert cdmi.value(f"{box}r")[:2] == b"ab"
    # Past the end: the gap is zeros; a length mismatch is refused.
    assert cdmi.put_object(f"{box}r?value:18-18", {"value": "z"}).status == 204
    assert cdmi.value(f"{box}r")[16:] == b"\0\0z"
    bad = {"valuetransferencoding": "base64", "value": b64(b"abc")}
    assert cdmi.put_object(f"{box}r?value:0-1", bad).status == 400
    # A whole base64 update replaces the value and its encoding.
    assert cdmi.put_object(f"{box}r", {"valuetransferencoding": "base64", "value": b64(b"new")})
    assert cdmi.read(f"{box}r?value")["value"] == b64(b"new")


# -- §8.2.5 copy and mimetype ---------------------------------------------------------------


def test_8_2_5_copy_from_a_missing_source(cdmi: CdmiClient, box: str):
    for kind in ("copy", "move"):
        reply = cdmi.put_object(f"{box}dest", {kind: f"{box}missing"})
        assert reply.status == 404, reply
        assert f"{kind} source".encode() in reply.body
        reply = cdmi.put_container(f"{box}dest/", {kind: f"{box}missing/"})
        assert reply.status == 404, reply
    assert cdmi.read(box)["children"] == []


def test_8_2_5_mimetype(cdmi: CdmiClient, box: str):
    made = cdmi.put_object(f"{box}m", {"value": "x", "mimetype": "Text/HTML"})
    assert made.json()["mimetype"] == "text/html"  # case-insensitive, kept in lower case
    assert cdmi.put_object(f"{box}m", {"mimetype": "TEXT/html"}).status == 204
    assert cdmi.read(f"{box}m?mimetype") == {"mimetype": "text/html"}
    assert cdmi.get(f"{box}m", cdmi=False).content_type == "text/html"
    copied = cdmi.put_object(f"{box}c", {"copy": f"{box}m", "mimetype": "Image/PNG"})
    assert copied.json()["mimetype"] == "image/png"
    # Without one, a CDMI create gives text/plain.
    assert cdmi.put_object(f"{box}none.bin", {"value": "x"}).json()["mimetype"] == "text/plain"


# -- §12.2.6 the capabilities root -------------------------------------------------------------


def test_12_2_6_the_capabilities_root(cdmi: CdmiClient):
    body = cdmi.read("/cdmi_capabilities/")
    for field in (
        "objectType",
        "objectID",
        "objectName",
        "parentURI",
        "parentID",
        "capabilities",
        "childrenrange",
        "children",
    ):
        assert field in body, field
    assert body["objectType"] == CAPABILITY
    assert (body["objectName"], body["parentURI"]) == ("cdmi_capabilities/", "/")
    assert body["parentID"] == cdmi.read("/")["objectID"]
    selected = cdmi.read("/cdmi_capabilities/?objectID;parentID")
    assert selected == {"objectID": body["objectID"], "parentID": body["parentID"]}
    assert cdmi.read("/cdmi_capabilities/?children:1-1") == {
        "children": ["dataobject/"],
        "childrenrange": "1-1",
    }
    child = cdmi.read("/cdmi_capabilities/container/?parentURI;parentID")
    assert child == {"parentURI": "/cdmi_capabilities/", "parentID": body["objectID"]}


# -- §16.3 system metadata --------------------------------------------------------------------


def test_16_3_times_and_acl_from_creation_on(cdmi: CdmiClient, box: str):
    made = [
        cdmi.put_object(f"{box}o", {"value": "x"}).json(),
        cdmi.put_container(f"{box}c/").json(),
        cdmi.put_object(f"{box}copy", {"copy": f"{box}o"}).json(),
    ]
    for body in made:
        metadata = body["metadata"]
        for key in ("cdmi_ctime", "cdmi_mtime", "cdmi_atime"):
            assert re.fullmatch(TIMESTAMP, metadata[key]), (key, metadata)
        assert metadata["cdmi_mtime"] >= metadata["cdmi_ctime"]
        assert isinstance(metadata["cdmi_acl"], list)
    grant = {"acetype": "ALLOW", "identifier": "EVERYONE@", "aceflags": "0x0", "acemask": "0x1"}
    set_acl = cdmi.put_object(f"{box}o?metadata:cdmi_acl", {"metadata": {"cdmi_acl": [grant]}})
    assert set_acl.status == 204, set_acl
    shown = cdmi.read(f"{box}o?metadata:cdmi_acl")["metadata"]["cdmi_acl"]
    assert {"acetype": "ALLOW", "identifier": "EVERYONE@", "acemask": "0x00000001"}.items() <= (
        shown[0].items()
    )


# -- the root container ------------------------------------------------------------------------


def test_the_root_container_has_no_parent(cdmi: CdmiClient):
    """Both parent fields are left out for the root (it is in no container)."""
    root = cdmi.read("/")
    assert root["objectName"] == "/"
    assert "parentURI" not in root and "parentID" not in root
    by_id = cdmi.read(f"/cdmi_objectid/{root['objectID']}/")
    assert "parentURI" not in by_id and "parentID" not in by_id


# -- §5.3 versions and HTTP authentication -------------------------------------------------------


@pytest.mark.parametrize("offered", ["1.0.1h", "1.0.1", "1.0.1h, 1.0.1"])
def test_5_3_libcdmi_versions_are_the_1_0_family(cdmi: CdmiClient, offered: str):
    reply = cdmi.get("/", version=offered)
    assert reply.status == 200, reply
    assert reply.version == "1.0.2"


@pytest.mark.parametrize("offered", ["1.0", "1.0.x", "0.9.1h", "1.0.1h.2"])
def test_5_3_other_versions_still_get_a_clear_400(cdmi: CdmiClient, offered: str):
    reply = cdmi.get("/", version=offered)
    assert reply.status == 400, reply
    assert b"1.1.1, 1.1, 1.0.2" in reply.body


def test_digest_attempts_get_a_basic_challenge(cdmi: CdmiClient):
    anonymous = cdmi.as_user(None)
    digest = 'Digest username="admin", realm="omsh", nonce="n", uri="/", response="0" * 32'
    for reply in (
        anonymous.get("/", headers={"Authorization": digest}),
        anonymous.get("/", cdmi=False, headers={"Authorization": digest}),
    ):
        assert reply.status == 401, reply
        challenge = reply.headers.get_all("WWW-Authenticate")
        assert challenge == ['Basic realm="omsh", charset="UTF-8"']
        assert b"Basic" in reply.body
    # The client then falls back to Basic and gets in.
    assert cdmi.get("/").status == 200
