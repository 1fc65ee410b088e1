"""The query language: parsing (lark), planning on the catalog, brute force.

``parse_query`` turns a SQL WHERE subset (ARCHITECTURE §6.3) into a small tree of
:class:`Node` objects.  Each node answers two ways:

* :meth:`Node.evaluate` computes the matching document ids from the
  :class:`~omsh.store.index.Catalog` alone: equality is a key lookup, ranges
  and ``LIKE 'prefix%'`` are B-tree range scans, ``IN`` unions lookups,
  ``AND``/``OR``/``NOT`` intersect, union and subtract id sets.  Only a
  ``LIKE`` without a literal prefix walks the keys of its one field.
* :meth:`Node.matches` decides one object from its indexed values: the
  brute-force answer the property tests compare the planner against.

Semantics worth knowing: values compare only with values of their own type
(numbers — ints and floats together — strings, booleans, timestamps), so
``n > '5'`` never matches a number and ``n = 5`` never matches the string
"5".  ``NOT e`` matches every object that ``e`` does not (two-valued logic,
no SQL NULL propagation); ``x != v`` needs ``x`` to exist with ``v``'s type.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any, cast

from BTrees.IIBTree import IISet, difference, intersection, multiunion
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from omsh.errors import UsageError
from omsh.store.index import (
    RANK_BOOL,
    RANK_DATETIME,
    RANK_NUMBER,
    RANK_STRING,
    SYSTEM_FIELDS,
    USER_FIELD_PREFIX,
    Catalog,
    DocSet,
    FieldIndex,
    KeyRange,
    SortKey,
    sort_key,
    union_of,
)
from omsh.store.metadata import format_timestamp

MAX_QUERY_LENGTH = 8192
MAX_DEPTH = 100
PARSE_CACHE_SIZE = 256
#: Short names people type for system fields.
ALIASES = {"size": "cdmi_size", "ctime": "cdmi_ctime", "mtime": "cdmi_mtime", "hash": "cdmi_hash"}


class QuerySyntaxError(UsageError):
    """A malformed query; the message shows the query with a caret under the fault."""


def field_name(identifier: str, *, quoted: bool = False) -> str:
    """Catalog field for a name in a query: system field, alias, or user key.

    A double-quoted name is always a user metadata key, so keys that look
    like system fields (or contain spaces) stay reachable.
    """
    if not quoted:
        identifier = ALIASES.get(identifier, identifier)
        if identifier in SYSTEM_FIELDS:
            return identifier
    return USER_FIELD_PREFIX + identifier


def display_field(field: str) -> str:
    return field.removeprefix(USER_FIELD_PREFIX)


# -- the tree ----------------------------------------------------------------


class Node:
    """A query expression: answered from the catalog, or decided for one object."""

    def evaluate(self, catalog: Catalog) -> DocSet:
        """The matching document ids.

        The set may be one the index itself holds (an equality returns the
        stored set rather than a copy), so callers must not modify it.
        """
        raise NotImplementedError

    def count(self, catalog: Catalog) -> int | None:
        """How many documents match, if the indexes tell without making the set.

        None when they cannot (``AND``, ``OR``, patterns that need matching):
        the caller then counts :meth:`evaluate`'s set.
        """
        return None

    def matches(self, values: dict[str, SortKey]) -> bool:
        raise NotImplementedError


def _field_index(catalog: Catalog, field: str) -> FieldIndex | None:
    return catalog.field(field)


@dataclass(frozen=True)
class Compare(Node):
    field: str
    op: str
    key: SortKey

    def evaluate(self, catalog: Catalog) -> DocSet:
        index = _field_index(catalog, self.field)
        if index is None:
            return IISet()
        rank = self.key[0]
        if self.op == "=":
            return index.equal(self.key)
        if self.op in ("!=", "<>"):
            return difference(index.of_rank(rank), index.equal(self.key))
        return index.range(self._keys())

    def count(self, catalog: Catalog) -> int | None:
        index = _field_index(catalog, self.field)
        if index is None:
            return 0
        rank = self.key[0]
        if self.op == "=":
            return index.count_equal(self.key)
        if self.op in ("!=", "<>"):
            return index.count_of_rank(rank) - index.count_equal(self.key)
        return index.count_range(self._keys())

    def _keys(self) -> KeyRange:
        """The keys an ordering comparison matches."""
        rank, value = self.key
        if self.op in ("<", "<="):
            return KeyRange(rank, high=value, include_high=self.op == "<=")
        return KeyRange(rank, low=value, include_low=self.op == ">=")

    def matches(self, values: dict[str, SortKey]) -> bool:
        actual = values.get(self.field)
        if actual is None or actual[0] != self.key[0]:
            return False
        left, right = actual[1], self.key[1]
        outcomes: dict[str, bool] = {
            "=": left == right,
            "!=": left != right,
            "<>": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }
        return outcomes[self.op]


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with *prefix*.

    So the strings starting with *prefix* are exactly those in
    ``[prefix, prefix_end(prefix))``: one key range.  None for an empty
    prefix, or one ending in the last code point.
    """
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL ``LIKE``: ``%`` any run, ``_`` any one character, the rest literal."""
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class Like(Node):
    field: str
    pattern: str
    negated: bool = False

    def regex(self) -> re.Pattern[str]:
        return like_regex(self.pattern)

    def literal_prefix(self) -> str:
        """The part before the first wildcard: matches lie in one key range."""
        match = re.match(r"[^%_]*", self.pattern)
        return match.group(0) if match else ""

    #: The wildcard for "any run of characters".
    any_run = "%"

    def _prefix_range(self) -> tuple[str, str | None] | None:
        """``(low, high)`` when exactly the strings in ``[low, high)`` match.

        That is a literal followed only by any-run wildcards (``'abc%'``),
        so no value needs matching; ``high`` is None for a pattern with no
        wildcard at all (an equality).  None when values must be matched.
        """
        prefix = self.literal_prefix()
        rest = self.pattern[len(prefix) :]
        if not rest:
            return prefix, None
        end = prefix_end(prefix)
        if end is not None and rest.strip(self.any_run) == "":
            return prefix, end
        return None

    def _positive(self, index: FieldIndex) -> DocSet:
        span = self._prefix_range()
        if span is not None:
            low, high = span
            if high is None:
                return index.equal((RANK_STRING, low))
            return index.range(KeyRange(RANK_STRING, low, high, include_high=False))
        regex = self.regex()
        prefix = self.literal_prefix()
        end = prefix_end(prefix)
        # Only strings starting with the prefix can match: one key range, if it has an end.
        scan = KeyRange(RANK_STRING, prefix, end, include_high=False)
        if end is None:
            scan = KeyRange(RANK_STRING)
        candidates = index.entries(scan)
        return union_of(docids for value, docids in candidates if regex.fullmatch(value))

    def evaluate(self, catalog: Catalog) -> DocSet:
        index = _field_index(catalog, self.field)
        if index is None:
            return IISet()
        found = self._positive(index)
        if self.negated:
            return difference(index.of_rank(RANK_STRING), found)
        return found

    def count(self, catalog: Catalog) -> int | None:
        index = _field_index(catalog, self.field)
        if index is None:
            return 0
        span = self._prefix_range()
        if span is None:
            return None
        low, high = span
        if high is None:
            found = index.count_equal((RANK_STRING, low))
        else:
            found = index.count_range(KeyRange(RANK_STRING, low, high, include_high=False))
        return index.count_of_rank(RANK_STRING) - found if self.negated else found

    def matches(self, values: dict[str, SortKey]) -> bool:
        actual = values.get(self.field)
        if actual is None or actual[0] != RANK_STRING:
            return False
        return bool(self.regex().fullmatch(actual[1])) != self.negated


@dataclass(frozen=True)
class Glob(Like):
    """Shell wildcards (``*``, ``?``, ``[...]``) instead of ``%`` and ``_``: ``find --name``."""

    any_run = "*"

    def regex(self) -> re.Pattern[str]:
        return re.compile(fnmatch.translate(self.pattern), re.DOTALL)

    def literal_prefix(self) -> str:
        match = re.match(r"[^*?\[]*", self.pattern)
        return match.group(0) if match else ""


@dataclass(frozen=True)
class Member(Node):
    field: str
    keys: tuple[SortKey, ...]
    negated: bool = False

    def evaluate(self, catalog: Catalog) -> DocSet:
        index = _field_index(catalog, self.field)
        if index is None:
            return IISet()
        found = multiunion([index.equal(key) for key in self.keys])
        if not self.negated:
            return found
        ranks = multiunion([index.of_rank(rank) for rank in {key[0] for key in self.keys}])
        return difference(ranks, found)

    def count(self, catalog: Catalog) -> int | None:
        index = _field_index(catalog, self.field)
        if index is None:
            return 0
        found = sum(index.count_equal(key) for key in self.keys)
        if not self.negated:
            return found
        return sum(index.count_of_rank(rank) for rank in {key[0] for key in self.keys}) - found

    def matches(self, values: dict[str, SortKey]) -> bool:
        actual = values.get(self.field)
        if actual is None:
            return False
        if self.negated:
            return actual[0] in {key[0] for key in self.keys} and actual not in self.keys
        return actual in self.keys


@dataclass(frozen=True)
class Between(Node):
    field: str
    low: SortKey
    high: SortKey
    negated: bool = False

    def evaluate(self, catalog: Catalog) -> DocSet:
        index = _field_index(catalog, self.field)
        if index is None or self.low[0] != self.high[0]:
            return IISet()
        found = index.range(self._keys())
        if self.negated:
            return difference(index.of_rank(self.low[0]), found)
        return found

    def count(self, catalog: Catalog) -> int | None:
        index = _field_index(catalog, self.field)
        if index is None or self.low[0] != self.high[0]:
            return 0
        found = index.count_range(self._keys())
        return index.count_of_rank(self.low[0]) - found if self.negated else found

    def matches(self, values: dict[str, SortKey]) -> bool:
        actual = values.get(self.field)
        if actual is None or self.low[0] != self.high[0] or actual[0] != self.low[0]:
            return False
        inside: bool = self.low[1] <= actual[1] <= self.high[1]
        return inside != self.negated

    def _keys(self) -> KeyRange:
        return KeyRange(self.low[0], self.low[1], self.high[1])


@dataclass(frozen=True)
class IsNull(Node):
    field: str
    negated: bool = False

    def evaluate(self, catalog: Catalog) -> DocSet:
        index = _field_index(catalog, self.field)
        present = index.docids() if index is not None else IISet()
        return present if self.negated else difference(catalog.all_docids(), present)

    def count(self, catalog: Catalog) -> int | None:
        index = _field_index(catalog, self.field)
        present = len(index) if index is not None else 0
        return present if self.negated else len(catalog) - present

    def matches(self, values: dict[str, SortKey]) -> bool:
        return (self.field in values) == self.negated


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]

    def evaluate(self, catalog: Catalog) -> DocSet:
        result: DocSet | None = None
        for item in self.items:
            found = item.evaluate(catalog)
            result = found if result is None else intersection(result, found)
            if not result:
                break
        return result if result is not None else IISet()

    def matches(self, values: dict[str, SortKey]) -> bool:
        return all(item.matches(values) for item in self.items)


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]

    def evaluate(self, catalog: Catalog) -> DocSet:
        return multiunion([item.evaluate(catalog) for item in self.items])

    def matches(self, values: dict[str, SortKey]) -> bool:
        return any(item.matches(values) for item in self.items)


@dataclass(frozen=True)
class Not(Node):
    item: Node

    def evaluate(self, catalog: Catalog) -> DocSet:
        return difference(catalog.all_docids(), self.item.evaluate(catalog))

    def count(self, catalog: Catalog) -> int | None:
        inner = self.item.count(catalog)
        return None if inner is None else len(catalog) - inner

    def matches(self, values: dict[str, SortKey]) -> bool:
        return not self.item.matches(values)


# -- parsing -----------------------------------------------------------------


def _string(token: Token) -> str:
    return token[1:-1].replace("''", "'")


def parse_iso(text: str, error: str) -> datetime:
    """An ISO timestamp (UTC unless it names a zone; ``Z`` too), or ``UsageError(error)``."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(error) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


