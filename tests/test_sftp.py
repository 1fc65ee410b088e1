"""SFTP and SCP with real OpenSSH and asyncssh clients against a real ``omsh serve``.

Everything runs on 127.0.0.1.  Uploads are checked byte for byte and against
the ``cdmi_hash`` the server computed while the bytes streamed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from tests.e2e import OMSH, OmshServer, run

pytestmark = pytest.mark.e2e

ODD_NAMES = ["with space.txt", "é à ü.txt", "日本語.bin", "emoji 🎉.txt", "it's.txt", "-dash"]


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stat_json(server: OmshServer, path: str) -> dict:
    result = server.ssh(f"stat --json '{path}'")
    assert result.status == 0, result.err
    return json.loads(result.out)


def names_in(server: OmshServer, path: str) -> list[str]:
    result = server.ssh(f"ls --json '{path}'")
    assert result.status == 0, result.err
    return [json.loads(line)["name"] for line in result.out.splitlines()]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def staged_uploads(server: OmshServer) -> list[Path]:
    return list((server.data / "blobs" / "tmp").glob("upload-*"))


@pytest.fixture(scope="module")
def bob(server: OmshServer) -> str:
    """User bob (same client key as admin) owning /home/bob; added while stopped."""
    server.stop()
    added = run(
        [
            OMSH,
            "user",
            "add",
            "bob",
            "--key",
            f"{server.client_key}.pub",
            "--data",
            str(server.data),
        ]
    )
    assert added.status == 0, added.err  # user add makes /home/bob
    server.start()
    return "bob"


def test_sftp_starts_in_the_home(server, bob, tmp_path):
    """OpenSSH sftp's ``pwd`` is realpath("."): the home; relative paths land there."""
    local = random_file(tmp_path / "rel.bin", 100)
    result = server.sftp(f"pwd\nput {local} rel.bin\n", user=bob)
    assert result.status == 0, result.err
    assert "Remote working directory: /home/bob" in result.out
    assert stat_json(server, "/home/bob/rel.bin")["cdmi_owner"] == "bob"
    assert "Remote working directory: /\n" in server.sftp("pwd\n").out  # admin: no home


def test_sftp_batch_session(server, tmp_path):
    local = random_file(tmp_path / "photo.jpg", 300_000)
    result = server.sftp(
        f"""
        mkdir /batch
        mkdir /batch/album
        put {local} /batch/album/photo.jpg
        ls -l /batch/album
        rename /batch/album/photo.jpg /batch/album/renamed.jpg
        get /batch/album/renamed.jpg {tmp_path}/back.jpg
        ls /batch/album
        chmod 600 /batch/album/renamed.jpg
        df /batch
        -rmdir /batch/album
        rm /batch/album/renamed.jpg
        rmdir /batch/album
        ls -la /batch
        """
    )
    assert result.status == 0, result.err
    assert (tmp_path / "back.jpg").read_bytes() == local.read_bytes()
    listing = result.out.split("sftp> ls -l /batch/album\n")[1].splitlines()[0]
    assert listing.startswith("-rw-r--r--")
    assert " admin " in listing
    assert " 300000 " in listing
    assert listing.endswith(" photo.jpg")
    assert "/batch/album/renamed.jpg" in result.out
    assert 'rmdir "/batch/album": Failure' in result.err  # not empty yet
    assert result.out.rstrip().endswith("..")  # /batch is empty: only . and ..
    assert names_in(server, "/batch") == []


def test_sftp_errors_are_reported(server, tmp_path):
    local = random_file(tmp_path / "x", 10)
    result = server.sftp(
        f"""
        -get /no/such/file {tmp_path}/y
        -put {local} /no/such/container/x
        -rm /no/such/file
        -mkdir /
        """
    )
    assert result.status == 0, result.err
    assert 'File "/no/such/file" not found.' in result.err
    assert 'dest open "/no/such/container/x": No such file' in result.err
    assert "remote delete /no/such/file: No such file" in result.err
    assert 'remote mkdir "/": Failure' in result.err
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize("protocol", ["sftp", "legacy"])
def test_scp_round_trip_matches_the_stored_hash(server, tmp_path, protocol):
    flags = ["-O"] if protocol == "legacy" else []
    server.ssh(f"mkdir -p /scp/{protocol}")
    local = random_file(tmp_path / "data.bin", 1_234_567)
    up = server.scp(*flags, "-p", str(local), server.remote(f"/scp/{protocol}/"))
    assert up.status == 0, up.err
    assert stat_json(server, f"/scp/{protocol}/data.bin")["cdmi_hash"] == sha256(local)
    back = tmp_path / "back.bin"
    down = server.scp(*flags, server.remote(f"/scp/{protocol}/data.bin"), str(back))
    assert down.status == 0, down.err
    assert back.read_bytes() == local.read_bytes()


