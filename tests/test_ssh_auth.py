"""Authentication over real clients: wrong passwords, unknown users, keys.

A module of its own with its own server: failed logins from 127.0.0.1 are
throttled, which would slow down every other test sharing the server.
"""

from __future__ import annotations

import asyncio

import asyncssh
import pytest

from tests.e2e import ADMIN_PASSWORD

pytestmark = pytest.mark.e2e


def _login(server, username: str, password: str) -> bool:
    async def attempt() -> bool:
        try:
            async with asyncssh.connect(
                "127.0.0.1",
                server.port,
                username=username,
                password=password,
                known_hosts=str(server.known_hosts()),
                client_keys=None,
                preferred_auth="password",
            ):
                return True
        except asyncssh.PermissionDenied:
            return False

    return asyncio.run(attempt())


def test_wrong_password_is_refused(server, tmp_path):
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not-the-password\n")
    result = server.plink("whoami", password_file=wrong)
    assert result.status != 0
    assert "admin" not in result.out


def test_unknown_user_and_wrong_password_look_the_same(server):
    assert not _login(server, "nobody", ADMIN_PASSWORD)
    assert not _login(server, "admin", "wrong")


def test_right_password_still_works_after_failures(server):
    assert _login(server, "admin", ADMIN_PASSWORD)


def test_key_not_authorized_for_another_user(server):
    result = server.ssh("whoami", user="nobody")
    assert result.status == 255
    assert "Permission denied" in result.err


def test_host_key_file_is_private(server):
    key = server.keys / "ssh_host_ed25519_key"
    assert key.stat().st_mode & 0o777 == 0o600