#: Seconds per unit of an age (``30s 10m 2h 3d 1w``).
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)


def age_seconds(text: str) -> int | None:
    """The seconds an age names (``30s 10m 2h 3d 1w``, combined as ``1d12h``), else None.

    One reading for ``find --newer-than``, ``--at`` and ``audit --since``.
    """
    text = text.strip()
    if not text or _AGE.sub("", text) != "":
        return None
    return sum(int(n) * AGE_UNITS[unit.lower()] for n, unit in _AGE.findall(text))


def _timestamp(text: str) -> SortKey:
    key = sort_key(parse_iso(text, f"{text!r} is not an ISO timestamp"))
    assert key is not None
    return key


@v_args(inline=True)
class _ToNodes(Transformer[Token, Node]):
    def field(self, token: Token) -> str:
        if token.type == "QUOTED_NAME":
            return field_name(token[1:-1].replace('""', '"'), quoted=True)
        return field_name(str(token))

    def string(self, token: Token) -> SortKey:
        return (RANK_STRING, _string(token))

    def number(self, token: Token) -> SortKey:
        text = str(token)
        if re.fullmatch(r"[+-]?\d+", text):
            return (RANK_NUMBER, int(text))
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            raise UsageError(f"{text}: number out of range")
        return (RANK_NUMBER, value)

    def timestamp(self, token: Token) -> SortKey:
        return _timestamp(str(token))

    def timestamp_string(self, token: Token) -> SortKey:
        return _timestamp(_string(token))

    def true(self, _token: Token) -> SortKey:
        return (RANK_BOOL, 1)

    def false(self, _token: Token) -> SortKey:
        return (RANK_BOOL, 0)

    def compare(self, field: str, op: Token, key: SortKey) -> Node:
        return Compare(field, str(op), key)

    def like(self, field: str, *rest: Token) -> Node:
        return Like(field, _string(rest[-1]), negated=len(rest) == 2)

    def member(self, field: str, *rest: Any) -> Node:
        negated = isinstance(rest[0], Token) and rest[0].type == "NOT"
        keys = rest[1:] if negated else rest
        return Member(field, tuple(dict.fromkeys(keys)), negated)

    def between(self, field: str, *rest: Any) -> Node:
        negated = len(rest) == 3
        low, high = rest[-2:]
        return Between(field, low, high, negated)

    def is_null(self, field: str, *rest: Token) -> Node:
        # "IS NULL" holds when absent; "IS NOT NULL" when present.
        return IsNull(field, negated=bool(rest))

    def negation(self, _not: Token, item: Node) -> Node:
        return Not(item)

    def and_expr(self, *items: Node) -> Node:
        return And(tuple(items))

    def or_expr(self, *items: Node) -> Node:
        return Or(tuple(items))


