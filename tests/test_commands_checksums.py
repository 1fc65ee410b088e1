"""sha256sum, sha1sum and md5sum through the shell: coreutils' format, stdin, errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess

import pytest

from omsh.commands.base import ShellSession
from omsh.commands.checksums import checksum_line
from omsh.commands.output import BufferOutput
from omsh.commands.runtime import Shell
from omsh.store.content import CHUNK_SIZE
from omsh.store.view import StoreView
from tests.test_commands_content import blob_filename

HELLO = b"hello\n"
BIG = os.urandom(2 * CHUNK_SIZE + 7)  # more than two chunks
ALGORITHMS = ("sha256", "sha1", "md5")
EMPTY = {name: hashlib.new(name).hexdigest() for name in ALGORITHMS}


def digest(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


@pytest.fixture
def files(admin) -> dict[str, bytes]:
    """Objects under /d, by path: small, empty, big, and names that need quoting."""
    content = {
        "/d/small": HELLO,
        "/d/empty": b"",
        "/d/big": BIG,
        "/d/with space": b"spaced",
        "/d/file (1) & x.txt": b"odd",
    }
    admin.ok("mkdir /d")
    for path, data in content.items():
        quoted = "'" + path + "'"
        admin.ok(f"put {quoted}", stdin=data)
    return content


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_objects_in_coreutils_format(admin, files, algorithm) -> None:
    out = admin.ok(f"{algorithm}sum /d/small /d/empty /d/big")
    assert out == "".join(
        f"{digest(algorithm, files[path])}  {path}\n" for path in ("/d/small", "/d/empty", "/d/big")
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_paths_are_shown_as_typed(admin, files, algorithm) -> None:
    admin.ok("cd /d")
    small = digest(algorithm, files["/d/small"])
    assert admin.ok(f"{algorithm}sum small ../d/small") == f"{small}  small\n{small}  ../d/small\n"
    # Wildcards expand to the names they match, as the shell would pass them.
    out = admin.ok(f"{algorithm}sum sm*")
    assert out == f"{small}  small\n"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "typed",
    [
        "'/d/with space'",
        "/d/with\\ space",  # rclone 1.60's escaping: a backslash before specials
        '"/d/with space"',  # newer rclone's double quotes
    ],
)
def test_quoted_and_escaped_paths(admin, files, algorithm, typed) -> None:
    out = admin.ok(f"{algorithm}sum {typed}")
    assert out == f"{digest(algorithm, b'spaced')}  /d/with space\n"


def test_rclone_escaping_of_shell_specials(admin, files) -> None:
    """rclone escapes everything but ``[A-Za-z0-9_.,:/@-]``: ``( ) & space`` included."""
    out = admin.ok("md5sum /d/file\\ \\(1\\)\\ \\&\\ x.txt")
    assert out == f"{digest('md5', b'odd')}  /d/file (1) & x.txt\n"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("data", [b"", b"some input\n", BIG])
@pytest.mark.parametrize("operands", ["", " -"])
def test_standard_input(admin, algorithm, data, operands) -> None:
    out = admin.ok(f"{algorithm}sum{operands}", stdin=data)
    assert out == f"{digest(algorithm, data)}  -\n"


def test_empty_stdin_gives_the_digests_rclone_probes_for(admin) -> None:
    assert admin.ok("md5sum").split()[0] == "d41d8cd98f00b204e9800998ecf8427e"
    assert admin.ok("sha1sum").split()[0] == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert admin.ok("sha256sum").split()[0] == EMPTY["sha256"]


class CountingInput(io.BytesIO):
    """Standard input that remembers the largest read asked of it."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest = max(self.largest, -1 if size is None or size < 0 else size)
        return super().read(size)


def test_stdin_is_streamed_in_chunks(store, registry) -> None:
    stdin = CountingInput(BIG)
    out = BufferOutput()
    shell = Shell(store, registry, ShellSession(user="admin"), out, BufferOutput(), stdin)
    assert shell.execute("md5sum - /nope") == 3
    assert out.text == f"{digest('md5', BIG)}  -\n"
    assert 0 < stdin.largest <= CHUNK_SIZE


def test_stdin_operand_mixed_with_objects(admin, files) -> None:
    out = admin.ok("sha1sum /d/small - /d/empty", stdin=b"in")
    assert out.splitlines() == [
        f"{digest('sha1', HELLO)}  /d/small",
        f"{digest('sha1', b'in')}  -",
        f"{EMPTY['sha1']}  /d/empty",
    ]


def test_the_interactive_shell_refuses_to_hash_the_keyboard(admin, files) -> None:
    admin.session.interactive = True
    status, out, err = admin("md5sum /d/small -")
    assert status == 1
    assert out == f"{digest('md5', HELLO)}  /d/small\n"
    assert err.startswith("omsh: md5sum: md5sum reads from standard input; use it as ssh host")


# -- where the hashes come from ---------------------------------------------------


