"""System metadata: what the server computes and clients can never set.

The one definition of each field (ARCHITECTURE §6.1), read by ``stat`` and ``ls``
(:func:`describe`), by CDMI (which writes them its own way, see
:func:`omsh.cdmi.representation.system_metadata`) and, for queries, by the
catalog (:func:`omsh.store.index.system_values`):

``cdmi_size``
    a data object's length in bytes; a container's number of children
    (every child, whether or not the caller may see it);
``cdmi_ctime``, ``cdmi_mtime``, ``cdmi_atime``
    creation, last change (or the time a client set), last read (relatime),
    as CDMI timestamps;
``cdmi_owner``
    the owning user's name;
``cdmi_hash``
    a data object's SHA-256, in hex, computed while its bytes came in;
``mimetype``
    a data object's media type.
"""

from __future__ import annotations

import functools
from typing import Any

from omsh.store.metadata import format_timestamp
from omsh.store.model import Container, DataObject, StoreObject


def object_type(obj: StoreObject) -> str:
    return "container" if isinstance(obj, Container) else "object"


def size_of(obj: StoreObject) -> int:
    """``cdmi_size``: bytes of a data object, children of a container."""
    return obj.size if isinstance(obj, DataObject) else len(obj)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=8192)
def timestamp(seconds: float) -> str:
    """:func:`format_timestamp`, remembered: an object's times repeat read after read."""
    return format_timestamp(seconds)


def system_metadata(obj: StoreObject) -> dict[str, Any]:
    """The system metadata of *obj*, JSON-ready: sizes as numbers, times as strings."""
    fields: dict[str, Any] = {
        "cdmi_size": size_of(obj),
        "cdmi_ctime": timestamp(obj.ctime),
        "cdmi_mtime": timestamp(obj.mtime),
        "cdmi_atime": timestamp(obj.atime),
        "cdmi_owner": obj.owner,
    }
    if isinstance(obj, DataObject):
        fields["cdmi_hash"] = obj.sha256
        fields["mimetype"] = obj.mimetype
    return fields


def describe(obj: StoreObject) -> dict[str, Any]:
    """Name, path, type, ID and system metadata: the JSON form of ``stat``."""
    return {
        "name": obj.__name__ or "/",
        "path": obj.path,
        "type": object_type(obj),
        "objectid": obj.object_id,
        **system_metadata(obj),
    }
