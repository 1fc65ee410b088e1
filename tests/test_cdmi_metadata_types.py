"""CDMI metadata keep their JSON types; the shell shows them so they paste back."""

from __future__ import annotations

from omsh.cdmi.bodies import container_fields
from omsh.commands.metadata import pasteable_item


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
