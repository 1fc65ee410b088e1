"""SFTP requests omsh accepts that asyncssh's own parser refuses.

rclone (Debian's 1.60, and every release built on github.com/pkg/sftp's
concurrent ``File.ReadFrom``) pads the last ``SSH_FXP_WRITE`` of a file: the
packet is as long as a full 32 KiB buffer, but its data string holds only
the bytes that are left, and the stale rest of the buffer follows.  Seen on
the wire for a 40,000-byte file: the second write is a 32,788-byte request
whose data length says 7,232, followed by 25,536 bytes of leftovers.

OpenSSH's ``sftp-server`` skips whatever a request leaves unparsed, so the
upload works there.  asyncssh (2.24.1, ``SFTPServerHandler._process_write``
calls ``SSHPacket.check_end``) answers ``SSH_FX_BAD_MESSAGE`` "Unexpected data
at end of packet", and rclone then fails every file over 32 KiB.  Strictly
asyncssh is right, the client is wrong; but a server is judged by the clients
people have, so omsh does what sshd does, for write requests only.

:func:`tolerate_padded_writes` puts a wrapper in front of asyncssh's write
handler: it finds the end of the data string, and when bytes follow it hands
asyncssh a copy of the request without them.  Well-formed writes go through
untouched and uncopied.  asyncssh offers no per-server hook for this, so the
wrapper goes into its handler table, once, by an explicit call when omsh sets
up its SFTP server (see :func:`omsh.ssh.sftp.sftp_factory`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from asyncssh.constants import FXP_WRITE
from asyncssh.packet import SSHPacket
from asyncssh.sftp import SFTPServerHandler

log = logging.getLogger(__name__)

_Handler = Callable[[SFTPServerHandler, SSHPacket], Awaitable[object]]

#: The version of the packet after the handle and offset: uint32 length, data.
_LENGTH_SIZE = 4
_OFFSET_SIZE = 8


def padded_write_end(payload: bytes, start: int) -> int | None:
    """Where a write request's data string ends, if bytes follow it; else None.

    *payload* is the whole request, *start* where its handle string begins.
    A request too short to hold what its lengths say is left alone, so that
    asyncssh reports it as it always does.
    """
    if len(payload) < start + _LENGTH_SIZE:
        return None
    handle_length = int.from_bytes(payload[start : start + _LENGTH_SIZE], "big")
    data_at = start + _LENGTH_SIZE + handle_length + _OFFSET_SIZE
    if len(payload) < data_at + _LENGTH_SIZE:
        return None
    data_length = int.from_bytes(payload[data_at : data_at + _LENGTH_SIZE], "big")
    end = data_at + _LENGTH_SIZE + data_length
    return end if end < len(payload) else None


def _without_padding(write: _Handler) -> _Handler:
    async def process_write(handler: SFTPServerHandler, packet: SSHPacket) -> object:
        payload = packet.get_full_payload()
        start = len(packet.get_consumed_payload())
        end = padded_write_end(payload, start)
        if end is not None:
            log.debug("ignoring %d bytes after an SFTP write's data", len(payload) - end)
            packet = SSHPacket(payload[:end])
            packet.get_bytes(start)
        return await write(handler, packet)

    process_write.omsh_tolerates_padding = True  # type: ignore[attr-defined]
    return process_write


def tolerate_padded_writes() -> None:
    """Accept write requests with bytes after their data, as sshd does (idempotent)."""
    handlers = SFTPServerHandler._packet_handlers
    current = handlers[FXP_WRITE]
    if current is not None and not getattr(current, "omsh_tolerates_padding", False):
        handlers[FXP_WRITE] = _without_padding(current)
