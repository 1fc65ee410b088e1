"""The audit trail: who logged in, failed to, or changed users, keys or ACLs.

Kept in the store, written in the same transaction as the change it
describes, and bounded: past :data:`MAX_EVENTS` the oldest entries go.  It
never holds a secret: a password change is recorded as the fact of it.

Entries are keyed by nanosecond timestamp in an ``LOBTree`` so concurrent
writers insert different keys, which BTrees resolve without a conflict.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from BTrees.Length import Length
from BTrees.LOBTree import LOBTree
from persistent import Persistent

MAX_EVENTS = 10_000
#: Trimming works in batches so not every write touches the oldest bucket.
TRIM_BATCH = 100
_MAX_FIELD = 512


@dataclass(frozen=True)
class AuditEvent:
    time: float
    actor: str
    action: str
    target: str
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        from omsh.store.metadata import format_timestamp

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


class AuditLog(Persistent):
    def __init__(self) -> None:
        self._events = LOBTree()
        self._count = Length()

    def __len__(self) -> int:
        return self._count()

    def record(self, actor: str, action: str, target: str, detail: str = "") -> None:
        now = time.time()
        key = time.time_ns()
        while key in self._events:
            key += 1
        self._events[key] = AuditEvent(now, _clip(actor), action, _clip(target), _clip(detail))
        self._count.change(1)
        if self._count() > MAX_EVENTS + TRIM_BATCH:
            excess = self._count() - MAX_EVENTS
            for old in list(self._events.keys()[:excess]):
                del self._events[old]
            self._count.change(-excess)

    def events(
        self, *, user: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        """Oldest first; *user* matches actor or target; *limit* keeps the newest."""
        minimum = int(since * 1e9) if since is not None else None
        matching: Iterator[AuditEvent] = iter(self._events.values(min=minimum))
        if user is not None:
            matching = (e for e in matching if user in (e.actor, e.target))
        found = list(matching)
        return found[-limit:] if limit else found
