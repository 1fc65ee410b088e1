"""The asyncssh server: authentication, connection limits, start-up.

Every connection must authenticate (publickey, password or
keyboard-interactive, the last for PuTTY); credentials are checked by the
shared :class:`~omsh.authn.Authenticator`, so throttling and the audit of
failed logins cover every method, and every login is audited with the
method that succeeded.  Unauthenticated connections are capped overall and
per address and dropped after a login timeout.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from collections import Counter
from collections.abc import Callable, Sequence

import asyncssh
from asyncssh.session import DataType

from omsh.authn import Authenticator
from omsh.ssh.context import ServerContext
from omsh.ssh.session import handle_session

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 60
MAX_UNAUTHENTICATED = 64
MAX_UNAUTHENTICATED_PER_ADDRESS = 10
# Ordered by the server's preference; ChaCha20 is left out because
# asyncssh's implementation of it is several times slower than AES-GCM.
ENCRYPTION_ALGS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
]
SERVER_VERSION = "omsh"
WINDOW = 4 * 1024 * 1024


def acknowledge_promptly(conn: asyncssh.SSHServerConnection) -> None:
    """ACK every read at once instead of after Linux's 40 ms delayed-ACK timer.

    OpenSSH's ``ssh`` leaves Nagle on for sessions without a PTY, so when it
    sends two small packets back to back (NEWKEYS then SERVICE_REQUEST, say)
    the second waits for the first one's ACK, which the kernel delays when we
    have nothing to answer yet: one or two 40 ms stalls in every handshake,
    most of an ``ssh host CMD`` round trip (median 70 ms before, 25 ms after,
    in bench/).  ``TCP_QUICKACK`` is not sticky, so it is set again after
    each read, once asyncssh has handled the data (an answer it wrote carries
    the ACK anyway).  Linux only; elsewhere, or on a non-TCP socket, nothing
    changes.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None)
    sock = conn.get_extra_info("socket")
    if quickack is None or sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    handle = conn.data_received

    def data_received(data: bytes, datatype: DataType = None) -> None:
        handle(data, datatype)
        with contextlib.suppress(OSError):  # the connection may have closed meanwhile
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)

    # The transport calls its protocol's data_received: shadow it on this instance.
    conn.data_received = data_received  # type: ignore[method-assign]


class ConnectionLimits:
    """Counts connections that have not authenticated yet."""

    def __init__(
        self,
        total: int = MAX_UNAUTHENTICATED,
        per_address: int = MAX_UNAUTHENTICATED_PER_ADDRESS,
    ) -> None:
        self.total = total
        self.per_address = per_address
        self._pending: Counter[str] = Counter()

    def admit(self, address: str) -> bool:
        if sum(self._pending.values()) >= self.total:
            return False
        if self._pending[address] >= self.per_address:
            return False
        self._pending[address] += 1
        return True

    def release(self, address: str) -> None:
        self._pending[address] -= 1
        if self._pending[address] <= 0:
            del self._pending[address]


class OmshSSHServer(asyncssh.SSHServer):
    """One instance per connection."""

    def __init__(self, context: ServerContext, limits: ConnectionLimits) -> None:
        self._context = context
        self._limits = limits
        self._address = "?"
        self._username = ""
        self._pending = False
        #: The method of the latest attempt: the one that succeeded, at the end.
        self._method = "none"

    @property
    def _auth(self) -> Authenticator:
        return self._context.authenticator

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        acknowledge_promptly(conn)
        peer = conn.get_extra_info("peername") or ("?", 0)
        self._address = str(peer[0])
        if not self._limits.admit(self._address):
            log.warning("refusing connection from %s: too many unauthenticated", self._address)
            conn.close()
            return
        self._pending = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()

    def _release(self) -> None:
        if self._pending:
            self._pending = False
            self._limits.release(self._address)

    def begin_auth(self, username: str) -> bool:
        self._username = username
        return True  # authentication is always required

    async def auth_completed(self) -> None:
        """Forgive the account and audit the login (asyncssh awaits this coroutine)."""
        self._release()
        await self._auth.login_succeeded(self._username, self._address, self._method)

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        self._method = "password"
        return await self._auth.check_password(username, password, self._address)

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(
        self, username: str, lang: str, submethods: str
    ) -> tuple[str, str, str, list[tuple[str, bool]]]:
        return "", "", "", [("Password: ", False)]

    async def validate_kbdint_response(self, username: str, responses: Sequence[str]) -> bool:
        self._method = "keyboard-interactive"
        if len(responses) != 1:
            return False
        return await self._auth.check_password(
            username, responses[0], self._address, "keyboard-interactive"
        )

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        self._method = "publickey"
        fingerprint = key.get_fingerprint("sha256")
        return await self._auth.check_key(username, fingerprint, self._address)


async def start_ssh_server(
    context: ServerContext,
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    *,
    sftp_factory: Callable[[asyncssh.SSHServerChannel[bytes]], asyncssh.SFTPServer] | None = None,
) -> asyncssh.SSHAcceptor:
    limits = ConnectionLimits()
    options: dict[str, object] = {}
    if sftp_factory is not None:
        options.update(sftp_factory=sftp_factory, allow_scp=True)
    return await asyncssh.create_server(
        functools.partial(OmshSSHServer, context, limits),
        host,
        port,
        server_host_keys=[host_key],
        process_factory=functools.partial(handle_session, context),
        encoding=None,
        line_editor=False,
        login_timeout=LOGIN_TIMEOUT,
        encryption_algs=ENCRYPTION_ALGS,
        server_version=SERVER_VERSION,
        window=WINDOW,
        keepalive_interval=60,
        keepalive_count_max=3,
        **options,
    )
