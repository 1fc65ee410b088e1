"""The ACL rules of tests/acl_world.py over real SSH, against a real ``omsh serve``.

Users are created with ``omsh user add --key`` while the server is stopped,
the tree is built by admin over SSH, and every row of the matrix runs as each
person: over one asyncssh connection per person (a fresh exec channel per
command, as ``ssh host CMD`` makes), and a sample with the OpenSSH client.
Rows that change something get a copy of the tree of their own, at ``/wN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import asyncssh
import pytest

from tests.acl_world import READS, ROOT_SETUP, SETUP, WRITES, cases, relocate
from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e

T = TypeVar("T")
Outcome = tuple[int, str, str]
#: Stdin of every row: what ``put`` stores.
CONTENT = b"new content\n"


class Connections:
    """One open asyncssh connection per user, driven from synchronous tests.

    The connections live on an event loop in a thread of their own, so that
    parametrized tests can share them; each command is a new exec channel.
    """

    def __init__(self, server: OmshServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.open: dict[str, asyncssh.SSHClientConnection] = {}

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    async def connect(self, user: str) -> asyncssh.SSHClientConnection:
        """A new connection as *user* with the client key (not cached)."""
        return await asyncssh.connect(
            "127.0.0.1",
            self.server.port,
            username=user,
            client_keys=[str(self.server.client_key)],
            known_hosts=str(self.server.known_hosts()),
        )

    async def _run(self, user: str, line: str, stdin: bytes) -> Outcome:
        if user not in self.open:
            self.open[user] = await self.connect(user)
        process = await self.open[user].create_process(line, encoding=None)
        # run(input=b"") would never send EOF; a command that does not read
        # its input may be done and gone before it arrives.
        with contextlib.suppress(BrokenPipeError, ConnectionError):
            process.stdin.write(stdin)
            process.stdin.write_eof()
        done = await process.wait()
        stdout, stderr = bytes(done.stdout or b""), bytes(done.stderr or b"")
        status = done.exit_status if done.exit_status is not None else -1
        return status, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")

    def run(self, user: str, line: str, stdin: bytes = b"") -> Outcome:
        return self.call(self._run(user, line, stdin))

    def close(self) -> None:
        async def close_all() -> None:
            for connection in self.open.values():
                connection.close()
                await connection.wait_closed()

        self.call(close_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def build_tree(ssh: Connections, top: str) -> None:
    """The world's tree at *top*, in one exec as admin (objects get empty content)."""
    line = "; ".join(relocate(command, top) for command, _ in SETUP)
    status, _, err = ssh.run("admin", line)
    assert (status, err) == (0, ""), err


@pytest.fixture(scope="module")
def ssh(server: OmshServer) -> Iterator[Connections]:
    """alice, bob and carol in their groups; the root ACL and /org built by admin."""
    server.add_users({"alice": ["staff"], "bob": ["interns"], "carol": ["staff", "interns"]})
    connections = Connections(server)
    for line in ROOT_SETUP:
        assert connections.run("admin", line)[0] == 0
    build_tree(connections, "/org")
    yield connections
    connections.close()


_TOPS = itertools.count(1)


def check(outcome: Outcome, expected: int, what: str) -> None:
    status, out, err = outcome
    assert status == expected, f"{what} -> {status}: {err}"
    if expected == 4:
        assert out == "" and err.strip().endswith("permission denied"), (out, err)


@pytest.mark.parametrize(("line", "user", "expected"), cases(READS))
def test_reads(ssh, line, user, expected):
    check(ssh.run(user, line, CONTENT), expected, f"{user}: {line}")


@pytest.mark.parametrize(("line", "user", "expected"), cases(WRITES))
def test_writes(ssh, line, user, expected):
    top = f"/w{next(_TOPS)}"
    build_tree(ssh, top)
    check(ssh.run(user, relocate(line, top), CONTENT), expected, f"{user}: {line}")


@pytest.mark.parametrize(
    ("user", "expected"), [("admin", 0), ("alice", 0), ("bob", 4), ("carol", 4)]
)
def test_openssh_client_gets_the_same_answers(server, ssh, user, expected):
    result = server.ssh("cat /org/dept/team/secret/plan", user=user)
    check((result.status, result.out, result.err), expected, f"ssh {user}")


def test_grant_over_ssh_then_use_it_as_the_user(server, ssh):
    top = f"/w{next(_TOPS)}"
    build_tree(ssh, top)
    assert server.ssh(f"put {top}/dept/team/bobs", stdin=b"x", user="bob").status == 4
    assert server.ssh(f"acl grant {top}/dept/team bob w").status == 0
    assert server.ssh(f"put {top}/dept/team/bobs", stdin=b"x", user="bob").status == 0
    assert server.ssh(f"cat {top}/dept/team/bobs", user="bob").out == "x"


def test_a_revoked_grant_takes_effect_in_an_open_session(ssh):
    top = f"/w{next(_TOPS)}"
    build_tree(ssh, top)
    plan = f"{top}/dept/team/secret/plan"
    assert ssh.run("admin", f"put {plan}", b"the plan\n")[0] == 0
    assert ssh.run("admin", f"acl grant {plan} bob r")[0] == 0

    async def scenario() -> tuple[Outcome, Outcome, str, asyncssh.SSHCompletedProcess]:
        async with await ssh.connect("bob") as bob, await ssh.connect("admin") as admin:
            before = await bob.run(f"cat {plan}")
            # A script session (no PTY): one shell, commands read from stdin.
            script = await bob.create_process()
            script.stdin.write(f"cat {plan}\n")
            first_line = await script.stdout.readline()
            revoked = await admin.run(f"acl revoke {plan} bob")
            assert revoked.exit_status == 0, revoked.stderr
            after = await bob.run(f"cat {plan}")
            script.stdin.write(f"cat {plan}\n")
            script.stdin.write_eof()
            finished = await script.wait()
        return (
            (before.exit_status, str(before.stdout), str(before.stderr)),
            (after.exit_status, str(after.stdout), str(after.stderr)),
            first_line,
            finished,
        )

    before, after, first_line, finished = ssh.call(scenario())
    assert before[0] == 0
    check(after, 4, "cat after the revoke, same connection")
    assert first_line == "the plan\n"  # before the revoke, in the same session
    assert finished.exit_status == 4
    assert str(finished.stderr).rstrip().endswith(f"{plan}: permission denied")
