"""The audit trail: who logged in, failed to, or changed users, keys or ACLs.

Kept in the store, written in the same transaction as the change it
describes, and bounded: past :data:`MAX_EVENTS` the oldest entries go.  It
never holds a secret: a password change is recorded as the fact of it.

Events caused by someone who has not authenticated (failed logins) are kept
in a trail of their own with its own bound, :data:`MAX_ANONYMOUS_EVENTS`:
anyone who can reach the port can cause them, and a flood of them must never
push out what authenticated people did.  Reading merges both trails.

Entries are keyed by nanosecond timestamp in an ``LOBTree`` so concurrent
writers insert different keys, which BTrees resolve without a conflict.

Beside the trails, the log keeps how many logins failed lately per user and
per client address (:class:`FailureCount`), so that every node serving the
store throttles guesses with the same counts (:mod:`omsh.authn`).  Each
count is a record of its own that merges concurrent failures.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from BTrees.Length import Length
from BTrees.LOBTree import LOBTree
from BTrees.OOBTree import OOBTree
from persistent import Persistent

from omsh.store.metadata import format_timestamp

MAX_EVENTS = 10_000
#: Failure counts kept (users and addresses) before stale ones are dropped.
MAX_FAILURE_COUNTS = 10_000
MAX_ANONYMOUS_EVENTS = 10_000
#: Trimming works in batches so not every write touches the oldest bucket.
TRIM_BATCH = 100
_MAX_FIELD = 512
_KEY_LIMIT = 2**63


@dataclass(frozen=True)
class AuditEvent:
    time: float
    actor: str
    action: str
    target: str
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "time": format_timestamp(self.time),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


def _clip(text: str) -> str:
    """Bound a field and make control characters visible (log injection)."""
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text[:_MAX_FIELD]


def _append(events: LOBTree, count: Length, event: AuditEvent, bound: int) -> None:
    """Add *event* under a fresh nanosecond key; past *bound*, drop the oldest."""
    key = time.time_ns()
    while key in events:
        key += 1
    events[key] = event
    count.change(1)
    if count() > bound + TRIM_BATCH:
        excess = count() - bound
        for old in list(events.keys()[:excess]):
            del events[old]
        count.change(-excess)


class FailureCount(Persistent):
    """Failed logins of one user or from one address: how many lately, and the last when.

    Nodes add to it at once; :meth:`_p_resolveConflict` adds both sides'
    failures up, so a count is never lost to a conflict.
    """

    def __init__(self) -> None:
        self.count = 0
        #: Wall-clock time of the last failure (nodes share no other clock).
        self.last = 0.0

    def add(self, now: float, forget_after: float) -> None:
        """One more failure at *now*; a count quiet for *forget_after* starts again."""
        if now - self.last > forget_after:
            self.count = 0
        self.count += 1
        self.last = now

    def _p_resolveConflict(
        self, old: dict[str, Any], committed: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        """Both sides' failures: what each added, or what each counted since starting again."""
        before = old.get("count", 0)
        theirs, ours = committed.get("count", 0), new.get("count", 0)
        # A side below *before* started again (faded, or forgiven): its whole
        # count is new.  Otherwise what it added is its count less *before*.
        both_started_again = theirs < before and ours < before
        count = theirs + ours - (0 if both_started_again else before)
        merged = dict(new)
        merged["count"] = count
        merged["last"] = max(committed.get("last", 0.0), new.get("last", 0.0))
        return merged


class AuditLog(Persistent):
    #: The trail of unauthenticated events.  Logs made before it existed get
    #: it on their first such event (always inside a write transaction).
    _anonymous_events: LOBTree | None = None
    _anonymous_count: Length | None = None

    #: Failure counts by ``"user:NAME"`` / ``"address:ADDR"``; made on the first failure.
    _failures: OOBTree | None = None
    _failure_records: Length | None = None

    def __init__(self) -> None:
        self._events = LOBTree()
        self._count = Length()
        self._anonymous_events = LOBTree()
        self._anonymous_count = Length()

    def count_failure(self, keys: tuple[str, ...], now: float, forget_after: float) -> None:
        """A failed login counted under each of *keys* (in a write transaction)."""
        if self._failures is None or self._failure_records is None:
            self._failures = OOBTree()
            self._failure_records = Length()
        for key in keys:
            record = self._failures.get(key)
            if record is None:
                record = self._failures[key] = FailureCount()
                self._failure_records.change(1)
            record.add(now, forget_after)
        if self._failure_records() > MAX_FAILURE_COUNTS + TRIM_BATCH:
            self._drop_stale_failures(now, forget_after)

    def _drop_stale_failures(self, now: float, forget_after: float) -> None:
        """Bound the counts: drop faded ones; if a flood left none faded, all of them."""
        assert self._failures is not None and self._failure_records is not None
        stale = [key for key, record in self._failures.items() if now - record.last > forget_after]
        if len(self._failures) - len(stale) > MAX_FAILURE_COUNTS:
            stale = list(self._failures.keys())
        for key in stale:
            del self._failures[key]
        self._failure_records.change(-len(stale))

    def forgive(self, key: str) -> None:
        """Clear *key*'s count (a successful login forgives the account); no write if clear."""
        record = None if self._failures is None else self._failures.get(key)
        if record is not None and record.count:
            record.count = 0

    def failure_counts(self, keys: tuple[str, ...]) -> dict[str, tuple[int, float]]:
        """(count, last failure's wall-clock time) of each of *keys* that has one."""
        if self._failures is None:
            return {}
        found = {}
        for key in keys:
            record = self._failures.get(key)
            if record is not None and record.count:
                found[key] = (record.count, record.last)
        return found

    def __len__(self) -> int:
        anonymous = self._anonymous_count() if self._anonymous_count is not None else 0
        return cast(int, self._count()) + anonymous

    def record(
        self, actor: str, action: str, target: str, detail: str = "", *, anonymous: bool = False
    ) -> None:
        """Add an event; *anonymous* ones (failed logins) go to their own trail."""
        event = AuditEvent(time.time(), _clip(actor), action, _clip(target), _clip(detail))
        if not anonymous:
            _append(self._events, self._count, event, MAX_EVENTS)
            return
        if self._anonymous_events is None or self._anonymous_count is None:
            self._anonymous_events = LOBTree()
            self._anonymous_count = Length()
        _append(self._anonymous_events, self._anonymous_count, event, MAX_ANONYMOUS_EVENTS)

    def events(
        self, *, user: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        """Oldest first; *user* matches actor or target; *limit* keeps the newest."""
        minimum = None
        if since is not None:
            # Keys are 64-bit: a time past their range matches nothing, before it everything.
            minimum = max(-_KEY_LIMIT, min(int(since * 1e9), _KEY_LIMIT - 1))
        trails = [self._events.items(min=minimum)]
        if self._anonymous_events is not None:
            trails.append(self._anonymous_events.items(min=minimum))
        merged = (event for _, event in heapq.merge(*trails, key=lambda item: item[0]))
        matching: Iterator[AuditEvent] = merged
        if user is not None:
            matching = (e for e in merged if user in (e.actor, e.target))
        found = list(matching)
        return found[-limit:] if limit else found
