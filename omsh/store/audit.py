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
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from BTrees.Length import Length
from BTrees.LOBTree import LOBTree
from persistent import Persistent

from omsh.store.metadata import format_timestamp

MAX_EVENTS = 10_000
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


class AuditLog(Persistent):
    #: The trail of unauthenticated events.  Logs made before it existed get
    #: it on their first such event (always inside a write transaction).
    _anonymous_events: LOBTree | None = None
    _anonymous_count: Length | None = None

    def __init__(self) -> None:
        self._events = LOBTree()
        self._count = Length()
        self._anonymous_events = LOBTree()
        self._anonymous_count = Length()

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