@pytest.mark.parametrize("protocol", ["sftp", "legacy"])
def test_scp_recursive_folder(server, tmp_path, protocol):
    flags = ["-O"] if protocol == "legacy" else []
    tree = tmp_path / "folder"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.txt": b"a\n",
        "sub/b.bin": os.urandom(70_000),
        "sub/deeper/c": b"",
        "sub/deeper/d é.txt": b"unicode\n",
    }
    for relative, data in files.items():
        (tree / relative).write_bytes(data)
    server.ssh(f"mkdir -p /scp-r/{protocol}")
    up = server.scp(*flags, "-r", "-p", str(tree), server.remote(f"/scp-r/{protocol}/"))
    assert up.status == 0, up.err
    assert names_in(server, f"/scp-r/{protocol}/folder/sub") == ["b.bin", "deeper"]
    down = server.scp(*flags, "-r", server.remote(f"/scp-r/{protocol}/folder"), str(tmp_path / "b"))
    assert down.status == 0, down.err
    for relative, data in files.items():
        assert (tmp_path / "b" / relative).read_bytes() == data


def test_20_mib_file_round_trip(server, tmp_path):
    local = random_file(tmp_path / "big.bin", 20 * 1024 * 1024)
    back = tmp_path / "back.bin"
    result = server.sftp(f"mkdir /big\nput {local} /big/big.bin\nget /big/big.bin {back}\n")
    assert result.status == 0, result.err
    stored = stat_json(server, "/big/big.bin")
    assert stored["cdmi_size"] == 20 * 1024 * 1024
    assert stored["cdmi_hash"] == sha256(local) == sha256(back)


def test_scp_over_an_existing_object_replaces_it(server, tmp_path):
    """OpenSSH scp writes in place and then truncates: a shorter file must win."""
    server.ssh("mkdir -p /replace")
    long, short = random_file(tmp_path / "long", 100_000), random_file(tmp_path / "short", 10)
    object_id = None
    for local in (long, short):
        result = server.scp(str(local), server.remote("/replace/f"))
        assert result.status == 0, result.err
        stored = stat_json(server, "/replace/f")
        assert stored["cdmi_hash"] == sha256(local)
        object_id = object_id or stored["objectid"]
        assert stored["objectid"] == object_id  # replaced in place, as put does


def test_reput_resumes_an_upload(server, tmp_path):
    whole = random_file(tmp_path / "whole", 500_000)
    head = tmp_path / "head"
    head.write_bytes(whole.read_bytes()[:200_000])
    result = server.sftp(f"mkdir /resume\nput {head} /resume/f\nreput {whole} /resume/f\n")
    assert result.status == 0, result.err
    assert stat_json(server, "/resume/f")["cdmi_hash"] == sha256(whole)