@cache
def _parser() -> Lark:
    grammar = resources.files("omsh.store").joinpath("query.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="basic", maybe_placeholders=False)


def _caret_message(query: str, column: int, problem: str) -> str:
    line = query.replace("\n", " ").replace("\t", " ")
    start = max(0, column - 60)
    excerpt = line[start : start + 100]
    return f"{problem} at column {column}\n  {excerpt}\n  {' ' * (column - 1 - start)}^"


def _describe(error: UnexpectedInput, query: str) -> str:
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        return _caret_message(query, len(query) + 1, "syntax error: unexpected end of query")
    if isinstance(error, UnexpectedToken):
        return _caret_message(query, error.column, f"syntax error: unexpected {str(error.token)!r}")
    if isinstance(error, UnexpectedCharacters):
        # lark declares pos_in_stream None on UnexpectedInput; this subclass sets an int.
        position = cast(int, error.pos_in_stream)
        bad = query[position] if position < len(query) else "end"
        what = "unterminated string" if bad in "'\"" else f"unexpected character {bad!r}"
        return _caret_message(query, error.column, f"syntax error: {what}")
    return f"syntax error: {error}"


def _nesting_depth(query: str) -> int:
    depth = deepest = 0
    for ch in query:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


def parse_query(query: str) -> Node:
    """Parse *query*; a :class:`QuerySyntaxError` (exit 2) says what and where.

    Trees are immutable, so the last :data:`PARSE_CACHE_SIZE` distinct
    queries are kept parsed: scripts repeat theirs, and parsing costs more
    than answering a selective query (SQLite keeps prepared statements for
    the same reason).  Errors are not cached.
    """
    return _parse(query)


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse(query: str) -> Node:
    if not query.strip():
        raise QuerySyntaxError("empty query")
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"query is {len(query)} characters; the limit is {MAX_QUERY_LENGTH}")
    not_chain = len(re.findall(r"\bnot\b", query, re.IGNORECASE))
    if _nesting_depth(query) > MAX_DEPTH or not_chain > MAX_DEPTH:
        raise QuerySyntaxError(f"query nests deeper than {MAX_DEPTH} levels")
    try:
        tree = _parser().parse(query)
    except UnexpectedInput as error:
        raise QuerySyntaxError(_describe(error, query)) from None
    return _ToNodes().transform(tree)


