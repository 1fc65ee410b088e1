"""The formats of ``meta export`` and ``meta import``: typed metadata as text.

Two shapes, both exact (an export read back by import gives the same items
with the same types):

JSON lines (the default): one object per line, in path order::

    {"path": "/a/b", "metadata": {"n": {"type": "int", "value": 5},
                                  "taken": {"type": "datetime",
                                            "value": "2024-06-01T12:00:00.000000Z"}}}

  ``type`` is one of ``str int float bool datetime``; ``value`` is the JSON
  string, integer, number or boolean, a datetime in CDMI's timestamp form.

CSV: a header ``path,key,type,value``, then one row per item (an object
  without metadata has no row); ``value`` is the item's text as ``meta``
  shows it (``true``/``false``, a CDMI timestamp, a float's shortest exact
  text), quoted by the csv module where it holds commas, quotes or newlines.

Reading, a value given as text is typed by :func:`~omsh.store.metadata.parse_value`
with the declared type — the ``KEY:TYPE=VALUE`` rule of ``set-meta``, so
there is one typing rule.  Every error says the line it is on (``line 17:
…``): for CSV, the line where the row starts.  Lines are split at ``\\n``
only, at most :data:`MAX_LINE` bytes each.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from omsh.errors import OmshError
from omsh.store.metadata import (
    TYPE_NAMES,
    MetadataValue,
    parse_value,
    to_json,
    to_text,
    type_name,
    validate_key,
    validate_value,
)

#: The longest input line read (a JSON line holds all of one object's items).
MAX_LINE = 4 * 1024 * 1024
CSV_HEADER = ("path", "key", "type", "value")
_READ_SIZE = 64 * 1024

Items = dict[str, MetadataValue]


class MalformedInput(OmshError):
    """An import line that cannot be read; the message starts with its line number."""


@dataclass(frozen=True)
class Record:
    """One object's items as read, and the line they start on."""

    line: int
    path: str
    items: Items


# -- writing ---------------------------------------------------------------------


def json_line(path: str, items: Iterable[tuple[str, MetadataValue]]) -> str:
    """One object as an export JSON line (without the newline)."""
    metadata = {key: {"type": type_name(value), "value": to_json(value)} for key, value in items}
    return json.dumps({"path": path, "metadata": metadata}, ensure_ascii=False)


def csv_rows(path: str, items: Iterable[tuple[str, MetadataValue]]) -> str:
    """One object's CSV rows (each ending in a newline; none if it has no items)."""
    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n")
    # QUOTE_MINIMAL quotes a field holding the line terminator, not a bare
    # carriage return, which a reader takes for a line end: quote those rows.
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for key, value in items:
        row = (path, key, type_name(value), to_text(value))
        (quoted if any("\r" in field for field in row) else minimal).writerow(row)
    return buffer.getvalue()


def csv_header() -> str:
    return ",".join(CSV_HEADER) + "\n"


# -- reading ---------------------------------------------------------------------


def input_lines(chunks: Iterable[bytes], limit: int = MAX_LINE) -> Iterator[tuple[int, str]]:
    """Numbered lines of *chunks* (decoded UTF-8, ending in ``\\n`` but the last).

    A line longer than *limit* bytes or not UTF-8 is a :class:`MalformedInput`.
    """
    pending = bytearray()
    number = 0

    def decoded(raw: bytes) -> str:
        if len(raw) > limit:
            raise MalformedInput(f"line {number}: longer than {limit:,} bytes")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedInput(f"line {number}: not UTF-8 text") from None

    for chunk in chunks:
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            number += 1
            yield number, decoded(bytes(pending[start : end + 1]))
            start = end + 1
        del pending[:start]
        if len(pending) > limit:
            number += 1
            decoded(bytes(pending))  # raises
    if pending:
        number += 1
        yield number, decoded(bytes(pending))


def read_chunks(read: Any) -> Iterator[bytes]:
    """*read(size)* called until it returns ``b""`` (standard input, a file)."""
    while chunk := read(_READ_SIZE):
        yield chunk


