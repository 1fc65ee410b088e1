"""``GET /cdmi_changes``: the change feed (``watch``) as server-sent events.

An omsh extension, not CDMI 1.1.1.  The answer is ``text/event-stream``
(the WHATWG server-sent events format, what a browser's ``EventSource``
reads): one event per change, ``data:`` the same JSON object ``watch
--json`` prints, and ``id:`` the transaction id on the last event of each
transaction, so a client that reconnects with ``Last-Event-ID`` (as
``EventSource`` does by itself) resumes after it, missing nothing.  While
nothing happens, an ``id:`` line alone every :data:`KEEPALIVE` seconds
moves the resume point past transactions the caller may not see and finds
a client that went away.

Parameters (all optional; anything else is 400): ``since=TXN`` (resume
after that transaction; else ``Last-Event-ID``; else from now), ``path=/x``
(only that subtree; it must exist and be visible), ``query=EXPR`` (``watch
--query``), ``until=now`` (stop at the last transaction committed when the
request came, after an ``event: until`` whose data is ``{"until": TXN}``).
The caller is authenticated and every event filtered as in ``watch``
(:mod:`omsh.store.changes`).  Refusals come before the stream starts, as
ordinary CDMI errors: 400 for a malformed parameter or a ``since`` in the
future, 404 for a path not found or a ``since`` packed away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from aiohttp import web

from omsh.cdmi.auth import StaleCredentials
from omsh.cdmi.context import Backend, Call
from omsh.cdmi.protocol import Target, fail
from omsh.store.changes import Change, Feed, PollInterval, watch_scope
from omsh.store.model import StoreRoot
from omsh.store.query import parse_query
from omsh.store.view import StoreView

#: The URI of the feed (a name CDMI never lets a client create: ``cdmi_``).
CHANGES_PATH = "/cdmi_changes"
#: Seconds between ``id:`` lines on a quiet stream.
KEEPALIVE = 15.0
PARAMETERS = frozenset({"since", "path", "query", "until"})


def names_feed(target: Target) -> bool:
    """Whether the request URI is the change feed's."""
    return target.kind == "path" and target.path == CHANGES_PATH


class Streams:
    """The feeds being streamed now, so a server stopping can end them at once."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        self.stopping.set()


def _event(change: Change, last_of_transaction: bool) -> bytes:
    data = json.dumps(change.document(), ensure_ascii=False)
    resume = f"id: {change.tid}\n" if last_of_transaction else ""
    return f"{resume}data: {data}\n\n".encode()


def _events(changes: list[Change]) -> bytes:
    """The events of *changes*, each transaction's last one carrying its id."""
    return b"".join(
        _event(change, index + 1 == len(changes) or changes[index + 1].tid != change.tid)
        for index, change in enumerate(changes)
    )


async def serve(backend: Backend, call: Call, streams: Streams) -> web.StreamResponse:
    """Open the caller's feed (refusals are CDMI errors), then stream it."""
    request = call.request
    if request.method != "GET":
        fail(405, "the change feed is read with GET", {"Allow": "GET"})
    params = request.query
    unknown = sorted(set(params) - PARAMETERS)
    if unknown:
        fail(400, f"unknown parameter {unknown[0][:40]!r}; give since, path, query or until")
    until_now = params.get("until")
    if until_now not in (None, "now"):
        fail(400, "until takes only 'now'")
    query = parse_query(params["query"]) if "query" in params else None
    since = params.get("since") or request.headers.get("Last-Event-ID") or None
    path = params.get("path")

    def viewer(root: StoreRoot) -> StoreView:
        return StoreView(root, call.caller.principal(root))

    def open_feed(view: StoreView) -> Feed:
        scope = watch_scope(view, path, "/")
        return Feed(backend.store, viewer, scope=scope, query=query, since=since)

    feed = await backend.view(call, open_feed)
    until = feed.last if until_now else None
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", **call.headers()}
    )
    await response.prepare(request)
    with contextlib.suppress(ConnectionError, StaleCredentials):  # gone, or a new password
        await _stream(backend, feed, response, until, streams)
    return response


async def _stream(
    backend: Backend,
    feed: Feed,
    response: web.StreamResponse,
    until: bytes | None,
    streams: Streams,
) -> None:
    quiet_since = time.monotonic()
    intervals = PollInterval()

    async def pending() -> bool:
        return feed.pending() if feed.polls_cheaply else await backend.in_thread(feed.pending)

    while not streams.stopping.is_set():
        changes = await backend.in_thread(lambda: feed.poll(until))
        if changes:
            await response.write(_events(changes))
            quiet_since = time.monotonic()
        if until is not None and feed.reached(until):
            until_data = json.dumps({"until": feed.position})
            await response.write(f"event: until\ndata: {until_data}\n\n".encode())
            return
        intervals.reset()
        while until is None and not streams.stopping.is_set() and not await pending():
            if time.monotonic() - quiet_since >= KEEPALIVE:
                await response.write(f"id: {feed.position}\n\n".encode())
                quiet_since = time.monotonic()
            await asyncio.sleep(next(intervals))
