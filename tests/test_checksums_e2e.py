"""The hash commands and the no-pipes rule over real OpenSSH ``ssh`` (and rclone).

Every digest is compared with coreutils run locally on the same bytes, under
the same names, so "coreutils' format" means byte-identical output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e import OmshServer, Result, run
from tests.terminal import Terminal

pytestmark = pytest.mark.e2e

#: Names under /ck (and the local copy): sizes around the 256 KiB read chunk,
#: an empty object, and names rclone escapes.
CONTENT = {
    "empty": b"",
    "small.txt": b"hello\n",
    "big.bin": os.urandom(3 * 256 * 1024 + 5),
    "with space (1) & more.bin": os.urandom(1000),
}
REMOTE = "/ck"
#: What every refused line starts with on stderr.
NO_PIPES = "omsh: '|' is not supported: omsh has no pipes or redirections"


@pytest.fixture(scope="module")
def local(server: OmshServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CONTENT as local files, and the same objects in /ck on the server.

    Also a second user, carol, who may read /ck but not /ck/secret.
    """
    server.add_users({"carol": []})
    folder = tmp_path_factory.mktemp("local")
    assert server.ssh(f"mkdir -p {REMOTE}").status == 0
    for name, data in CONTENT.items():
        (folder / name).write_bytes(data)
        put = server.ssh(f"put '{REMOTE}/{name}'", stdin=data)
        assert put.status == 0, put.err
    assert server.ssh(f"put {REMOTE}/secret", stdin=b"classified").status == 0
    granted = server.ssh(f"acl grant {REMOTE} carol r --inherit; acl deny {REMOTE}/secret carol r")
    assert granted.status == 0, granted.err
    return folder


def coreutils(tool: str, *names: str, cwd: Path, stdin: bytes = b"") -> str:
    """What the local coreutils *tool* prints for *names* (or stdin) in *cwd*."""
    done = subprocess.run([tool, *names], cwd=cwd, input=stdin, capture_output=True, check=True)
    return done.stdout.decode()


def quoted(name: str) -> str:
    return "'" + name.replace("'", "'\\''") + "'"


@pytest.mark.parametrize("tool", ["sha256sum", "sha1sum", "md5sum"])
def test_output_is_byte_identical_to_coreutils(server, local, tool) -> None:
    names = sorted(CONTENT)
    result = server.ssh(f"cd {REMOTE}; {tool} {' '.join(map(quoted, names))}")
    assert result.status == 0, result.err
    assert result.out == coreutils(tool, *names, cwd=local)
    assert result.err == ""


@pytest.mark.parametrize("tool", ["sha256sum", "sha1sum", "md5sum"])
def test_standard_input_is_hashed_like_coreutils(server, local, tool) -> None:
    data = CONTENT["big.bin"]
    result = server.ssh(tool, stdin=data)
    assert (result.status, result.out) == (0, coreutils(tool, cwd=local, stdin=data))
    dash = server.ssh(f"{tool} -", stdin=data)
    assert dash.out == result.out


