"""One-shot commands over real SSH clients against a real ``omsh serve``.

OpenSSH ``ssh`` with key auth, PuTTY ``plink`` with a password (from a file,
never argv) and an asyncssh client, all on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import asyncssh
import pytest

from tests.e2e import ADMIN_PASSWORD, Result

pytestmark = pytest.mark.e2e


def test_key_auth_exec_with_exit_status_and_json(server):
    assert server.ssh("mkdir -p /e2e/photos").status == 0
    put = server.ssh("put /e2e/photos/a.txt --meta n=5", stdin=b"hello\n")
    assert put.status == 0, put.err
    listing = server.ssh("ls -l --json /e2e/photos")
    assert listing.status == 0, listing.err
    entries = [json.loads(line) for line in listing.out.splitlines()]
    assert [e["name"] for e in entries] == ["a.txt"]
    assert entries[0]["cdmi_size"] == 6
    assert entries[0]["cdmi_hash"] == hashlib.sha256(b"hello\n").hexdigest()
    cat = server.ssh("cat /e2e/photos/a.txt")
    assert (cat.status, cat.stdout) == (0, b"hello\n")


def test_no_escape_codes_without_a_pty(server):
    server.ssh("mkdir -p /e2e/plain/sub")
    result = server.ssh("ls -l /e2e/plain; stat /e2e/plain; tree /e2e/plain")
    assert result.status == 0, result.err
    assert "\x1b" not in result.out
    assert "\r\n" not in result.out


def test_exit_statuses_follow_the_design(server):
    assert server.ssh("ls /no/such/path").status == 3
    result = server.ssh("no-such-command")
    assert result.status == 3
    assert result.err.strip() == "omsh: no-such-command: command not found (try 'help')"
    usage = server.ssh("ls --no-such-flag")
    assert usage.status == 2
    assert usage.err.startswith("omsh: ls:")
    server.ssh("mkdir -p /e2e/exists")
    assert server.ssh("mkdir /e2e/exists").status == 5


def test_errors_are_one_line_never_a_traceback(server):
    server.ssh("mkdir -p /e2e/full/inner")
    for command in (
        "cat /e2e/full",  # a container
        "rm /e2e/full",  # not empty, no -r
        "cd /e2e/nowhere",
        "ls 'unterminated",
        "mkdir /e2e/full/..",
        "mkdir /e2e/" + "x" * 300,
    ):
        result = server.ssh(command)
        assert result.status != 0, command
        assert len(result.err.strip().splitlines()) == 1, (command, result.err)
        assert "Traceback" not in result.err
        assert result.err.startswith("omsh:"), (command, result.err)


def test_several_commands_separated_by_semicolons(server):
    result = server.ssh("mkdir -p /e2e/multi; cd /e2e/multi; pwd")
    assert result.status == 0, result.err
    assert result.out.strip() == "/e2e/multi"


def test_odd_names_round_trip(server):
    server.ssh("mkdir -p /e2e/odd")
    for name in ("with space.txt", "naïve ☃.txt", "quote'd", "-dash", "#hash"):
        quoted = "'" + name.replace("'", "'\\''") + "'"
        put = server.ssh(f"put /e2e/odd/{quoted}", stdin=name.encode())
        assert put.status == 0, (name, put.err)
        cat = server.ssh(f"cat /e2e/odd/{quoted}")
        assert cat.stdout == name.encode(), name
    names = {json.loads(line)["name"] for line in server.ssh("ls --json /e2e/odd").out.splitlines()}
    assert "naïve ☃.txt" in names


def test_paths_above_the_root_stay_at_the_root(server):
    result = server.ssh("cd /../../..; pwd; cd /e2e/../../..; pwd")
    assert result.out.split() == ["/", "/"]


def test_plink_with_password(server):
    result = server.plink("mkdir -p /e2e/putty; pwd; whoami")
    assert result.status == 0, result.err
    assert result.out.split()[-2:] == ["/", "admin"]


def test_asyncssh_client_streams_stdin_and_stdout(server):
    payload = os.urandom(3 * 1024 * 1024 + 17)

    async def scenario() -> tuple[int, bytes]:
        async with asyncssh.connect(
            "127.0.0.1",
            server.port,
            username="admin",
            password=ADMIN_PASSWORD,
            known_hosts=str(server.known_hosts()),
            client_keys=None,
        ) as connection:
            done = await connection.run("put /e2e/async.bin", input=payload, encoding=None)
            assert done.exit_status == 0, done.stderr
            back = await connection.run("cat /e2e/async.bin", encoding=None)
            return back.exit_status, back.stdout

    server.ssh("mkdir -p /e2e")
    status, data = asyncio.run(scenario())
    assert status == 0
    assert data == payload


def test_cat_range_and_head(server):
    server.ssh("mkdir -p /e2e", stdin=b"")
    server.ssh("put /e2e/digits", stdin=b"0123456789")
    assert server.ssh("cat --range 2-4 /e2e/digits").stdout == b"234"
    assert server.ssh("head -c 3 /e2e/digits").stdout == b"012"


def test_client_vanishing_mid_upload_leaves_no_object(server):
    server.ssh("mkdir -p /e2e/aborted")
    upload = subprocess.Popen(
        [*server.ssh_argv(), "put /e2e/aborted/big"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert upload.stdin is not None
    chunk = os.urandom(1024 * 1024)
    for _ in range(50):  # half of a 100 MiB upload
        upload.stdin.write(chunk)
    upload.stdin.flush()
    upload.send_signal(signal.SIGKILL)
    upload.wait()
    deadline = time.monotonic() + 20
    staging = server.data / "blobs" / "tmp"
    while time.monotonic() < deadline:
        leftovers = [p for p in staging.iterdir() if p.name.startswith("upload-")]
        if not leftovers:
            break
        time.sleep(0.2)
    assert not leftovers, leftovers
    assert server.ssh("stat /e2e/aborted/big").status == 3
    assert server.ssh("ls /e2e/aborted").out == ""


def test_restart_keeps_host_key_and_data(server):
    server.ssh("mkdir -p /e2e/durable")
    server.ssh("put /e2e/durable/file", stdin=b"survives restarts")
    before = server.ssh("stat --json /e2e/durable/file")
    host_key = server.host_key
    server.restart()
    assert server.host_key == host_key
    # known_hosts is pinned to the key file; StrictHostKeyChecking=yes would refuse a new key.
    after = server.ssh("stat --json /e2e/durable/file")
    assert after.status == 0, after.err
    assert json.loads(after.out)["objectid"] == json.loads(before.out)["objectid"]
    assert server.ssh("cat /e2e/durable/file").stdout == b"survives restarts"


def test_rm_r_in_exec_mode_never_asks_and_rm_i_reads_answers_from_stdin(server):
    assert server.ssh("mkdir -p /e2e/gone/sub; put /e2e/gone/sub/f").status == 0
    done = server.ssh("rm -r /e2e/gone")
    assert (done.status, done.out, done.err) == (0, "", "")
    assert server.ssh("mkdir -p /e2e/ask; put /e2e/ask/a; put /e2e/ask/b").status == 0
    done = server.ssh("rm -i /e2e/ask/a /e2e/ask/b", stdin=b"y\nn\n")
    assert done.status == 0, done.err
    assert done.err == "remove /e2e/ask/a? [y/N] remove /e2e/ask/b? [y/N] "
    assert server.ssh("ls /e2e/ask").out == "b\n"


def test_many_commands_at_once_over_one_shared_connection(server):
    """README's advice to scripts: 20 ``ssh`` at once would meet the cap on
    connections still logging in (10 per address); sharing one connection
    (OpenSSH's ControlMaster) runs them all as sessions of it."""
    control = tempfile.mkdtemp(prefix="cm-", dir="/tmp")  # a socket path must be short
    shared = (
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={control}/%C",
        "-o",
        "ControlPersist=30",
    )
    try:
        assert server.ssh("mkdir /shared", extra=shared).status == 0  # the master

        def put(n: int) -> Result:
            return server.ssh(f"put /shared/o{n:02d}", stdin=str(n).encode(), extra=shared)

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(put, range(20)))
        assert [(r.status, r.err) for r in results] == [(0, "")] * 20
        assert server.ok("ls /shared").split() == [f"o{n:02d}" for n in range(20)]
    finally:
        subprocess.run([*server.ssh_argv(*shared, "-O", "exit")], capture_output=True, timeout=30)
        shutil.rmtree(control, ignore_errors=True)
