"""Administration and login hardening over real SSH clients against a real server.

OpenSSH ``ssh`` (keys, and ``-tt`` in tmux for the no-echo prompts), PuTTY
``plink`` (password from a file, keyboard-interactive) and asyncssh clients
(password auth, connections kept open, a second loopback source address).

The brute-force test has a server of its own, so its throttled 127.0.0.1
slows down nothing else, started with short throttling delays
(``--auth-delay…``) and cheap argon2 so that fifty wrong passwords take
seconds: what it measures is the throttle, not the hashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.e2e import ADMIN_PASSWORD, OMSH, OmshServer, run
from tests.terminal import Terminal

pytestmark = pytest.mark.e2e

PROMPT = "admin@omsh:/$"
#: The brute-force server's throttle: first delay, cap per address, cap per user.
AUTH_DELAY, AUTH_DELAY_MAX, AUTH_DELAY_USER_MAX = 0.02, 0.1, 0.5
WRONG_PASSWORDS = 50
#: Concurrent attacking connections: under the server's cap of 10
#: unauthenticated connections per address, with room for ones still closing.
ATTACKERS = 6


# -- helpers ---------------------------------------------------------------------


def connect(
    server: OmshServer,
    user: str,
    *,
    password: str | None = None,
    key: Path | None = None,
    local_addr: tuple[str, int] | None = None,
) -> Any:
    """``asyncssh.connect`` by password, or by key (*key*, default the admin's)."""
    if password is not None:
        auth = {"password": password, "client_keys": None, "preferred_auth": "password"}
    else:
        auth = {"client_keys": [str(key or server.client_key)], "preferred_auth": "publickey"}
    return asyncssh.connect(
        "127.0.0.1",
        server.port,
        username=user,
        known_hosts=str(server.known_hosts()),
        agent_path=None,
        local_addr=local_addr,
        **auth,
    )


async def run_with_input(
    conn: asyncssh.SSHClientConnection, line: str, stdin: bytes
) -> asyncssh.SSHCompletedProcess:
    """``conn.run(line, input=stdin)``, except that a command refused before it
    reads its input may be gone before the input arrives: that is no error."""
    process = await conn.create_process(line, encoding=None)
    with contextlib.suppress(BrokenPipeError, ConnectionError):
        process.stdin.write(stdin)
        process.stdin.write_eof()
    return await process.wait()


def make_key(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A fresh ed25519 key pair for *name*: the private key file and the public line."""
    path = tmp_path / f"id_{name}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@e2e", "-f", str(path)],
        check=True,
    )
    return path, Path(f"{path}.pub").read_text().strip()


def create_user(server: OmshServer, name: str, password: str, *extra: str) -> None:
    result = server.ssh(
        f"user add {name} --password-stdin {' '.join(extra)}", stdin=password.encode()
    )
    assert result.status == 0, result.err


def audit_trail(server: OmshServer, *options: str) -> list[dict]:
    result = server.ssh(f"audit --json -n 100000 {' '.join(options)}")
    assert result.status == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def assert_secret_nowhere(server: OmshServer, *secrets: str) -> None:
    """No secret in the server's log or in the audit trail."""
    log = server.log.read_text(errors="replace")
    audit = json.dumps(audit_trail(server))
    for secret in secrets:
        assert secret not in log
        assert secret not in audit


def run_line(term: Terminal, line: str, secret: str | None = None) -> str:
    """Type *line* at the prompt, give *secret* to its two password prompts,
    and return the screen once the next prompt shows."""
    shown = term.screen().count(PROMPT)
    term.type(line)
    term.press("Enter")
    if secret is not None:
        for prompt in ("New password:", "Retype new password:"):
            term.wait_for(prompt)
            term.type(secret)
            term.press("Enter")
    return term.wait_for(lambda screen: screen.count(PROMPT) > shown)


def password_file(tmp_path: Path, name: str, password: str) -> Path:
    path = tmp_path / f"{name}.pw"
    path.write_text(password + "\n")
    return path


# -- creating users, logging in ----------------------------------------------------


def test_admin_creates_a_user_who_logs_in_with_ssh_and_plink(server, tmp_path):
    key, public = make_key(tmp_path, "dora")
    password = "dora-pw-3c1f9e"
    create_user(server, "dora", password, f"--key '{public}'")
    shown = json.loads(server.ssh("user show dora --json").out)
    assert (shown["password"], len(shown["keys"]), shown["admin"]) == (True, 1, False)

    by_key = server.ssh("whoami", user="dora", extra=("-i", str(key)))
    assert (by_key.status, by_key.out) == (0, "dora\n"), by_key.err
    by_password = server.plink(
        "whoami", user="dora", password_file=password_file(tmp_path, "dora", password)
    )
    assert (by_password.status, by_password.out) == (0, "dora\n"), by_password.err

    logins = [e for e in audit_trail(server, "--user dora") if e["action"] == "login"]
    assert [e["detail"].split()[1] for e in logins] == [
        "method=publickey",
        "method=keyboard-interactive",
    ]
    assert_secret_nowhere(server, password)


def test_offline_first_admin_then_serve_logs_in_with_that_password(tmp_path):
    """Fresh folder -> ``omsh user add admin --admin --password-stdin`` -> ``omsh serve``.

    The server's OMSH_ADMIN_PASSWORD (set by OmshServer) must not replace the
    operator's password: the store already has its administrator.
    """
    server = OmshServer(tmp_path / "fresh")
    password = "first-admin-pw-6b2e0d"
    argv = [OMSH, "user", "add", "admin", "--admin", "--password-stdin"]
    added = run(
        [*argv, "--key", f"{server.client_key}.pub", "--data", str(server.data)],
        stdin=f"{password}\n".encode(),
    )
    assert (added.status, added.out) == (
        0,
        "omsh: user admin created (groups: admins), home /home/admin\n",
    )
    server.start()
    try:
        assert "with password" not in server.log.read_text()

        async def logins() -> tuple[str, bool]:
            async with connect(server, "admin", password=password) as conn:
                result = await conn.run("whoami; pwd", check=True)
            try:
                async with connect(server, "admin", password=ADMIN_PASSWORD):
                    pass
            except asyncssh.PermissionDenied:
                return result.stdout, False
            return result.stdout, True

        out, env_password_works = asyncio.run(logins())
        assert out == "admin\n/home/admin\n"
        assert not env_password_works
        by_key = server.ssh("whoami")
        assert (by_key.status, by_key.out) == (0, "admin\n"), by_key.err
    finally:
        server.stop()


def test_interactive_user_add_and_passwd_never_show_or_keep_the_password(server, tmp_path):
    password, changed = "erin-pw-8d02b7", "erin-new-pw-51a6c4"
    term = Terminal(server.ssh_argv("-tt"), tmp_path)
    try:
        term.wait_for(PROMPT)
        run_line(term, "user add erin --password-prompt", password)
        run_line(term, "passwd erin", changed)
        screen = run_line(term, "history")
    finally:
        term.close()
    assert "user erin created" in screen and "password updated for erin" in screen
    assert password not in screen and changed not in screen
    listed = screen[screen.rindex(f"{PROMPT} history") :]
    assert "user add" not in listed and "passwd" not in listed

    refused = server.plink(
        "whoami", user="erin", password_file=password_file(tmp_path, "e1", password)
    )
    assert refused.status != 0
    accepted = server.plink(
        "whoami", user="erin", password_file=password_file(tmp_path, "e2", changed)
    )
    assert accepted.out == "erin\n"
    assert_secret_nowhere(server, password, changed)


def test_a_user_changes_their_own_password_with_the_current_one(server, tmp_path):
    create_user(server, "fay", "fay-pw-0b8e27")
    login = password_file(tmp_path, "fay", "fay-pw-0b8e27")
    # Standard input: the current password, then the new one.
    wrong = server.plink(
        "passwd", user="fay", password_file=login, stdin=b"not-it-7a1\nfay-next-pw-e05d\n"
    )
    assert wrong.status == 4
    assert "current password is incorrect" in wrong.err
    right = server.plink(
        "passwd", user="fay", password_file=login, stdin=b"fay-pw-0b8e27\nfay-next-pw-e05d\n"
    )
    assert right.status == 0, right.err
    actions = [e["action"] for e in audit_trail(server, "--user fay")]
    assert actions[-4:] == ["login", "passwd-failed", "login", "passwd"]
    assert_secret_nowhere(server, "fay-pw-0b8e27", "fay-next-pw-e05d", "not-it-7a1")


# -- escalation ------------------------------------------------------------------


ESCALATIONS = [
    ("user add mole --admin --password-stdin", b"mole-pw\n"),
    ("user del admin", b""),
    ("user list", b""),
    ("group add cabal", b""),
    ("group add-member admins mallory", b""),
    ("group rm-member admins admin", b""),
    ("chown -R mallory /", b""),
    ("passwd admin", b"mallory-pw-2f7d\nhijacked\n"),
    ("key add --user admin --key 'KEY'", b""),
    ("key rm --user admin 1", b""),
    ("audit", b""),
]


def test_escalation_attempts_over_ssh_are_refused_with_status_4(server, tmp_path):
    _, public = make_key(tmp_path, "mallory")
    create_user(server, "mallory", "mallory-pw-2f7d")
    before = server.ssh("user list --json; group list --json").out

    async def attempt_all() -> list[asyncssh.SSHCompletedProcess]:
        async with connect(server, "mallory", password="mallory-pw-2f7d") as conn:
            return [
                await run_with_input(conn, line.replace("KEY", public), stdin)
                for line, stdin in ESCALATIONS
            ]

    for (line, _), done in zip(ESCALATIONS, asyncio.run(attempt_all()), strict=True):
        assert done.exit_status == 4, (line, done.stderr)
        assert b"permission denied" in done.stderr, line
    after = server.ssh("user list --json; group list --json").out
    assert [json.loads(x)["name"] for x in after.splitlines()] == [
        json.loads(x)["name"] for x in before.splitlines()
    ]
    assert '"admins", "members": ["admin"]' in after
    assert server.ssh("whoami").status == 0  # admin's key still works


def test_a_removed_users_open_session_is_refused_on_its_next_command(server):
    create_user(server, "carol", "carol-pw-91ce0a")

    async def session() -> tuple[str, str, int | None, asyncssh.SSHCompletedProcess]:
        async with connect(server, "carol", password="carol-pw-91ce0a") as conn:
            process = await conn.create_process(encoding="utf-8")  # a script session, kept open
            process.stdin.write("whoami\n")
            first = await process.stdout.readline()
            removed = await asyncio.to_thread(server.ssh, "user del carol")
            assert removed.status == 0, removed.err
            process.stdin.write("ls /\n")
            error = await process.stderr.readline()
            process.stdin.write_eof()
            status = (await process.wait()).exit_status
            again = await conn.run("whoami")
            return first, error, status, again

    first, error, status, again = asyncio.run(session())
    assert first == "carol\n"
    assert error == "omsh: ls: account no longer exists\n"
    assert status == 4
    assert again.exit_status == 4

    async def log_in_again() -> None:
        async with connect(server, "carol", password="carol-pw-91ce0a"):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(log_in_again())


# -- brute force -----------------------------------------------------------------


@pytest.fixture(scope="module")
def throttled(tmp_path_factory) -> Iterator[OmshServer]:
    """A server of this module's own, with short throttling delays."""
    delays = (
        f"--auth-delay={AUTH_DELAY}",
        f"--auth-delay-max={AUTH_DELAY_MAX}",
        f"--auth-delay-user-max={AUTH_DELAY_USER_MAX}",
    )
    root = tmp_path_factory.mktemp("omsh-throttled")
    instance = OmshServer(root, delays, cheap_hashing=True).start()
    yield instance
    instance.stop()


async def _timed_login(
    server: OmshServer,
    password: str,
    local_addr: tuple[str, int] | None = None,
    gate: asyncio.Semaphore | None = None,
) -> tuple[float, bool]:
    """``(seconds, ok)`` of one password login as victim."""
    async with gate or asyncio.Semaphore():
        start = time.monotonic()
        try:
            async with connect(server, "victim", password=password, local_addr=local_addr):
                ok = True
        except asyncssh.PermissionDenied:
            ok = False
        return time.monotonic() - start, ok


def _probe(server: OmshServer, wrong: Path) -> dict[str, float]:
    """Seconds one refused login as victim takes by each method, alone.

    A wrong password by asyncssh (password) and by plink (keyboard-interactive),
    both failures; and OpenSSH offering a key victim does not have, which is
    not a failure but is throttled all the same.
    """

    def timed(attempt: Callable[[], object]) -> float:
        start = time.monotonic()
        attempt()
        return time.monotonic() - start

    def by_password() -> None:
        assert not asyncio.run(_timed_login(server, wrong.read_text().strip()))[1]

    def by_plink() -> None:
        assert server.plink("whoami", user="victim", password_file=wrong).status != 0

    def by_key() -> None:
        assert server.ssh("whoami", user="victim").status == 255

    return {
        "password": timed(by_password),
        "keyboard-interactive": timed(by_plink),
        "publickey": timed(by_key),
    }


def test_brute_force_is_slowed_down_but_never_locks_the_owner_out(throttled, tmp_path):
    """50 wrong passwords from 127.0.0.1: a probe of every method alone first, a
    concurrent barrage, the same probe alone last.  Alone, so that what is
    compared is the throttle and not the CPU the barrage competes for."""
    password = "victim-pw-6e3d11"
    create_user(throttled, "victim", password)
    wrong = password_file(tmp_path, "wrong", "guess-x9")
    barrage = WRONG_PASSWORDS - 4  # each probe tries two wrong passwords

    async def attack() -> list[tuple[float, bool]]:
        gate = asyncio.Semaphore(ATTACKERS)
        guesses = (f"guess-{n:02d}-x9" for n in range(barrage))
        return await asyncio.gather(*(_timed_login(throttled, g, gate=gate) for g in guesses))

    before = _probe(throttled, wrong)
    assert not any(ok for _, ok in asyncio.run(attack()))
    after = _probe(throttled, wrong)
    _, owner_ok = owner = asyncio.run(_timed_login(throttled, password, ("127.0.0.2", 0)))
    print(f"\nalone, before: {before}\nalone, after: {after}\nowner from 127.0.0.2: {owner}")
    for method, seconds in after.items():
        assert seconds > 1.5 * before[method], method
    # The owner, from another loopback address, waits at most the per-user cap.
    assert owner_ok
    assert owner[0] < AUTH_DELAY_USER_MAX + 2  # the cap, plus a handshake and argon2

    trail = audit_trail(throttled, "--user victim")
    failed = [(e["actor"], e["detail"]) for e in trail if e["action"] == "login-failed"]
    assert len(failed) == WRONG_PASSWORDS
    assert set(failed) == {
        ("ANONYMOUS@", "address=127.0.0.1 method=password"),
        ("ANONYMOUS@", "address=127.0.0.1 method=keyboard-interactive"),
    }
    assert trail[-1]["action"] == "login"
    assert trail[-1]["detail"] == "address=127.0.0.2 method=password"
    assert_secret_nowhere(throttled, password, "guess-")