def test_empty_stdin_from_dev_null_gives_the_empty_digests(server) -> None:
    """rclone's probe: ``md5sum`` and ``sha1sum`` with nothing on stdin."""
    for tool, empty in (
        ("md5sum", "d41d8cd98f00b204e9800998ecf8427e"),
        ("sha1sum", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ):
        with open(os.devnull, "rb") as nothing:
            done = subprocess.run(
                [*server.ssh_argv(), tool], stdin=nothing, capture_output=True, timeout=60
            )
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"{empty}  -\n".encode()


def test_rclone_style_escaped_path(server, local) -> None:
    """rclone 1.60 puts a backslash before every character but ``[A-Za-z0-9_.,:/@-]``."""
    name = "with space (1) & more.bin"
    escaped = "".join(ch if ch.isalnum() or ch in "_.,:/@-" else "\\" + ch for ch in name)
    result = server.ssh(f"md5sum {REMOTE}/{escaped}")
    assert result.status == 0, result.err
    expected = coreutils("md5sum", name, cwd=local).split()[0]
    assert result.out == f"{expected}  {REMOTE}/{name}\n"


# -- bad input ----------------------------------------------------------------


def one_error_line(result: Result, status: int, message: str) -> None:
    assert result.status == status, result.err
    assert result.err == message + "\n"


def test_bad_inputs(server, local) -> None:
    one_error_line(
        server.ssh(f"md5sum --check {REMOTE}/empty"),
        2,
        "omsh: md5sum: unrecognized arguments: --check",
    )
    one_error_line(server.ssh(f"sha1sum {REMOTE}"), 1, f"omsh: sha1sum: {REMOTE}: is a container")
    missing = server.ssh(f"sha256sum {REMOTE}/nope {REMOTE}/small.txt")
    one_error_line(missing, 3, f"omsh: sha256sum: {REMOTE}/nope: not found")
    assert missing.out == coreutils("sha256sum", "small.txt", cwd=local).replace(
        "small.txt", f"{REMOTE}/small.txt"
    )


@pytest.mark.parametrize("tool", ["sha256sum", "md5sum"])
def test_a_path_the_user_may_not_read(server, local, tool) -> None:
    assert server.ssh(f"cat {REMOTE}/secret", user="carol").status == 4
    refused = server.ssh(f"{tool} {REMOTE}/secret", user="carol")
    one_error_line(refused, 4, f"omsh: {tool}: {REMOTE}/secret: permission denied")
    assert refused.out == ""
    assert server.ssh(f"{tool} {REMOTE}/small.txt", user="carol").status == 0


# -- no pipes -----------------------------------------------------------------


def test_a_pipe_is_one_usage_error_and_runs_nothing(server, local) -> None:
    listing = server.ssh("ls / | grep a")
    assert (listing.status, listing.out) == (2, "")
    assert listing.err == (
        f"{NO_PIPES} (quote the '|' if it is part of a name); "
        "pipe on your side instead: ssh HOST 'ls /' | grep a\n"
    )
    stored = server.ssh(f"put {REMOTE}/piped | cat", stdin=b"data")
    assert stored.status == 2
    assert stored.err.startswith(NO_PIPES)
    assert server.ssh(f"ls {REMOTE}/piped").status == 3


@pytest.mark.parametrize(
    "line",
    [f"cat {REMOTE}/small.txt > copy", f"put {REMOTE}/x < file", "pwd && ls", "ls $(pwd)"],
)
def test_other_operators_are_refused_before_anything_runs(server, local, line) -> None:
    result = server.ssh(line)
    assert (result.status, result.out) == (2, "")
    assert result.err.startswith("omsh: '") and "omsh has no" in result.err
    assert len(result.err.splitlines()) == 1


def test_quoted_operators_are_ordinary(server, local) -> None:
    name = f"{REMOTE}/a|b>c"
    assert server.ssh(f"put '{name}'", stdin=b"piped name").status == 0
    result = server.ssh(f"cat {REMOTE}/a\\|b\\>c; query 'size > 9' --in {REMOTE} --count")
    assert result.status == 0, result.err
    assert result.out.startswith("piped name")


def test_the_interactive_shell_gives_the_same_message(server, local, tmp_path) -> None:
    terminal = Terminal(server.ssh_argv("-tt"), tmp_path, width=250)
    try:
        terminal.wait_for("admin@omsh:/$")
        terminal.type("ls / | grep a")
        terminal.press("Enter")
        screen = terminal.wait_for(lambda s: s.rstrip().count("admin@omsh:/$") >= 2)
    finally:
        terminal.close()
    exec_message = server.ssh("ls / | grep a").err.strip()
    assert exec_message in screen.splitlines()


# -- rclone -------------------------------------------------------------------


def test_rclone_md5sum_and_sha1sum(server, local, tmp_path) -> None:
    """rclone's sftp backend probes ``md5sum``/``sha1sum`` over exec, then runs them per file.

    The probe runs first on one file: rclone 1.60 reports "hash unsupported"
    for files hashed while its probe is still running (against sshd too),
    and saves the accepted commands in its config for the runs after.
    """
    rclone = shutil.which("rclone")
    if rclone is None:
        pytest.skip("rclone is not installed (make test installs it)")
    config = tmp_path / "rclone.conf"
    config.write_text(
        f"[omsh]\ntype = sftp\nhost = 127.0.0.1\nport = {server.port}\nuser = admin\n"
        f"key_file = {server.client_key}\nknown_hosts_file = {server.known_hosts()}\n"
    )
    names = sorted(CONTENT)
    # --files-from keeps /ck/secret (and anything else there) out of it.
    listed = tmp_path / "names.txt"
    listed.write_text("".join(f"{name}\n" for name in names))
    probe = run([rclone, "--config", str(config), "md5sum", f"omsh:{REMOTE}/small.txt"])
    assert probe.out == coreutils("md5sum", "small.txt", cwd=local), probe.err
    saved = config.read_text()
    assert "md5sum_command = md5sum\n" in saved
    assert "sha1sum_command = sha1sum\n" in saved
    for tool in ("md5sum", "sha1sum"):
        argv = [rclone, "--config", str(config), tool, "--files-from", str(listed)]
        result = run([*argv, f"omsh:{REMOTE}"], timeout=120)
        assert result.status == 0, result.err
        local_lines = coreutils(tool, *names, cwd=local).splitlines()
        assert sorted(result.out.splitlines()) == sorted(local_lines)