def test_sha256_is_the_stored_hash_and_the_others_read_content(
    blobs_only, store, admin, files
) -> None:
    """With the blob's bytes changed (same size) behind the store's back, only sha256sum keeps the
    recorded hash (it reads no content); md5sum and sha1sum hash what is on disk."""
    filename = blob_filename(store, "/d/small")
    os.chmod(filename, stat.S_IRUSR | stat.S_IWUSR)
    with open(filename, "wb") as blob:
        blob.write(b"HELLO\n")
    assert admin.ok("sha256sum /d/small").split()[0] == digest("sha256", HELLO)
    assert admin.ok("md5sum /d/small").split()[0] == digest("md5", b"HELLO\n")
    assert admin.ok("sha1sum /d/small").split()[0] == digest("sha1", b"HELLO\n")
    assert admin("verify /d/small")[0] == 1  # and verify tells


def test_sha256_without_a_recorded_hash_is_computed(store, admin, files) -> None:
    def forget(root) -> None:
        StoreView.for_user(root, "admin").resolve("/d/big").sha256 = ""

    store.run(forget)
    assert admin.ok("sha256sum /d/big").split()[0] == digest("sha256", BIG)


def test_reading_content_notes_access_time_and_the_stored_hash_does_not(store, admin, files):
    def age(root) -> None:
        obj = StoreView.for_user(root, "admin").resolve("/d/small")
        obj.atime = obj.mtime = obj.ctime = 1000.0

    def atime(root) -> float:
        return StoreView.for_user(root, "admin").resolve("/d/small").atime

    store.run(age)
    admin.ok("sha256sum /d/small")
    assert store.read(atime) == 1000.0
    admin.ok("md5sum /d/small")
    assert store.read(atime) > 1000.0


# -- names coreutils escapes ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("plain", "HEX  plain"),
        ("a\nb", "\\HEX  a\\nb"),
        ("c\\d", "\\HEX  c\\\\d"),
        ("e\rf", "\\HEX  e\\rf"),
    ],
)
def test_checksum_line_escapes_like_coreutils(name: str, line: str) -> None:
    assert checksum_line("HEX", name) == line


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_odd_names_match_coreutils_byte_for_byte(admin, tmp_path) -> None:
    names = ["a\nb", "c\\d", "e\rf", "naïve ☃", "tab\there"]
    local = tmp_path / "local"
    local.mkdir()
    admin.ok("mkdir /odd; cd /odd")
    for name in names:
        (local / name).write_bytes(name.encode())
        quoted = "'" + name.replace("'", "'\\''") + "'"
        admin.ok(f"put {quoted}", stdin=name.encode())
    expected = subprocess.run(
        ["sha256sum", *names], cwd=local, capture_output=True, check=True
    ).stdout.decode()
    quoted_names = " ".join("'" + name + "'" for name in names)
    assert admin.ok(f"sha256sum {quoted_names}") == expected


def test_control_characters_are_made_visible_on_a_terminal(store, registry, admin) -> None:
    admin.ok("put '/esc\x1b[31m'", stdin=b"x")
    out = BufferOutput(terminal=True)
    shell = Shell(store, registry, ShellSession(user="admin"), out, BufferOutput(), io.BytesIO())
    assert shell.execute("md5sum '/esc\x1b[31m'") == 0
    assert out.text == f"{digest('md5', b'x')}  /esc\\x1b[31m\r\n"


# -- JSON -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_json_lines(admin, files, algorithm) -> None:
    admin.ok("cd /d")
    lines = admin.ok(f"{algorithm}sum --json small -", stdin=b"in").splitlines()
    documents = [json.loads(line) for line in lines]
    object_id = json.loads(admin.ok("stat --json /d/small"))["objectid"]
    assert documents == [
        {"path": "/d/small", "objectid": object_id, algorithm: digest(algorithm, HELLO)},
        {"path": "-", algorithm: digest(algorithm, b"in")},
    ]


# -- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line", ["md5sum --no-such-flag /d/small", "sha1sum -c sums", "sha256sum -b"]
)
def test_unknown_flags_are_usage_errors(admin, files, line) -> None:
    status, out, err = admin(line)
    assert (status, out) == (2, "")
    assert err.startswith(f"omsh: {line.split()[0]}: unrecognized arguments: ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_missing_paths_and_containers_are_reported_and_the_rest_hashed(admin, files, algorithm):
    command = f"{algorithm}sum"
    status, out, err = admin(f"{command} /d/small /nope /d /d/empty")
    assert status == 3
    assert out.splitlines() == [
        f"{digest(algorithm, HELLO)}  /d/small",
        f"{EMPTY[algorithm]}  /d/empty",
    ]
    assert err.splitlines() == [
        f"omsh: {command}: /nope: not found",
        f"omsh: {command}: /d: is a container",
    ]
    assert admin(f"{command} /d") == (1, "", f"omsh: {command}: /d: is a container\n")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_reading_needs_the_permission_cat_needs(admin, alice, files, algorithm) -> None:
    """alice may read /d/small but not /d/secret; the statuses are cat's, the worst wins."""
    admin.ok("acl grant /d alice read --inherit")
    admin.ok("put /d/secret", stdin=b"classified")
    admin.ok("acl deny /d/secret alice r")
    command = f"{algorithm}sum"
    assert alice("cat /d/secret")[0] == 4
    status, out, err = alice(f"{command} /d/secret /d/small")
    assert status == 4
    assert out == f"{digest(algorithm, HELLO)}  /d/small\n"
    assert err == f"omsh: {command}: /d/secret: permission denied\n"
    line = "/d/nope /d/secret /d/small"
    assert alice(f"{command} {line}")[0] == alice(f"cat {line}")[0] == 4
