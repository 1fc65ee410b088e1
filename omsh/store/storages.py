"""What the ZODB storage under a store can do: whether it keeps the past.

FileStorage, MappingStorage (``memory://``) and ZEO in front of them keep
every revision until a pack; RelStorage does only when configured
history-preserving.  Everything that reads the past (``--at``,
``history``, ``/.snapshots``, ``restore``, ``undo``) and ``pack`` asks
:func:`require_history` first, so a history-free storage says so in one
line instead of failing on a missing record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast

import ZODB

from omsh.errors import OmshError

#: RelStorage's DB-level storage is not thread-safe: one poll at a time.
_polling = threading.Lock()

NO_HISTORY = "this storage keeps no history (RelStorage with keep-history off)"


class NoHistoryKept(OmshError):
    """The storage keeps only the current state: there is no past to read or pack."""

    def __init__(self) -> None:
        super().__init__(NO_HISTORY)


def keeps_history(db: ZODB.DB) -> bool:
    """Whether *db*'s storage keeps old revisions until a pack.

    RelStorage says so in its ``keep_history`` property (its
    ``keep-history`` option; its ``supportsUndo`` is only there when true).
    FileStorage and MappingStorage always keep history, and so does ZEO in
    front of them.  (A ZEO client cannot see how the server's storage is
    configured: a ZEO server in front of a history-free RelStorage is not
    detected here.)
    """
    keep = getattr(db.storage, "keep_history", None)
    return True if keep is None else bool(keep)


def require_history(db: ZODB.DB) -> None:
    """Refuse with :class:`NoHistoryKept` unless *db* keeps history."""
    if not keeps_history(db):
        raise NoHistoryKept()


def _poller(db: ZODB.DB) -> Callable[[], object] | None:
    """RelStorage's way to learn of other processes' commits (a database query), if any."""
    return cast("Callable[[], object] | None", getattr(db.storage, "poll_invalidations", None))


def learns_commits_by_query(db: ZODB.DB) -> bool:
    """Whether :func:`last_transaction` asks a database (RelStorage): not for an event loop."""
    return _poller(db) is not None


def last_transaction(db: ZODB.DB) -> bytes:
    """The last transaction committed to *db*'s storage, by this process or any other.

    ``db.lastTransaction()`` asks the storage object ``ZODB.DB`` holds.
    FileStorage, MappingStorage and ZEO keep it current; RelStorage's
    (its connections work on instances of their own) learns of commits only
    when polled, and would otherwise stay at the moment of its last poll:
    ``--at`` a recent moment would read an old state, ``--at`` a recent
    transaction and ``DB.open(before=…)`` would be "in the future", and a
    live ``watch`` would see nothing new.  So RelStorage is polled first;
    call this before opening the past too.
    """
    poll = _poller(db)
    if poll is not None:
        with _polling:
            poll()
    return cast(bytes, db.lastTransaction())
