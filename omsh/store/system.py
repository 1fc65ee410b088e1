"""System metadata: what the server computes and clients can never set."""

from __future__ import annotations

from typing import Any

from omsh.store.metadata import format_timestamp
from omsh.store.model import Container, DataObject, StoreObject


def object_type(obj: StoreObject) -> str:
    return "container" if isinstance(obj, Container) else "object"


def system_metadata(obj: StoreObject) -> dict[str, Any]:
    """The CDMI system metadata of *obj*, JSON-ready (DESIGN §2)."""
    fields: dict[str, Any] = {
        "cdmi_size": obj.size if isinstance(obj, DataObject) else len(obj),  # type: ignore[arg-type]
        "cdmi_ctime": format_timestamp(obj.ctime),
        "cdmi_mtime": format_timestamp(obj.mtime),
        "cdmi_atime": format_timestamp(obj.atime),
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