@pytest.mark.parametrize("victim", ["sftp", "connection"])
def test_upload_killed_midway_leaves_no_object(server, tmp_path, victim):
    """Killing sftp makes its ssh send EOF; killing both drops the connection."""
    server.ssh("mkdir -p /killed")
    local = random_file(tmp_path / "big.bin", 16 * 1024 * 1024)
    client = subprocess.Popen(
        server.sftp_argv("-b", "-", "-l", "8000"),  # ~1 MB/s: some 16 s
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert client.stdin is not None
        client.stdin.write(f"put {local} /killed/{victim}.bin\n".encode())
        client.stdin.close()
        wait_for(
            lambda: any(path.stat().st_size > 0 for path in staged_uploads(server)),
            timeout=30,
            what="the upload to be under way",
        )
        if victim == "sftp":
            client.kill()
        else:
            os.killpg(client.pid, signal.SIGKILL)
        client.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(client.pid, signal.SIGKILL)
    wait_for(lambda: not staged_uploads(server), timeout=15, what="the upload to be discarded")
    assert server.ssh(f"stat /killed/{victim}.bin").status == 3
    assert f"{victim}.bin" not in names_in(server, "/killed")


def test_other_users_read_but_do_not_write(server, bob, tmp_path):
    local = random_file(tmp_path / "admins.bin", 1000)
    mine = random_file(tmp_path / "bobs.bin", 1000)
    result = server.sftp(f"mkdir /admins\nmkdir /admins/empty\nput {local} /admins/a.bin\n")
    assert result.status == 0, result.err
    assert server.ssh(f"acl grant /admins {bob} read --inherit").status == 0
    result = server.sftp(
        f"""
        get /admins/a.bin {tmp_path}/copy.bin
        -put {mine} /admins/b.bin
        -mkdir /admins/sub
        -rm /admins/a.bin
        -rename /admins/a.bin /home/bob/a.bin
        -rmdir /admins/empty
        put {mine} /home/bob/b.bin
        """,
        user=bob,
    )
    assert result.status == 0, result.err
    assert result.err.count("Permission denied") == 5, result.err
    assert (tmp_path / "copy.bin").read_bytes() == local.read_bytes()
    assert names_in(server, "/admins") == ["a.bin", "empty"]
    assert stat_json(server, "/home/bob/b.bin")["cdmi_owner"] == "bob"
    legacy = server.scp("-O", str(mine), server.remote("/admins/c.bin", user=bob))
    assert legacy.status != 0
    assert "permission denied" in legacy.err.lower()
    assert names_in(server, "/admins") == ["a.bin", "empty"]


def test_odd_names(server, tmp_path):
    server.ssh("mkdir -p /odd")
    sources = {}
    for index, name in enumerate(ODD_NAMES):
        sources[name] = tmp_path / name
        sources[name].write_bytes(f"{index} {name}\n".encode())
    batch = "".join(f'put "{tmp_path}/{name}" "/odd/{name}"\n' for name in ODD_NAMES)
    result = server.sftp(batch + "ls -1 /odd\n")
    assert result.status == 0, result.err
    assert sorted(names_in(server, "/odd")) == sorted(ODD_NAMES)
    listed = result.out.split("sftp> ls -1 /odd\n")[1].splitlines()
    assert sorted(listed) == sorted(f"/odd/{name}" for name in ODD_NAMES)
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    for name in ("with space.txt", "日本語.bin"):
        down = server.scp(server.remote(f"/odd/{name}"), str(fetched))
        assert down.status == 0, down.err
        assert (fetched / name).read_bytes() == sources[name].read_bytes()


def test_asyncssh_client_rename_semantics_and_parallel_reads(server, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 5)

    async def scenario() -> None:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                server.port,
                username="admin",
                client_keys=[str(server.client_key)],
                known_hosts=str(server.known_hosts()),
            ) as connection,
            connection.start_sftp_client() as client,
        ):
            await client.makedirs("/async/dir")
            async with client.open("/async/a", "wb") as stream:
                await stream.write(payload)
            async with client.open("/async/b", "wb") as stream:
                await stream.write(b"b")
            with pytest.raises(asyncssh.SFTPError):
                await client.rename("/async/b", "/async/a")  # plain rename keeps the target
            await client.posix_rename("/async/b", "/async/a")
            async with client.open("/async/a", "rb") as stream:
                assert await stream.read() == b"b"
            await client.posix_rename("/async/a", "/async/dir/a")
            assert await client.listdir("/async/dir") == [".", "..", "a"]
            assert await client.isdir("/async/dir")
            async with client.open("/async/big", "wb") as stream:
                await stream.write(payload)
            async with client.open("/async/big", "rb") as stream:
                assert await stream.read(len(payload), 0) == payload  # parallel requests
            await client.get("/async/big", str(tmp_path / "big"))  # asks for data ranges
            assert (tmp_path / "big").read_bytes() == payload
            async with client.open("/async/holes", "wb") as stream:
                await stream.write(b"later", 100)  # as on a file system: a hole of zeros
            async with client.open("/async/holes", "rb") as stream:
                assert await stream.read() == bytes(100) + b"later"

    asyncio.run(scenario())
