"""Log-in sessions for browsers: a random cookie naming a server-side entry.

The cookie holds only a random token (256 bits); the table keeps, under a
keyed hash of it, the user, the password hash verified at log-in (as a
:class:`~omsh.cdmi.auth.Caller`, so each request's transaction checks it is
still the stored one: a removed user or a changed password ends the
session at its next request), the session's CSRF token and its expiry.
Sessions end after :data:`IDLE_SECONDS` without a request, after
:data:`LIFETIME_SECONDS` in any case, at log-out, and with the process.

Forms are protected twice: a hidden field must equal the session's CSRF
token (compared in constant time) and the request's ``Origin`` (or, failing
that, ``Referer``) must be this very site.  The cookie is ``HttpOnly``,
``SameSite=Strict``, ``Path=/``, and ``Secure`` when the listener is TLS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from omsh.cdmi.auth import Caller

COOKIE = "omsh_session"
IDLE_SECONDS = 3600.0
LIFETIME_SECONDS = 12 * 3600.0
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Session:
    """One logged-in browser."""

    caller: Caller
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class Sessions:
    """The session table: tokens in, sessions out; the oldest go first when full."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._table: OrderedDict[bytes, Session] = OrderedDict()

    def _digest(self, token: str) -> bytes:
        return hashlib.blake2b(token.encode(), key=self._key, digest_size=32).digest()

    def open(self, caller: Caller) -> tuple[str, Session]:
        """A new session for *caller*: its cookie token and the entry."""
        token = secrets.token_urlsafe(32)
        session = Session(caller)
        self._table[self._digest(token)] = session
        while len(self._table) > MAX_SESSIONS:
            self._table.popitem(last=False)
        return token, session

    def find(self, request: web.BaseRequest) -> Session | None:
        """The live session the request's cookie names, if any (and note the request)."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        digest = self._digest(token)
        session = self._table.get(digest)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.seen > IDLE_SECONDS or now - session.started > LIFETIME_SECONDS:
            del self._table[digest]
            return None
        session.seen = now
        self._table.move_to_end(digest)
        return session

    def is_open(self, session: Session) -> bool:
        """Whether *session* is still live: not logged out, closed or expired."""
        now = time.monotonic()
        if now - session.seen > IDLE_SECONDS or now - session.started > LIFETIME_SECONDS:
            return False
        return any(entry is session for entry in self._table.values())

    def close(self, session: Session) -> None:
        """End *session* (log-out, or its user is gone)."""
        for digest, entry in list(self._table.items()):
            if entry is session:
                del self._table[digest]

    def __len__(self) -> int:
        return len(self._table)


def set_cookie(request: web.BaseRequest, response: web.StreamResponse, token: str) -> None:
    """The session cookie: script-proof, same-site only, TLS-only under TLS."""
    response.set_cookie(
        COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.secure
    )


def clear_cookie(request: web.BaseRequest, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", secure=request.secure, samesite="Strict")


def own_origin(request: web.BaseRequest) -> str:
    return f"{'https' if request.secure else 'http'}://{request.host}"


def same_origin(request: web.BaseRequest) -> bool:
    """Whether a form came from this site: ``Origin``, else ``Referer``, must be ours.

    A request with neither is refused: browsers send ``Origin`` with every
    POST, so only something other than a page of ours leaves both out.
    """
    expected = own_origin(request)
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("Referer")
    if referer is None:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" == expected
