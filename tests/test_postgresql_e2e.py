"""RelStorage on a real PostgreSQL: ``omsh serve --storage postgresql://…``, one node and two.

A private PostgreSQL cluster is made for the session (``initdb`` and
``pg_ctl``, as the ``postgres`` user when the tests run as root, since
PostgreSQL refuses to run as root) in a temporary folder, listening on a
free port of 127.0.0.1 only, with a password for the ``omsh`` role; each
test gets a database of its own.  Without PostgreSQL's server binaries (the
Debian package ``postgresql``, which ``make test`` installs) or the
``psycopg2`` driver (``pip install omsh[postgresql]``), every test here is
skipped with one line saying which is missing.

The servers are real ``omsh serve`` processes reached with OpenSSH's
``ssh`` and ``sftp`` and PuTTY's ``plink``; blobs are kept in the database
(the default of ``postgresql://`` URIs), so a restarted node, or another
node, reads content it never cached.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from bench.launcher import HOST, OMSH, free_port, public_key
from omsh.errors import OmshError
from omsh.store.postgres import POSTGRES_FORM, connection_string, postgres_uri
from tests.e2e import OmshServer, Result, run
from tests.test_watch_e2e import open_feed, server_sent_events

pytestmark = pytest.mark.e2e

ROLE = "omsh"
FIVE_MIB = 5 * 1024 * 1024
#: Uploads per node into one container, both nodes at once.
PUTS_PER_NODE = 60


def _server_binaries() -> Path | None:
    """The folder of PostgreSQL's ``initdb`` and ``pg_ctl``: Debian's newest, else on PATH."""
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    found = debian[-1] if debian else shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1: :meth:`start` makes it, :meth:`stop` ends it."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="omsh-postgres-"))
        self.data = self.root / "data"
        self.password = secrets.token_hex(16)
        self.port = 0
        #: Run PostgreSQL's programs as ``postgres`` when we are root (it refuses root).
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")  # KeyError: no such user (checked by the fixture)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
        self._databases = count()

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            [*self.as_user, *argv], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}{tail}")

    def start(self) -> PostgresCluster:
        """``initdb`` (role ``omsh``, a password) and ``pg_ctl start`` on a free loopback port."""
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        if self.as_user:
            os.chown(password_file, *_ids("postgres"))
        self._run(
            str(self.binaries / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            ROLE,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "--encoding=UTF8",
            "--no-sync",
        )
        password_file.unlink()
        self.port = free_port()
        # TCP on 127.0.0.1 only; the Unix socket in our folder, not /var/run.
        # fsync off: the tests are about behaviour, and share two cores.
        options = f"-c listen_addresses={HOST} -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            str(self.binaries / "pg_ctl"),
            "--pgdata",
            str(self.data),
            "--log",
            str(self.root / "postgres.log"),
            "--options",
            options,
            "--wait",
            "--timeout",
            "60",
            "start",
        )
        return self

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg2 connection as ``omsh`` over TCP (autocommit)."""
        import psycopg2

        connection = psycopg2.connect(
            host=HOST, port=self.port, user=ROLE, password=self.password, dbname=database
        )
        connection.autocommit = True
        return connection

    def new_database(self) -> str:
        """A fresh, empty database's ``postgresql://`` URI, password included."""
        name = f"omsh_{next(self._databases)}"
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
        finally:
            connection.close()
        return f"postgresql://{ROLE}:{self.password}@{HOST}:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server at once and remove the cluster."""
        try:
            self._run(
                str(self.binaries / "pg_ctl"), "--pgdata", str(self.data), "-m", "fast", "stop"
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _why_not() -> str | None:
    """Why no PostgreSQL can be started here, in one line; None if it can."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed: pip install 'omsh[postgresql]'"
    if _server_binaries() is None:
        return "PostgreSQL's server (initdb, pg_ctl) is not installed: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no 'postgres' user to run PostgreSQL as"
    return None


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    reason = _why_not()
    if reason:
        pytest.skip(f"no PostgreSQL: {reason}")
    binaries = _server_binaries()
    assert binaries is not None
    cluster = PostgresCluster(binaries).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _node(root: Path, uri: str) -> OmshServer:
    """``omsh serve --storage URI`` (not started); SSH, SFTP and CDMI on free ports."""
    server = OmshServer(root, cheap_hashing=True)
    server.store_args = ("--storage", uri)
    return server


# -- URIs (no PostgreSQL needed) --------------------------------------------------


def testpostgres_uris_keep_blobs_in_the_database_unless_told() -> None:
    uri, cache = postgres_uri("postgresql://omsh:pw@127.0.0.1:5/db")
    assert cache is not None
    try:
        assert uri == f"postgres://omsh:pw@127.0.0.1:5/db?shared_blob_dir=false&blob_dir={cache}"
        assert Path(cache).is_dir()
    finally:
        os.rmdir(cache)
    given = "postgres://u:p@h:5/db?blob_dir=/var/cache/omsh&keep_history=false"
    assert postgres_uri(given) == (f"{given}&shared_blob_dir=false", None)
    shared = "postgres://u:p@h:5/db?shared_blob_dir=true&blob_dir=/mnt/shared/blobs"
    assert postgres_uri(shared) == (shared, None)
    with pytest.raises(OmshError) as refused:
        postgres_uri("postgres://u:p@h:5/db?shared_blob_dir=true")
    assert str(refused.value) == "shared_blob_dir=true needs blob_dir=, a folder all nodes share"


@pytest.mark.parametrize(
    ("uri", "wrong"),
    [
        ("postgresql://h:5/", "host and database given"),
        ("postgresql://u:p@/db", "host and database given"),
        ("postgres://u:p@h:five/db", "the port is a number"),
    ],
)
def test_postgres_uris_name_host_and_database(uri: str, wrong: str) -> None:
    with pytest.raises(OmshError) as refused:
        postgres_uri(uri)
    assert str(refused.value) == f"a PostgreSQL URI is {POSTGRES_FORM}: {wrong}"


def test_libpq_is_given_only_the_parts_a_uri_names_quoted() -> None:
    """No password in the URI: none in the connection string (libpq then reads
    PGPASSWORD or ~/.pgpass), not RelStorage's password='None'."""

    def dsn(uri: str, **options: object) -> str:
        return connection_string(urllib.parse.urlsplit(uri), options)

    assert dsn("postgres://omsh@db.example:5433/omsh") == (
        "dbname='omsh' user='omsh' host='db.example' port='5433'"
    )
    assert dsn("postgres://h/db", connect_timeout=3) == "dbname='db' host='h' connect_timeout='3'"
    assert dsn("postgres://u:it%27s%5Cx%40y@h/db") == (
        r"dbname='db' user='u' password='it\'s\\x@y' host='h'"
    )


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    uri = f"postgresql://omsh:s3cret@{HOST}:{free_port()}/omsh"
    result = run([OMSH, "check", "--storage", uri])
    assert (result.status, result.out) == (1, "")
    assert result.err.startswith("omsh: cannot open the PostgreSQL database: ")
    assert result.err.count("\n") == 1 and "s3cret" not in result.err


def test_without_postgresql_the_reason_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert _why_not() == (
        "PostgreSQL's server (initdb, pg_ctl) is not installed: apt-get install postgresql"
    )
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # as if not installed
    assert _why_not() == "psycopg2 is not installed: pip install 'omsh[postgresql]'"


# -- against a real PostgreSQL ------------------------------------------------------


def _history(node: OmshServer, path: str) -> list[dict[str, object]]:
    """``history --json PATH``, newest first."""
    return [json.loads(line) for line in node.ok(f"history --json {path}").splitlines()]


def _large_object_bytes(postgres: PostgresCluster, uri: str) -> int:
    """How many bytes of large objects (RelStorage's blob chunks) the database holds."""
    connection = postgres.connect(uri.rsplit("/", 1)[1])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(sum(octet_length(data)), 0) FROM pg_largeobject")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def test_a_node_on_postgresql_keeps_content_history_and_snapshots(postgres, tmp_path) -> None:
    uri = postgres.new_database()
    node = _node(tmp_path / "node", uri).start()
    try:
        node.ok("mkdir /c")
        node.ok("put /c/a --meta n=5", stdin=b"first")
        node.ok("put /c/b --meta n=7 --mimetype text/plain", stdin=b"other")
        assert node.ok("cat /c/a") == "first"
        assert node.ok("ls /c").split() == ["a", "b"]
        assert node.ok("query 'n > 6' --in /c").split() == ["/c/b"]
        assert node.ok("query 'n >= 5' --count").strip() == "2"

        # 5 MiB: stored in PostgreSQL (large objects), read back byte for byte.
        big = os.urandom(FIVE_MIB)
        node.ok("put /c/big", stdin=big)
        assert node.ssh("cat /c/big").stdout == big
        assert _large_object_bytes(postgres, uri) >= FIVE_MIB

        # History is kept (keep_history defaults to true): --at a transaction, --at now.
        node.ok("put /c/a", stdin=b"second")
        created, changed = reversed(_history(node, "/c/a"))
        assert (created["changes"], changed["changes"]) == (["created"], ["content 5 B → 6 B"])
        assert node.ok(f"cat --at {created['txn']} /c/a") == "first"
        assert node.ok(f"cat --at {changed['txn']} /c/a") == "second"
        assert node.ok("cat --at 0s /c/a") == "second"

        # A snapshot reads the moment it names, however the tree changes after.
        node.ok("snapshot create before-third")
        node.ok("put /c/a", stdin=b"third")
        assert node.ok("cat /.snapshots/before-third/c/a") == "second"
        assert node.ok("ls /.snapshots/before-third/c").split() == ["a", "b", "big"]

        # A restart (its blob cache gone with it) reads everything from the database.
        node.restart()
        assert node.ok("cat /c/a") == "third"
        assert node.ssh("cat /c/big").stdout == big
        assert node.ok("cat /.snapshots/before-third/c/a") == "second"
        assert node.ok(f"cat --at {created['txn']} /c/a") == "first"
        assert node.ok("query 'n >= 5' --count").strip() == "2"
        summary = "checked 3 objects, 0 problems"
        assert node.ok("check").splitlines()[-1] == summary

        # omsh's own command line opens the same database while the node serves.
        checked = run([OMSH, "check", "--storage", uri])
        assert (checked.status, checked.out.splitlines()[-1]) == (0, summary)
        packed = run([OMSH, "pack", "--keep", "1h", "--storage", uri])
        assert packed.status == 0, packed.err
        assert node.ok(f"cat --at {created['txn']} /c/a") == "first"
    finally:
        node.stop()


def test_the_password_can_stay_off_the_command_line(postgres, tmp_path) -> None:
    """``ps`` shows every local user a command line: libpq takes the password
    from PGPASSWORD or a password file instead, as for psql."""
    uri = postgres.new_database()
    bare = uri.replace(f":{postgres.password}@", "@")
    assert postgres.password not in bare

    node = _node(tmp_path / "env", bare)
    node.env["PGPASSWORD"] = postgres.password
    node.start()
    try:
        node.ok("put /a", stdin=b"kept")
        assert node.ok("cat /a") == "kept"
        command_line = Path(f"/proc/{node.pid}/cmdline").read_bytes()
        assert bare.encode() in command_line and postgres.password.encode() not in command_line
    finally:
        node.stop()

    password_file = tmp_path / "pgpass"
    password_file.write_text(f"{HOST}:{postgres.port}:*:{ROLE}:{postgres.password}\n")
    password_file.chmod(0o600)  # libpq ignores a password file others can read
    checked = run([OMSH, "check", "--storage", bare], env={"PGPASSFILE": str(password_file)})
    assert checked.status == 0, checked.err

    refused = run([OMSH, "check", "--storage", bare], env={"PGPASSFILE": "/nonexistent"})
    assert refused.status == 1 and refused.out == ""
    assert refused.err.startswith("omsh: cannot open the PostgreSQL database: ")
    assert refused.err.count("\n") == 1


def _login_works(node: OmshServer, user: str, password: str, tmp_path: Path) -> bool:
    """Whether PuTTY's plink logs in to *node* as *user* with *password*."""
    password_file = tmp_path / f"{user}.pw"
    password_file.write_text(password + "\n")
    result = node.plink("whoami", user=user, password_file=password_file)
    return result.status == 0 and result.out.strip() == user


def _sftp_puts(node: OmshServer, folder: Path, remote: str, names: list[str]) -> Result:
    """One OpenSSH ``sftp -b`` session uploading *names* from *folder* into *remote*."""
    return node.sftp("\n".join(f"put {folder / name} {remote}/{name}" for name in names))


@pytest.fixture
def two_nodes(postgres, tmp_path) -> Iterator[tuple[OmshServer, OmshServer]]:
    """Two ``omsh serve`` on one new database; the admin key of each logs in to both."""
    uri = postgres.new_database()
    one = _node(tmp_path / "one", uri).start()  # makes the store: admin with one's key
    two = _node(tmp_path / "two", uri)
    try:
        two.start()
        # A key added on one lets two's client in: accounts are shared at once.
        assert two.ssh("whoami").status != 0
        one.ok("key add", stdin=f"{public_key(two.key)} two\n".encode())
        assert two.ok("whoami").strip() == "admin"
        yield one, two
    finally:
        two.stop()
        one.stop()


def test_two_nodes_on_one_database_see_each_other(two_nodes, tmp_path) -> None:
    one, two = two_nodes
    # Writes on either node are read on the other at once, content included
    # (the other node's blob cache never had it: it comes from PostgreSQL).
    one.ok("mkdir /shared")
    made = _history(one, "/shared")[-1]["txn"]
    payload = os.urandom(300_000)
    one.ok("put /shared/from-one --meta side=one", stdin=payload)
    assert two.ssh("cat /shared/from-one").stdout == payload
    two.ok("put /shared/from-two --meta side=two", stdin=b"two wrote this")
    assert one.ok("cat /shared/from-two") == "two wrote this"
    assert one.ok("query \"side = 'two'\"").split() == ["/shared/from-two"]
    two.ok("rm /shared/from-one")
    assert one.ssh("cat /shared/from-one").status == 3
    # The change feed of one has two's commits up to now, the removal last.
    feed = one.ok(f"watch /shared --since {made} --until-now --json").splitlines()
    events = [json.loads(line) for line in feed][:-1]  # the last says where it stopped
    assert [(event["event"], event["path"]) for event in events] == [
        ("created", "/shared/from-one"),
        ("created", "/shared/from-two"),
        ("removed", "/shared/from-one"),
    ], feed
    # Followed live over CDMI on two (RelStorage asked from a worker, not
    # the event loop), a put on one arrives.
    live = open_feed(two, "path=/shared")
    assert live.status == 200
    one.ok("put /shared/live", stdin=b"x")
    first = json.loads(next(server_sent_events(live))["data"])
    assert (first["event"], first["path"]) == ("created", "/shared/live")
    live.close()

    # A password changed on one is the password on two.
    one.ok("user add alice --password-stdin", stdin=b"alice-first\n")
    assert _login_works(two, "alice", "alice-first", tmp_path)
    one.ok("passwd alice", stdin=b"alice-second\n")
    assert not _login_works(two, "alice", "alice-first", tmp_path)
    assert _login_works(two, "alice", "alice-second", tmp_path)


def test_two_nodes_upload_into_one_container_at_once(two_nodes, tmp_path) -> None:
    one, two = two_nodes
    one.ok("mkdir /box")
    files = tmp_path / "files"
    files.mkdir()
    names = {side: [f"{side}-{n:03}" for n in range(PUTS_PER_NODE)] for side in ("one", "two")}
    for name in names["one"] + names["two"]:
        (files / name).write_bytes(name.encode() * 100)
    with ThreadPoolExecutor(2) as pool:
        uploads = list(
            pool.map(
                lambda node, side: _sftp_puts(node, files, "/box", names[side]),
                (one, two),
                ("one", "two"),
            )
        )
    assert [upload.status for upload in uploads] == [0, 0], uploads[0].err + uploads[1].err
    expected = sorted(names["one"] + names["two"])
    for node in (one, two):
        assert node.ok("ls /box").split() == expected
        assert node.ok("query 'size > 0' --in /box --count").strip() == str(len(expected))
    assert two.ok("cat /box/one-007") == "one-007" * 100
    assert one.ok("check").splitlines()[-1] == f"checked {len(expected)} objects, 0 problems"
