"""omsh accepts the padded SFTP write requests rclone sends, as sshd does."""

from __future__ import annotations

import asyncio

from asyncssh.constants import FXP_WRITE
from asyncssh.packet import String as SSHString
from asyncssh.packet import UInt32, UInt64
from asyncssh.sftp import SFTPServerHandler

from omsh.ssh.sftp_wire import padded_write_end, tolerate_padded_writes


def write_request(data: bytes, padding: bytes = b"") -> tuple[bytes, int]:
    """An SSH_FXP_WRITE request as asyncssh's handler sees it, and where its handle starts."""
    header = bytes([FXP_WRITE]) + UInt32(7)
    return header + SSHString(b"\0\0\0\1") + UInt64(32768) + SSHString(data) + padding, len(header)


def test_a_well_formed_write_is_left_alone():
    payload, start = write_request(b"x" * 100)
    assert padded_write_end(payload, start) is None


def test_the_end_of_a_padded_write_is_found():
    """The shape seen from rclone 1.60: a full buffer's length, a shorter data string."""
    payload, start = write_request(b"d" * 7232, b"\x8f" * 25536)
    assert padded_write_end(payload, start) == len(payload) - 25536


def test_a_truncated_request_is_left_for_asyncssh_to_refuse():
    payload, start = write_request(b"d" * 100)
    assert padded_write_end(payload[:-10], start) is None
    assert padded_write_end(payload[: start + 2], start) is None


def test_asyncssh_gets_the_request_without_the_padding():
    from asyncssh.packet import SSHPacket

    tolerate_padded_writes()
    tolerate_padded_writes()  # idempotent: wraps once
    wrapper = SFTPServerHandler._packet_handlers[FXP_WRITE]
    assert wrapper.omsh_tolerates_padding  # type: ignore[attr-defined]

    seen: list[tuple[int, bytes]] = []

    class Handler:
        """What asyncssh's write handler reads: the open file and the server."""

        _version = 3
        _file_handles = {b"\0\0\0\1": "file"}
        logger = type("Logger", (), {"debug1": staticmethod(lambda *args: None)})()

        class _server:
            @staticmethod
            def write(file_obj: object, offset: int, data: bytes) -> int:
                seen.append((offset, data))
                return len(data)

    payload, start = write_request(b"d" * 7232, b"\x8f" * 25536)
    packet = SSHPacket(payload)
    packet.get_bytes(start)  # type and request id, as asyncssh consumed them
    asyncio.run(wrapper(Handler(), packet))
    assert seen == [(32768, b"d" * 7232)]