def evaluate(node: Node, catalog: Catalog, within: str | None = None) -> DocSet:
    """Document ids matching *node*, optionally only strictly below the path *within*.

    Not to be modified: it may be a set the index holds.
    """
    found = node.evaluate(catalog)
    if within is not None and within != "/":
        path_index = catalog.field("path")
        if path_index is None:
            return IISet()
        # Every path below /a/b starts with "/a/b/".
        top = within + "/"
        below = path_index.range(KeyRange(RANK_STRING, top, prefix_end(top), include_high=False))
        found = intersection(found, below)
    return found


__all__ = [
    "ALIASES",
    "RANK_DATETIME",
    "Node",
    "QuerySyntaxError",
    "display_field",
    "evaluate",
    "field_name",
    "parse_query",
]


def key_to_json(key: SortKey) -> Any:
    """A catalog key back as a JSON value (timestamps in CDMI form)."""
    rank, value = key
    if rank == RANK_DATETIME:
        return format_timestamp(value)
    if rank == RANK_BOOL:
        return bool(value)
    return value


class QueryResult:
    """The documents matching a query that the caller may see, and the snapshot they are of.

    Rows are read from the catalog's reverse indexes, so listing a result
    loads no object: paths come from the ``path`` index, selected fields
    from theirs, each fetched for all documents at once when first needed.
    The documents themselves are found on first use, so a count that the
    indexes can give (:meth:`Node.count`, for a caller who sees everything)
    makes no set at all.  Use a result inside the transaction that made it.

    A plain class rather than a dataclass with cached properties: a query
    that selects ten objects takes microseconds, and that machinery (a lock
    per property) would be a noticeable share.
    """

    def __init__(
        self,
        node: Node,
        catalog: Catalog,
        within: str | None,
        transaction: str,
        as_of: str,
        visible: Callable[[int], bool] | None = None,
        *,
        mount: str = "",
    ) -> None:
        self.node = node
        self.catalog = catalog
        #: Only documents strictly below this path (None: everywhere).
        self.within = within
        self.transaction = transaction
        self.as_of = as_of
        #: Whether the caller may see a document; None when it sees every one.
        self.visible = visible
        #: Where the catalog's tree is mounted (a snapshot's ``/.snapshots/NAME``).
        self.mount = mount
        self._docids: Collection[int] | None = None
        self._paths: dict[int, str] | None = None
        self._keys: dict[str, dict[int, SortKey | None]] = {}

    @property
    def docids(self) -> Collection[int]:
        if self._docids is None:
            found = evaluate(self.node, self.catalog, self.within)
            visible = self.visible
            self._docids = found if visible is None else [d for d in found if visible(d)]
        return self._docids

    def __len__(self) -> int:
        if self._docids is None and self.visible is None and self.within in (None, "/"):
            counted = self.node.count(self.catalog)
            if counted is not None:
                return counted
        return len(self.docids)

    def keys(self, field: str) -> dict[int, SortKey | None]:
        """Every document's key in *field* (None where it has none), fetched once."""
        keys = self._keys.get(field)
        if keys is None:
            index = self.catalog.field(field)
            keys = index.keys_of(self.docids) if index is not None else dict.fromkeys(self.docids)
            self._keys[field] = keys
        return keys

    def value(self, docid: int, field: str) -> SortKey | None:
        keys = self._keys.get(field)
        if keys is not None:
            return keys.get(docid)
        index = self.catalog.field(field)
        return index.key_of(docid) if index is not None else None

    def paths(self) -> dict[int, str]:
        """Every document's path, read in one pass (paths are stored as bare strings)."""
        if self._paths is None:
            index = self.catalog.field("path")
            if index is None:
                self._paths = dict.fromkeys(self.docids, "")
            else:
                paths = index.stored_values(self.docids)
                if None in paths.values():
                    # Every indexed object has a path; a damaged catalog sorts first.
                    paths = {docid: path or "" for docid, path in paths.items()}
                if self.mount:
                    paths = {docid: self.mount + path for docid, path in paths.items()}
                self._paths = paths
        return self._paths

    def path(self, docid: int) -> str:
        return self.paths().get(docid) or ""

    def ordered(self, field: str | None = None, descending: bool = False) -> list[int]:
        """Document ids by *field* (missing values last), or by path."""
        paths = self.paths()
        if field is None:
            return sorted(paths, key=paths.__getitem__)
        keys = self.keys(field)
        present = sorted(
            ((key, paths[docid], docid) for docid, key in keys.items() if key is not None),
            reverse=descending,
        )
        absent = [docid for docid, key in keys.items() if key is None]
        absent.sort(key=paths.__getitem__)
        return [docid for _, _, docid in present] + absent