def typed_value(kind: Any, value: Any) -> MetadataValue:
    """A JSON item's value as its declared *kind*; ``ValueError`` says why not."""
    if not isinstance(kind, str) or kind not in TYPE_NAMES:
        raise ValueError(f"type must be one of {', '.join(TYPE_NAMES)}")
    canonical = "datetime" if kind == "time" else kind
    if isinstance(value, str):
        return parse_value(value, canonical)
    fits = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }
    if not fits.get(canonical, False):
        raise ValueError(f"value {json.dumps(value)[:40]} is not a {canonical}")
    return validate_value(float(value) if canonical == "float" else value)


def _json_record(number: int, text: str) -> Record | None:
    if not text.strip():
        return None
    try:
        document = json.loads(text)
    except ValueError as exc:  # also json's own JSONDecodeError
        raise MalformedInput(f"line {number}: not JSON ({exc})") from None
    if not isinstance(document, dict) or set(document) != {"path", "metadata"}:
        raise MalformedInput(f'line {number}: expected {{"path": …, "metadata": {{…}}}}')
    path, metadata = document["path"], document["metadata"]
    if not isinstance(path, str) or not isinstance(metadata, dict):
        raise MalformedInput(f"line {number}: path must be a string, metadata an object")
    items: Items = {}
    for key, item in metadata.items():
        if not isinstance(item, dict) or set(item) != {"type", "value"}:
            raise MalformedInput(f'line {number}: {key[:60]!r}: expected {{"type", "value"}}')
        items[_key(number, key)] = _value(number, key, item["type"], item["value"])
    return Record(number, path, items)


def _key(number: int, key: str) -> str:
    try:
        return validate_key(key)
    except OmshError as exc:
        raise MalformedInput(f"line {number}: {exc}") from None


def _value(number: int, key: str, kind: Any, value: Any) -> MetadataValue:
    try:
        return typed_value(kind, value)
    except (ValueError, OmshError) as exc:
        raise MalformedInput(f"line {number}: {key[:60]!r}: {exc}") from None


def read_json_lines(lines: Iterable[tuple[int, str]]) -> Iterator[Record]:
    """Records of export JSON lines; blank lines are skipped."""
    for number, text in lines:
        record = _json_record(number, text)
        if record is not None:
            yield record


def read_csv(lines: Iterable[tuple[int, str]]) -> Iterator[Record]:
    """Records of export CSV (one per row): the header first, then ``path,key,type,value``."""
    consumed = 0

    def texts() -> Iterator[str]:
        nonlocal consumed
        for number, text in lines:
            consumed = number
            yield text

    reader = csv.reader(texts(), strict=True)
    first = True
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise MalformedInput(f"line {start}: malformed CSV ({exc})") from None
        if first:
            if tuple(row) != CSV_HEADER:
                raise MalformedInput(f"line {start}: expected the header {','.join(CSV_HEADER)}")
            first = False
            continue
        if not row:
            continue
        if len(row) != len(CSV_HEADER):
            raise MalformedInput(f"line {start}: expected 4 fields (path,key,type,value)")
        path, key, kind, text = row
        yield Record(start, path, {_key(start, key): _value(start, key, kind, text)})


def merge(records: Iterable[Record]) -> dict[str, Record]:
    """Records by path, items of the same path together; a key given twice is refused."""
    merged: dict[str, Record] = {}
    for record in records:
        known = merged.get(record.path)
        if known is None:
            merged[record.path] = record
            continue
        for key in record.items:
            if key in known.items:
                raise MalformedInput(
                    f"line {record.line}: {key[:60]!r} of {record.path[:200]} given twice"
                )
        known.items.update(record.items)
    return merged


def typed_items(items: Mapping[str, MetadataValue]) -> list[tuple[str, MetadataValue]]:
    """Items in key order: how exports list them."""
    return sorted(items.items())
