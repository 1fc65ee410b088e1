"""CDMI metadata keep their JSON types; the shell shows them so they paste back.

System metadata are the store's, as the shell shows them, written as strings.
"""

from __future__ import annotations

from omsh.cdmi import representation
from omsh.cdmi.bodies import container_fields
from omsh.commands.metadata import pasteable_item
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.system import describe
from omsh.store.view import StoreView


def test_json_types_are_kept_and_strings_are_not_retyped() -> None:
    document = {"metadata": {"n": 5, "f": 1.5, "b": True, "s": "5", "code": "007", "t": "true"}}
    fields = container_fields(document)
    assert fields.metadata is not None
    items = fields.metadata.items
    assert items == {"n": 5, "f": 1.5, "b": True, "s": "5", "code": "007", "t": "true"}
    assert {key: type(value).__name__ for key, value in items.items()} == {
        "n": "int",
        "f": "float",
        "b": "bool",
        "s": "str",
        "code": "str",
        "t": "str",
    }


def test_a_cdmi_string_that_looks_like_a_number_is_shown_with_its_type() -> None:
    items = container_fields({"metadata": {"code": "007", "n": 7}}).metadata
    assert items is not None
    shown = [pasteable_item(key, value) for key, value in sorted(items.items.items())]
    assert shown == ["code:str=007", "n=7"]


def test_cdmi_system_metadata_is_the_store_s_written_as_strings(store: Store) -> None:
    """One definition of each system field: CDMI and ``stat`` agree on every value."""
    upload = ContentUpload(store.temporary_directory())
    upload.write(b"twelve bytes")

    def both(root) -> list[tuple[dict, dict]]:
        view = StoreView.for_user(root, "admin")
        view.make_container("/box")
        view.store_data("/box/f.txt", upload)
        return [
            (describe(obj), representation.system_metadata(view, obj))
            for obj in (view.resolve("/box"), view.resolve("/box/f.txt"))
        ]

    try:
        (box, box_cdmi), (obj, obj_cdmi) = store.run(both)
    finally:
        upload.discard()
    assert (box["cdmi_size"], obj["cdmi_size"]) == (1, 12)
    for shown, cdmi in ((box, box_cdmi), (obj, obj_cdmi)):
        assert cdmi.pop("cdmi_acl") == []  # the caller may read it; none of its own
        assert cdmi == {key: str(shown[key]) for key in cdmi}
        assert set(shown) - set(cdmi) <= {"name", "path", "type", "objectid", "mimetype"}
    assert obj_cdmi["cdmi_hash"] == obj["cdmi_hash"] and obj["mimetype"] == "text/plain"
