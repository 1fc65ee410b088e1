"""The query cases: omsh's metadata catalog against SQLite, same rows, same questions.

One seeded, deterministic data set is loaded twice in the same run:

* into an omsh store (a FileStorage in the temp folder) through
  :meth:`StoreView.store_data`, as ``put`` would, in large transactions: empty
  data objects, 1,000 per container (``/q/c0000/o0000000``…), each with five
  typed metadata fields;
* into an SQLite file database, one row per object with the same path and
  fields, one index per field, then ``ANALYZE``.

Fields (``i`` is the object's number)::

    n      int     uniform in [0, objects / 10): about 10 objects per value
    score  float   uniform in [0, 1000)
    cat    string  'cat-00' … 'cat-99': about 1% of the objects each
    ts     time    a second in 2024 (SQLite: seconds since the epoch)
    label  string  'pNN-MMM-iiiiiii': a prefix structure for LIKE

Each case is answered the way a user gets it.  omsh: parse the expression,
:meth:`StoreView.query` as ``admin``, then the result paths in path order
(:meth:`QueryResult.ordered`, :meth:`QueryResult.path`), or only the count,
all inside one read transaction held open over the runs (the query engine,
as SQLite's connection stays open).  SQLite: the same ``SELECT path …
ORDER BY path`` (or ``SELECT count(*)``), all rows fetched.  Both sides keep
their statement caches (omsh caches parsed queries, the ``sqlite3`` module
prepared statements) and are warm; the runs are interleaved.  An untimed
warm-up checks that both sides give the same answer.  Each case then runs
again with a read transaction of its own per query, as one ``query``
command has (ZODB's transaction begin and end cost tens of microseconds);
that median and its ratio are reported in the notes.

Figures beside the table:

* index build rate: :func:`~omsh.store.index.rebuild_catalog` over the whole
  store (one transaction, commit included), objects per second; SQLite's
  ``CREATE INDEX`` of the five fields for comparison;
* index size: the bytes of the catalog's records as FileStorage keeps them
  (each record's pickle plus its 42-byte data header; the records are found
  by walking from the catalog's persistent objects, so history and the tree
  itself are not counted), against the pages of SQLite's five indexes
  (``dbstat``).  Shown for the five user fields alone (like for like) and
  for the whole catalog (which also indexes ten system fields and maps
  document ids back to objects).
"""

from __future__ import annotations

import hashlib
import random
import resource
import secrets
import sqlite3
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar, cast

from ZODB.serialize import referencesf
from ZODB.utils import get_pickle_metadata

from bench.harness import BenchError, CaseResult, Target, interleave
from bench.runner import Group, option, positive
from omsh.store.content import ContentUpload, HoldsContent
from omsh.store.database import ADMIN_USER, Store
from omsh.store.index import USER_FIELD_PREFIX, rebuild_catalog
from omsh.store.query import parse_query
from omsh.store.view import StoreView

T = TypeVar("T")

DEFAULT_OBJECTS = 1_000_000
DEFAULT_RUNS = 20
SEED = 5800
#: Objects per container, and per transaction while loading.
CONTAINER_SIZE = 1000
BATCH = 50_000
FIELDS = ("n", "score", "cat", "ts", "label")
#: FileStorage writes this header before each data record (FileStorage.format).
DATA_HEADER = 42
#: SQLite's page cache: comparable to what omsh's object cache holds.
SQLITE_CACHE_KIB = 64 * 1024
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_YEAR_SECONDS = 366 * 86400


@dataclass(frozen=True)
class Row:
    """One object: where it lives and its five fields."""

    path: str
    n: int
    score: float
    cat: str
    ts: float
    label: str

    @property
    def container(self) -> str:
        return self.path.rpartition("/")[0]

    def metadata(self) -> dict[str, Any]:
        """The fields as omsh metadata: ``ts`` becomes a timestamp."""
        moment = _EPOCH + timedelta(seconds=self.ts - _EPOCH.timestamp())
        return {
            "n": self.n,
            "score": self.score,
            "cat": self.cat,
            "ts": moment,
            "label": self.label,
        }

    def values(self) -> tuple[Any, ...]:
        return (self.path, self.n, self.score, self.cat, self.ts, self.label)


