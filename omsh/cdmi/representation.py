"""The JSON bodies of CDMI 1.1.1: containers, data objects, capabilities.

Everything here is built inside a store transaction from live objects and
returns plain dicts.  Metadata carries the user's typed values as JSON
numbers, booleans and strings (timestamps as CDMI timestamp strings) next to
the system metadata the server computes (``cdmi_size``… as strings, as the
specification shows them) and ``cdmi_acl``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from omsh.store.ids import DEFAULT_ENTERPRISE_NUMBER, OBJECT_ID_BYTES, crc16
from omsh.store.metadata import to_json
from omsh.store.model import Container, DataObject, StoreObject
from omsh.store.names import parent_and_name
from omsh.store.system import system_metadata as store_system_metadata
from omsh.store.view import StoreView

#: What this server really supports, as CDMI capability strings (spec §12).
#: Names starting with ``omsh_`` are non-standard extensions.
SYSTEM_CAPABILITIES: dict[str, str] = {
    "cdmi_dataobjects": "true",
    "cdmi_security_access_control": "true",
    "cdmi_domains": "false",
    "cdmi_export_nfs": "false",
    "cdmi_queues": "false",
    "cdmi_notification": "false",
    "cdmi_query": "false",
    "cdmi_object_access_by_ID": "true",
    "cdmi_object_copy_from_local": "true",
    "cdmi_object_move_from_local": "true",
    "cdmi_object_move_from_ID": "true",
    "cdmi_metadata_maxitems": "1024",
    "cdmi_metadata_maxsize": "65536",
    "cdmi_acl": "true",
    "cdmi_size": "true",
    "cdmi_ctime": "true",
    "cdmi_atime": "true",
    "cdmi_mtime": "true",
    "cdmi_hash": "true",
    "omsh_query": "true",
    "omsh_changes": "true",
}
#: What containers and data objects alike carry: their ACL and the system
#: metadata of :mod:`omsh.store.system`.
_STORED_OBJECT_CAPABILITIES: dict[str, str] = {
    "cdmi_acl": "true",
    "cdmi_size": "true",
    "cdmi_ctime": "true",
    "cdmi_mtime": "true",
    "cdmi_atime": "true",
    "cdmi_owner": "true",
}
CONTAINER_CAPABILITIES: dict[str, str] = {
    "cdmi_list_children": "true",
    "cdmi_list_children_range": "true",
    "cdmi_read_metadata": "true",
    "cdmi_modify_metadata": "true",
    "cdmi_create_dataobject": "true",
    "cdmi_create_container": "true",
    "cdmi_delete_container": "true",
    "cdmi_move_container": "true",
    "cdmi_copy_container": "true",
    "cdmi_move_dataobject": "true",
    "cdmi_copy_dataobject": "true",
    **_STORED_OBJECT_CAPABILITIES,
    "omsh_query": "true",
    "omsh_query_metadata": "true",
}
DATAOBJECT_CAPABILITIES: dict[str, str] = {
    "cdmi_read_value": "true",
    "cdmi_read_value_range": "true",
    "cdmi_read_metadata": "true",
    "cdmi_modify_value": "true",
    "cdmi_modify_value_range": "true",
    "cdmi_modify_metadata": "true",
    "cdmi_modify_deserialize_dataobject": "false",
    "cdmi_serialize_dataobject": "false",
    "cdmi_delete_dataobject": "true",
    **_STORED_OBJECT_CAPABILITIES,
    "cdmi_hash": "true",
    "cdmi_value_hash": "SHA256",
}


def fixed_object_id(serial: int) -> str:
    """A well-formed object ID (spec §5.11) that is the same in every store.

    Capability objects are not stored, but CDMI gives every object an ID;
    these use the documentation enterprise number and opaque bytes that a
    random ID (:func:`~omsh.store.ids.new_object_id`) is vanishingly
    unlikely to hit.
    """
    raw = bytearray(OBJECT_ID_BYTES)
    raw[1:4] = DEFAULT_ENTERPRISE_NUMBER.to_bytes(3, "big")
    raw[5] = OBJECT_ID_BYTES
    raw[8:] = b"omsh-cap" + serial.to_bytes(OBJECT_ID_BYTES - 16, "big")
    raw[6:8] = crc16(bytes(raw)).to_bytes(2, "big")
    return raw.hex().upper()


CAPABILITY_IDS = {
    path: fixed_object_id(serial)
    for serial, path in enumerate(("/", "/container", "/dataobject"), start=1)
}
#: The capability objects by ID, for ``/cdmi_objectid/ID/``.
CAPABILITY_PATHS = {object_id: path for path, object_id in CAPABILITY_IDS.items()}


def uri_of(path: str, *, container: bool) -> str:
    """The percent-encoded URI of a store path (containers end in ``/``)."""
    encoded = quote(path, safe="/")
    if container and not encoded.endswith("/"):
        encoded += "/"
    return encoded


def system_metadata(view: StoreView, obj: StoreObject) -> dict[str, Any]:
    """The store's system metadata (:mod:`omsh.store.system`) as CDMI writes it.

    Values are strings, as the specification shows them (``"cdmi_size":
    "37"``); ``mimetype`` is a field of the data object's body (§8.2.5), not
    metadata; and ``cdmi_acl``, the object's own ACL, is there when the
    caller may read it.
    """
    metadata: dict[str, Any] = {
        key: str(value) for key, value in store_system_metadata(obj).items() if key != "mimetype"
    }
    if view.can_read_acl(obj):
        metadata["cdmi_acl"] = [ace.to_cdmi() for ace in obj.acl]
    return metadata


def metadata_of(view: StoreView, obj: StoreObject, prefixes: list[str]) -> dict[str, Any]:
    """User and system metadata, or only the items starting with any of *prefixes*."""
    items = {key: to_json(value) for key, value in obj.metadata.items()}
    items.update(system_metadata(view, obj))
    if prefixes:
        items = {k: v for k, v in items.items() if any(k.startswith(p) for p in prefixes)}
    return items


def _common(view: StoreView, obj: StoreObject, object_type: str, capability: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "objectType": object_type,
        "objectID": obj.object_id,
        "objectName": "/",
        "capabilitiesURI": f"/cdmi_capabilities/{capability}/",
        "completionStatus": "Complete",
    }
    path = obj.path  # not __parent__: a snapshot's tree is mounted below /.snapshots
    if path != "/":
        parent_path, name = parent_and_name(path)
        parent = obj.__parent__
        body["objectName"] = name + ("/" if isinstance(obj, Container) else "")
        body["parentURI"] = uri_of(parent_path, container=True)
        body["parentID"] = (parent or view.root.tree).object_id
    return body


def container_body(
    view: StoreView,
    container: Container,
    *,
    children_range: tuple[int, int] | None = None,
    prefixes: list[str] | None = None,
    with_children: bool = True,
) -> dict[str, Any]:
    """A container as CDMI shows it; children the caller may see, by name.

    ``childrenrange`` is ``"A-B"`` (inclusive) for the children listed, or
    ``""`` when there are none.  Without *with_children* (a caller who may
    not list it) both fields are left out rather than shown empty.
    """
    body = _common(view, container, "application/cdmi-container", "container")
    body["metadata"] = metadata_of(view, container, prefixes or [])
    if not with_children:
        return body
    start, end = children_range or (0, None)
    chosen = []
    for index, (name, child) in enumerate(view.children(container, container.path)):
        if end is not None and index > end:
            break
        if index >= start:
            chosen.append(name + ("/" if isinstance(child, Container) else ""))
    body["childrenrange"] = _range_text(start, len(chosen))
    body["children"] = chosen
    return body


def _range_text(start: int, count: int) -> str:
    """``"A-B"`` (inclusive) for *count* children from *start*; ``""`` for none."""
    return f"{start}-{start + count - 1}" if count else ""


def children_slice(names: list[str], wanted: tuple[int, int]) -> dict[str, Any]:
    """``children`` and ``childrenrange`` for ``?children:A-B`` of a fixed list."""
    start, end = wanted
    chosen = names[start : end + 1]
    return {"childrenrange": _range_text(start, len(chosen)), "children": chosen}


def dataobject_body(view: StoreView, obj: DataObject, prefixes: list[str]) -> dict[str, Any]:
    body = _common(view, obj, "application/cdmi-object", "dataobject")
    body["mimetype"] = obj.mimetype
    body["metadata"] = metadata_of(view, obj, prefixes)
    return body


def capability_body(path: str, root_id: str) -> dict[str, Any] | None:
    """The capability object at *path* below ``/cdmi_capabilities``; None if none.

    Every one carries the fields §12.2.6 lists; the root's parent is the
    root container (*root_id*), the others' the capabilities root.
    """
    if path in ("/", ""):
        return {
            "objectType": "application/cdmi-capability",
            "objectID": CAPABILITY_IDS["/"],
            "objectName": "cdmi_capabilities/",
            "parentURI": "/",
            "parentID": root_id,
            "capabilities": SYSTEM_CAPABILITIES,
            "childrenrange": "0-1",
            "children": ["container/", "dataobject/"],
        }
    table = {"/container": CONTAINER_CAPABILITIES, "/dataobject": DATAOBJECT_CAPABILITIES}
    capabilities = table.get(path)
    if capabilities is None:
        return None
    return {
        "objectType": "application/cdmi-capability",
        "objectID": CAPABILITY_IDS[path],
        "objectName": path.strip("/") + "/",
        "parentURI": "/cdmi_capabilities/",
        "parentID": CAPABILITY_IDS["/"],
        "capabilities": capabilities,
        "childrenrange": "",
        "children": [],
    }


#: Fields that come with a selected one: the range (and encoding) of what
#: was returned, without which a client cannot use a partial answer.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "value": ("valuerange", "valuetransferencoding"),
    "children": ("childrenrange",),
}


def select_fields(body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Only the named top-level fields (``?objectID;metadata``); all without names.

    Names of fields the object does not have are left out (spec §8.4.2).
    """
    if not fields:
        return body
    wanted = dict.fromkeys(
        companion for name in fields for companion in (name, *COMPANIONS.get(name, ()))
    )
    return {name: body[name] for name in wanted if name in body}
