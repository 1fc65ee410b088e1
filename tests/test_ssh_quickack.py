"""Prompt ACKs on SSH connections (``acknowledge_promptly``)."""

from __future__ import annotations

import socket

import pytest

from omsh.ssh.server import acknowledge_promptly


class FakeConnection:
    """Just what acknowledge_promptly uses of an asyncssh connection."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.received: list[tuple[bytes, object]] = []

    def get_extra_info(self, name: str) -> socket.socket | None:
        assert name == "socket"
        return self.sock

    def data_received(self, data: bytes, datatype: object = None) -> None:
        self.received.append((data, datatype))


@pytest.fixture
def tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="Linux only")
def test_every_read_still_reaches_asyncssh_on_tcp(tcp_pair):
    server, _ = tcp_pair
    conn = FakeConnection(server)
    acknowledge_promptly(conn)
    assert "data_received" in vars(conn)  # shadowed on the instance
    conn.data_received(b"one")
    conn.data_received(b"two", 1)
    assert conn.received == [(b"one", None), (b"two", 1)]


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="Linux only")
def test_a_closed_socket_does_not_break_reading(tcp_pair):
    server, _ = tcp_pair
    conn = FakeConnection(server)
    acknowledge_promptly(conn)
    server.close()
    conn.data_received(b"late")
    assert conn.received == [(b"late", None)]


def test_other_sockets_are_left_alone():
    left, right = socket.socketpair()
    try:
        for sock in (left, None):
            conn = FakeConnection(sock)
            acknowledge_promptly(conn)
            assert "data_received" not in vars(conn)
    finally:
        left.close()
        right.close()