def generate_rows(count: int, seed: int = SEED) -> Iterator[Row]:
    """*count* rows, the same for the same *seed* (both sides call this)."""
    rng = random.Random(seed)
    start = _EPOCH.timestamp()
    values = n_values(count)
    for number in range(count):
        yield Row(
            path=f"/q/c{number // CONTAINER_SIZE:04d}/o{number:07d}",
            n=rng.randrange(values),
            score=rng.random() * 1000,
            cat=f"cat-{rng.randrange(100):02d}",
            ts=float(int(start) + rng.randrange(_YEAR_SECONDS)),
            label=f"p{rng.randrange(100):02d}-{rng.randrange(1000):03d}-{number:07d}",
        )


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class QueryCase:
    """One question, asked of both sides.

    omsh's language is a SQL ``WHERE`` subset, so the same *where* text is
    the omsh expression and the SQLite condition.
    """

    key: str
    name: str
    where: str
    count_only: bool = False

    def select(self) -> str:
        if self.count_only:
            return f"SELECT count(*) FROM objects WHERE {self.where}"
        return f"SELECT path FROM objects WHERE {self.where} ORDER BY path"


def n_values(objects: int) -> int:
    """``n`` takes this many values, so that each is held by about ten objects."""
    return max(objects // 10, 100)


def query_cases(objects: int) -> tuple[QueryCase, ...]:
    """The issue's six cases for a data set of *objects*, target <= 2.0 each.

    With 1,000,000 objects: ``n = 4242`` (~10 hits), ``n BETWEEN 20000 AND
    20999`` (1%), that range AND one category (~100), one category OR one
    ``n`` (~10,010), a label prefix (~1,000) and ``score < 100`` (10%).
    """
    values = n_values(objects)
    equal, low, width = values * 4242 // 100_000, values // 5, values // 100
    between = f"n BETWEEN {low} AND {low + width - 1}"
    return (
        QueryCase("equal", "selective equality", f"n = {equal}"),
        QueryCase("range", "1% integer range", between),
        QueryCase("and", "equality AND range", f"cat = 'cat-42' AND {between}"),
        QueryCase("or", "OR of two equalities", f"cat = 'cat-07' OR n = {equal}"),
        QueryCase("like", "LIKE prefix", "label LIKE 'p42-1%'"),
        QueryCase("count", "count of a 10% predicate", "score < 100", count_only=True),
    )


CASE_KEYS = tuple(case.key for case in query_cases(DEFAULT_OBJECTS))
TARGET = Target("<=", 2.0)


# -- omsh ----------------------------------------------------------------------


class EmptyContent:
    """Stands in for a :class:`ContentUpload` of zero bytes: nothing to stream or link."""

    size = 0
    sha256 = hashlib.sha256(b"").hexdigest()

    def attach_to(self, holder: HoldsContent) -> None:
        """An empty object holds nothing: no blob, no inline record."""


EMPTY = cast(ContentUpload, EmptyContent())


def _record_bytes(storage: Any, start: bytes, seen: set[bytes]) -> tuple[int, int]:
    """Records and on-disk bytes of the index structure reachable from *start*.

    Only records of index classes (:mod:`BTrees`, :mod:`omsh.store.index`)
    are followed, so the objects the catalog points back to are not counted.
    """
    records = size = 0
    pending = deque([start])
    while pending:
        oid = pending.popleft()
        if oid in seen:
            continue
        seen.add(oid)
        data, _ = storage.load(oid)
        module, _ = get_pickle_metadata(data)
        if not module.startswith(("BTrees.", "omsh.store.index")):
            continue
        records += 1
        size += len(data) + DATA_HEADER
        pending.extend(referencesf(data))
    return records, size


@dataclass(frozen=True)
class IndexSize:
    """Bytes of index records (omsh) or index pages (SQLite)."""

    fields: int
    total: int
    records: int = 0


class OmshSide:
    """An omsh store in *data_dir*, filled and queried through the store API."""

    def __init__(self, data_dir: Path) -> None:
        self.store = Store.open(data_dir=str(data_dir))
        self.store.bootstrap(admin_password=secrets.token_urlsafe(16))

    def close(self) -> None:
        self.store.close()

    def load(self, rows: Iterable[Row], say: Callable[[str], None], total: int) -> None:
        """``store_data`` every row as ``admin``, :data:`BATCH` objects per transaction."""
        done = 0
        for batch in _batches(rows, BATCH):

            def fill(root: Any, batch: list[Row] = batch) -> None:
                view = StoreView.for_user(root, ADMIN_USER)
                for row in batch:
                    if view.lookup(row.container) is None:
                        view.make_container(row.container, parents=True)
                    view.store_data(row.path, EMPTY, metadata=row.metadata())

            self.store.run(fill)
            self.store.db.cacheMinimize()
            done += len(batch)
            say(f"omsh: {done:,} of {total:,} objects stored")

    def rebuild(self) -> tuple[int, float]:
        """Rebuild the catalog from the tree: objects indexed and seconds taken."""
        started = time.perf_counter()
        count = self.store.run(rebuild_catalog)
        elapsed = time.perf_counter() - started
        self.store.db.cacheMinimize()
        return count, elapsed

    @staticmethod
    def answer(root: Any, expression: str, count_only: bool) -> list[str] | int:
        """What ``query EXPR [--count]`` computes before printing, in a transaction on *root*."""
        result = StoreView.for_user(root, ADMIN_USER).query(parse_query(expression))
        if count_only:
            return len(result)
        return [result.path(docid) for docid in result.ordered()]

    def query(self, expression: str, count_only: bool) -> list[str] | int:
        """:meth:`answer` in a read transaction of its own, as one command runs."""
        return self.store.read(lambda root: self.answer(root, expression, count_only))

    def in_snapshot(self, work: Callable[[Any], T]) -> T:
        """Run *work* with the store root in one read transaction held open throughout."""
        return self.store.read(work)

    def index_size(self) -> IndexSize:
        """The catalog's records: the five user fields, and everything."""
        storage = self.store.db.storage

        def oids(root: Any) -> tuple[bytes, list[bytes]]:
            catalog = root.catalog
            indexes = [catalog.fields[USER_FIELD_PREFIX + name]._p_oid for name in FIELDS]
            return catalog._p_oid, indexes

        catalog_oid, field_oids = self.store.read(oids)
        seen: set[bytes] = set()
        field_bytes = sum(_record_bytes(storage, oid, seen)[1] for oid in field_oids)
        records, total = _record_bytes(storage, catalog_oid, set())
        return IndexSize(field_bytes, total, records)


# -- SQLite --------------------------------------------------------------------


class SQLiteSide:
    """The reference: one table, an index per field, in a file database."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        # omsh's LIKE is case-sensitive; this also lets SQLite use the index.
        self.connection.execute("PRAGMA case_sensitive_like = ON")

    def close(self) -> None:
        self.connection.close()

    def load(self, rows: Iterable[Row]) -> float:
        """Insert every row, then index each field; returns the seconds indexing took."""
        db = self.connection
        db.execute(
            "CREATE TABLE objects (path TEXT NOT NULL, n INTEGER, score REAL,"
            " cat TEXT, ts REAL, label TEXT)"
        )
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)", (row.values() for row in rows)
        )
        db.execute("COMMIT")
        started = time.perf_counter()
        db.execute("BEGIN")
        for name in FIELDS:
            db.execute(f"CREATE INDEX objects_{name} ON objects ({name})")
        db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.execute("ANALYZE")
        return elapsed

    def index_size(self) -> IndexSize:
        (pages,) = self.connection.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'objects\\_%' ESCAPE '\\'"
        ).fetchone()
        return IndexSize(pages, pages)

    def query(self, case: QueryCase) -> list[str] | int:
        rows = self.connection.execute(case.select()).fetchall()
        if case.count_only:
            return int(rows[0][0])
        return [path for (path,) in rows]


# -- the run -------------------------------------------------------------------


def _objects(text: str) -> int:
    """``--objects``: a count, which may be written ``1_000_000`` or ``1,000,000``."""
    return positive(text.replace("_", "").replace(",", ""))


@dataclass(frozen=True)
class Settings:
    """What to run and how often."""

    objects: int = option(DEFAULT_OBJECTS, _objects, "objects/rows (1,000,000)", quick=20_000)
    runs: int = option(DEFAULT_RUNS, positive, f"timed runs per case ({DEFAULT_RUNS})", quick=5)
    seed: int = option(SEED, int, f"data set seed ({SEED})")
    cases: tuple[str, ...] = CASE_KEYS


@dataclass
class Figures:
    """What is reported beside the table."""

    load_seconds: dict[str, float] = field(default_factory=dict)
    indexed: int = 0
    rebuild_seconds: float = 0.0
    sqlite_index_seconds: float = 0.0
    omsh_size: IndexSize | None = None
    sqlite_size: IndexSize | None = None
    peak_rss: int = 0

    @property
    def build_rate(self) -> float:
        return self.indexed / self.rebuild_seconds if self.rebuild_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        omsh, sqlite = self.omsh_size, self.sqlite_size
        return {
            "load_seconds": self.load_seconds,
            "indexed_objects": self.indexed,
            "rebuild_seconds": self.rebuild_seconds,
            "rebuild_objects_per_s": self.build_rate,
            "sqlite_create_index_seconds": self.sqlite_index_seconds,
            "omsh_index_bytes": None if omsh is None else vars(omsh),
            "sqlite_index_bytes": None if sqlite is None else vars(sqlite),
            "peak_rss_bytes": self.peak_rss,
        }


def _milliseconds(work: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        started = time.perf_counter()
        work()
        return (time.perf_counter() - started) * 1000

    return timed


def _hits(answer: list[str] | int) -> int:
    return answer if isinstance(answer, int) else len(answer)


class QueryBench(Group):
    """Builds both sides, runs the cases, closes everything."""

    description = "omsh's metadata queries vs SQLite with an index per field, as ratios"
    quick_help = "20,000 objects, 5 runs"
    settings_type = Settings

    @staticmethod
    def versions() -> dict[str, Any]:
        return {"sqlite": sqlite3.sqlite_version}

    def __init__(self, workdir: Path, settings: Settings, say: Callable[[str], None]) -> None:
        super().__init__(workdir, settings, say)
        self.figures = Figures()
        self.omsh: OmshSide | None = None
        self.sqlite: SQLiteSide | None = None

    def _rows(self) -> Iterator[Row]:
        return generate_rows(self.settings.objects, self.settings.seed)

    def setup(self) -> None:
        objects = self.settings.objects
        figures = self.figures
        self.say(f"loading {objects:,} rows into SQLite")
        started = time.perf_counter()
        self.sqlite = SQLiteSide(self.workdir / "reference.sqlite")
        figures.sqlite_index_seconds = self.sqlite.load(self._rows())
        figures.load_seconds["sqlite"] = time.perf_counter() - started
        figures.sqlite_size = self.sqlite.index_size()

        self.say(f"storing {objects:,} objects in omsh ({BATCH:,} per transaction)")
        started = time.perf_counter()
        self.omsh = OmshSide(self.workdir / "var")
        self.omsh.load(self._rows(), self.say, objects)
        figures.load_seconds["omsh"] = time.perf_counter() - started
        self.say("rebuilding the omsh catalog (timed)")
        figures.indexed, figures.rebuild_seconds = self.omsh.rebuild()
        self.say(f"indexed {figures.indexed:,} objects at {figures.build_rate:,.0f}/s")
        figures.omsh_size = self.omsh.index_size()

    def teardown(self) -> None:
        for side in (self.omsh, self.sqlite):
            if side is not None:
                side.close()
        self.figures.peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def run(self) -> list[CaseResult]:
        """Every selected case; one whose answers differ is reported, not fatal."""
        results = []
        for case in query_cases(self.settings.objects):
            if case.key in self.settings.cases:
                self.say(f"case {case.key}: {case.where}")
                results.append(self._measure(case))
        return results

    def _measure(self, case: QueryCase) -> CaseResult:
        """Check both sides agree, then time them: in one open snapshot, and per command."""
        assert self.omsh is not None and self.sqlite is not None, "not set up"
        omsh, sqlite = self.omsh, self.sqlite
        description = f"`{case.where}`" + (" --count" if case.count_only else "")
        result = CaseResult(case.name, description, "ms", TARGET)
        runs = self.settings.runs
        reference = _milliseconds(lambda: sqlite.query(case))
        try:
            ours, theirs = omsh.query(case.where, case.count_only), sqlite.query(case)
            if ours != theirs:
                raise BenchError(
                    f"answers differ: omsh {_hits(ours)} hits, SQLite {_hits(theirs)} hits"
                )
            result.notes.append(f"{_hits(ours):,} hit{'' if _hits(ours) == 1 else 's'}")

            def in_snapshot(root: Any) -> tuple[list[float], list[float]]:
                answer = _milliseconds(lambda: OmshSide.answer(root, case.where, case.count_only))
                return interleave(runs, answer, reference)

            result.omsh, result.reference = omsh.in_snapshot(in_snapshot)
            per_command, again = interleave(
                runs, _milliseconds(lambda: omsh.query(case.where, case.count_only)), reference
            )
            ratio = statistics.median(per_command) / statistics.median(again)
            result.notes.append(
                f"with a read transaction of its own per query, as one command:"
                f" median {statistics.median(per_command):.3f} ms, ratio {ratio:.2f}"
            )
        except BenchError as exc:
            result.error = str(exc)
            self.say(f"case {case.key} failed: {exc}")
        return result

    # -- the report --------------------------------------------------------------

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"omsh catalog vs SQLite: medians of {settings.runs} interleaved runs over"
            f" {settings.objects:,} objects with 5 typed fields (seed {settings.seed})",
            "  omsh: parse, StoreView.query as admin, paths in path order (or the count),"
            " in an open read transaction",
            "  SQLite: the same SELECT path … ORDER BY path (or count(*)), all rows fetched",
        ]

    def tail(self) -> list[str]:
        return ["", *figure_lines(self.settings, self.figures)]

    def details(self) -> dict[str, Any]:
        return {"figures": self.figures.as_dict()}


def figure_lines(settings: Settings, figures: Figures) -> list[str]:
    """Below the cases: load and index build rates, index sizes, the process's peak RSS."""
    lines = []
    load = figures.load_seconds
    if "omsh" in load:
        lines.append(
            f"load: omsh store_data {settings.objects / load['omsh']:,.0f} objects/s"
            " (catalog kept current); SQLite insert + index"
            f" {settings.objects / load['sqlite']:,.0f} rows/s"
        )
    if figures.rebuild_seconds:
        sqlite_rate = settings.objects / figures.sqlite_index_seconds
        lines.append(
            f"index build: rebuild_catalog {figures.build_rate:,.0f} objects/s"
            f" ({figures.indexed:,} in {figures.rebuild_seconds:.1f} s, 15 fields);"
            f" SQLite CREATE INDEX x5 {sqlite_rate:,.0f} rows/s"
        )
    omsh, sqlite = figures.omsh_size, figures.sqlite_size
    if omsh is not None and sqlite is not None:
        mib = 1024 * 1024
        lines.append(
            f"index size: omsh 5 user fields {omsh.fields / mib:,.1f} MiB vs SQLite 5 indexes"
            f" {sqlite.fields / mib:,.1f} MiB = {omsh.fields / sqlite.fields:.2f}x;"
            f" whole catalog {omsh.total / mib:,.1f} MiB in {omsh.records:,} records"
            f" = {omsh.total / sqlite.fields:.2f}x"
        )
    if figures.peak_rss:
        lines.append(f"peak RSS of the benchmark process: {figures.peak_rss / 1024**3:.2f} GiB")
    return lines
