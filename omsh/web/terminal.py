"""The web terminal: the same interactive shell as ``ssh``, in a browser tab.

``GET /_omsh/terminal`` is a page with xterm.js (fetched from the npm
registry by ``make venv``, pinned in ``assets.json``) and a little glue
(``static/terminal.js``); ``/_omsh/terminal/socket`` is its WebSocket.

The socket does not run a shell of its own: it opens an SSH session to this
very server on loopback, as the logged-in user, and relays bytes both ways.
So the browser gets exactly the shell OpenSSH users get — completion,
colours, the pager, Ctrl-C, window size changes — with no second
implementation to drift.  The SSH log-in uses a key pair made for this one
connection, which the :class:`~omsh.authn.Authenticator` accepts for that
user only while it is being used to log in (no secret of the user's is
kept or sent); the server's own host key is the only one trusted.

The socket needs the browser session's cookie, its CSRF token and our own
``Origin``; it is closed as soon as that session ends (log-out, expiry, a
removed user or a changed password, which also end the browser session),
checked every :data:`SESSION_CHECK` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources

import asyncssh
from aiohttp import WSMsgType, web

from omsh.authn import Authenticator
from omsh.cdmi.protocol import HTTPProblem
from omsh.web.sessions import Session, Sessions, own_origin

log = logging.getLogger(__name__)

#: How often a running terminal checks that its browser session is still open.
SESSION_CHECK = 1.0
#: Static files the terminal page loads, by name below ``/_omsh/static/``.
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}
DEFAULT_SIZE = (80, 24)
MAX_SIZE = 1000


@dataclass(frozen=True)
class TerminalTarget:
    """Where this process's SSH server listens, and its host key (to trust nothing else)."""

    host: str
    port: int
    host_key: asyncssh.SSHKey

    @property
    def address(self) -> str:
        """Loopback when the server listens on every address."""
        return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)


def static_file(name: str) -> web.Response:
    """``/_omsh/static/NAME``: the glue, or a library fetched from the npm registry."""
    if name.startswith("/") or ".." in name.split("/"):
        raise HTTPProblem(404, "no such file")
    suffix = name[name.rfind(".") :]
    if suffix not in STATIC_TYPES:
        raise HTTPProblem(404, "no such file")
    found = resources.files("omsh.web").joinpath("static", *name.split("/"))
    if not found.is_file():
        raise HTTPProblem(404, "not installed here: run 'make venv' (it fetches xterm.js)")
    return web.Response(
        body=found.read_bytes(),
        content_type=STATIC_TYPES[suffix],
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def page_policy(request: web.BaseRequest) -> str:
    """The terminal page's Content-Security-Policy: our scripts, our socket, nothing else.

    xterm.js sets element styles, hence inline styles (never inline scripts).
    """
    socket = own_origin(request).replace("http", "ws", 1)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"connect-src 'self' {socket}; frame-ancestors 'none'"
    )


def _size(request: web.BaseRequest) -> tuple[int, int]:
    try:
        cols, rows = int(request.query["cols"]), int(request.query["rows"])
    except (KeyError, ValueError):
        return DEFAULT_SIZE
    if not (0 < cols <= MAX_SIZE and 0 < rows <= MAX_SIZE):
        return DEFAULT_SIZE
    return cols, rows


class WebTerminal:
    """Relays browser terminals to SSH sessions on this server's own port."""

    def __init__(
        self,
        authenticator: Authenticator,
        sessions: Sessions,
        target: TerminalTarget,
        still_valid: Callable[[Session], Awaitable[bool]],
    ) -> None:
        self.authenticator = authenticator
        self.sessions = sessions
        self.target = target
        #: Whether a session's user still exists with the password it logged in with.
        self.still_valid = still_valid

    async def socket(self, request: web.BaseRequest, session: Session) -> web.StreamResponse:
        """The WebSocket of one terminal: checked, then relayed until either side ends."""
        if not session.csrf_matches(request.query.get("csrf")):
            raise HTTPProblem(403, "the terminal needs this session's token")
        if request.headers.get("Origin") != own_origin(request):
            raise HTTPProblem(403, "the terminal is opened from this site only")
        user = session.caller.user
        if user is None:  # sessions are for users who logged in; never anonymous
            raise HTTPProblem(403, "the terminal needs a log-in")
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await socket.prepare(request)
        try:
            connection = await self._log_in(user)
        except (OSError, asyncssh.Error) as error:
            log.warning("web terminal for %r: cannot open a shell: %s", user, error)
            await socket.close(code=1011, message=b"cannot open a shell")
            return socket
        async with connection:
            process = await connection.create_process(
                term_type="xterm-256color", term_size=_size(request), encoding=None
            )
            await self._relay(socket, process, session)
        await socket.close()
        return socket

    async def _log_in(self, user: str) -> asyncssh.SSHClientConnection:
        """An SSH connection as *user*, with a key pair made for it and accepted once."""
        key = asyncssh.generate_private_key("ssh-ed25519")
        fingerprint = key.get_fingerprint("sha256")
        self.authenticator.grant_one_time_key(user, fingerprint)
        try:
            return await asyncssh.connect(
                self.target.address,
                self.target.port,
                username=user,
                client_keys=[key],
                known_hosts=([self.target.host_key], [], []),
                agent_path=None,
                config=None,
                preferred_auth="publickey",
            )
        finally:
            self.authenticator.revoke_one_time_key(user, fingerprint)

    async def _relay(
        self,
        socket: web.WebSocketResponse,
        process: asyncssh.SSHClientProcess[bytes],
        session: Session,
    ) -> None:
        """Bytes down, keystrokes and sizes up; stop when any side or the session ends."""

        async def down(stream: asyncssh.SSHReader[bytes]) -> None:
            while data := await stream.read(1 << 16):
                await socket.send_bytes(data)

        async def up() -> None:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    sent = json.loads(message.data)
                    if "input" in sent:
                        process.stdin.write(str(sent["input"]).encode("utf-8"))
                    elif "resize" in sent:
                        cols, rows = (int(number) for number in sent["resize"])
                        if 0 < cols <= MAX_SIZE and 0 < rows <= MAX_SIZE:
                            process.change_terminal_size(cols, rows)

        async def watch_session() -> None:
            while self.sessions.is_open(session) and await self.still_valid(session):
                await asyncio.sleep(SESSION_CHECK)

        tasks = [
            asyncio.ensure_future(work)
            for work in (down(process.stdout), down(process.stderr), up(), watch_session())
        ]
        try:
            await asyncio.wait(tasks[:1] + tasks[2:], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            process.close()
