"""Reading the tree as it was: ``--at WHEN`` (ARCHITECTURE §4).

ZODB keeps every transaction until a pack, and a connection opened with
``before=TID`` reads the state every object had just before *TID*, content
(blobs) included.  Such a connection is read-only: ZODB refuses any change
made through it, and :meth:`~omsh.store.database.Store.read_at` turns that
into "permission denied".

Who may see the past: reading an object as of *T* needs the right on it at
*T* (its ACL and inheritance as they were then) **and** now (the same object,
found by its object ID in a current connection; an object that no longer
exists is judged by its nearest ancestor that still does).  Both are
decided by :func:`~omsh.store.access.check_access`, for the caller's account
as it is now, so a revoked user cannot read yesterday's copy and an object
made private since stays private.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from ZODB.TimeStamp import TimeStamp
from ZODB.utils import p64, u64

from omsh.errors import NotFound, UsageError
from omsh.store.access import Perm
from omsh.store.model import StoreObject, StoreRoot
from omsh.store.query import age_seconds, parse_iso
from omsh.store.snapshots import find_snapshot
from omsh.store.view import StoreView, current_counterpart

_TID = re.compile(r"[0-9a-fA-F]{16}")
MOMENT_FORMS = "an ISO timestamp (2024-05-01T12:00Z) or an age (30m, 2h, 3d)"


def parse_moment(
    text: str, option: str, now: float | None = None, forms: str = MOMENT_FORMS
) -> float:
    """A moment (seconds since the epoch): an ISO timestamp or an age back from *now*.

    An ISO time without a zone is UTC; an age is numbers and units
    (``30s 10m 2h 2d 1w``, combined as ``1d12h``).  Anything else is a
    :class:`UsageError` naming *option* and listing the accepted *forms*.
    Shared by ``--at`` and ``audit --since``.
    """
    text = text.strip()
    seconds = age_seconds(text)
    if seconds is not None:
        return (time.time() if now is None else now) - seconds
    return parse_iso(text, f"{option} {text!r}: give {forms}").timestamp()


@dataclass(frozen=True)
class When:
    """A parsed ``--at`` value: a transaction id, a moment, or a snapshot's name.

    Text that is none of the first three forms may name a snapshot; that is
    only known with the store open (:meth:`resolved`), so the error it
    would be otherwise is kept in :attr:`unparsed`.
    """

    text: str
    tid: bytes | None = None
    moment: float = 0.0
    #: Why *text* is not a time, an age or a transaction id (then it must be a snapshot).
    unparsed: str | None = None

    def resolved(self, root: StoreRoot) -> When:
        """*self*, a snapshot's name replaced by its transaction (read from *root*)."""
        if self.unparsed is None:
            return self
        snapshot = find_snapshot(root, self.text)
        if snapshot is None:
            raise UsageError(f"{self.unparsed}, or a snapshot's name")
        return When(self.text, tid=snapshot.tid)

    def before(self, now: float, last: bytes) -> bytes:
        """The ``before`` argument of a historical connection that includes *self*.

        Raises :class:`UsageError` for a moment later than *now* or a
        transaction id later than *last*, the storage's last transaction.
        """
        if self.unparsed is not None:
            raise UsageError(self.unparsed)
        if self.tid is not None:
            if self.tid > last:
                raise UsageError(f"--at {self.text}: that is in the future")
            return cast(bytes, p64(u64(self.tid) + 1))
        if self.moment > now:
            raise UsageError(f"--at {self.text}: that is in the future")
        instant = datetime.fromtimestamp(self.moment, UTC)
        seconds = instant.second + instant.microsecond / 1e6
        stamp = TimeStamp(
            instant.year, instant.month, instant.day, instant.hour, instant.minute, seconds
        )
        # Later than the last transaction reads the same state as just after it.
        return cast(bytes, p64(min(u64(stamp.raw()), u64(last)) + 1))


def parse_tid(text: str, what: str) -> bytes:
    """A transaction id as ``history`` prints it (16 hex digits), or a usage error
    that starts with *what* (``--since X``, ``'X'``)."""
    if not _TID.fullmatch(text):
        raise UsageError(f"{what}: give a transaction id as history prints it (16 hex digits)")
    return bytes.fromhex(text)


def parse_when(text: str, now: float | None = None) -> When:
    """Parse WHEN: 16 hex digits (a transaction id), a moment (:func:`parse_moment`),
    or else perhaps a snapshot's name (resolved with the store open).
    """
    text = text.strip()
    if _TID.fullmatch(text):
        return When(text, tid=bytes.fromhex(text))
    forms = "an ISO time, an age (10m, 2d) or a transaction id (16 hex digits)"
    try:
        return When(text, moment=parse_moment(text, "--at", now, forms))
    except UsageError as exc:
        if not text:
            raise
        return When(text, unparsed=str(exc))


def nothing_then(when: When) -> NotFound:
    """The error for a time before the first transaction (or packed away)."""
    return NotFound(None, f"--at {when.text}: nothing is kept from then")


class HistoricalView(StoreView):
    """A :class:`StoreView` on a historical root that also checks rights now.

    Every check goes through :meth:`_allowed` (so through ``check_access``
    twice: then, in this view, and now, in :attr:`now`).
    """

    def __init__(self, root: StoreRoot, now: StoreView, tid: bytes) -> None:
        super().__init__(root, now.principal)
        self.now = now
        self.tid = tid

    @classmethod
    def for_user_at(
        cls, then: StoreRoot, now_root: StoreRoot, user_name: str, tid: bytes
    ) -> HistoricalView:
        """A view as of *then* for *user_name*'s account as it is now."""
        return cls(then, StoreView.for_user(now_root, user_name), tid)

    def _allowed(self, obj: StoreObject, perms: Perm) -> bool:
        if not super()._allowed(obj, perms):
            return False
        if self.principal.is_admin:  # check_access grants them all: skip finding it now
            return True
        return self.now._allowed(current_counterpart(self.now.root, obj), perms)

    def note_access(self, obj: StoreObject) -> bool:
        """Reading the past never advances ``cdmi_atime``."""
        return False

    def snapshot_tid(self) -> bytes:
        return self.tid
