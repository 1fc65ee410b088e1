"""Retention of history: ``pack --keep AGE`` (shell and ``omsh pack``), snapshots
holding it back, ``check`` of snapshots, and storages that keep no history."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from omsh.cli import main
from omsh.errors import NotFound, UsageError
from omsh.store.asof import parse_when
from omsh.store.database import Store
from omsh.store.ids import new_object_id
from omsh.store.model import Container
from omsh.store.retention import (
    check_snapshots,
    footprint,
    keep_moment,
    pack_store,
    plan_pack,
)
from omsh.store.snapshots import create_snapshot
from omsh.store.storages import NO_HISTORY, keeps_history
from omsh.store.view import StoreView
from tests.conftest import ShellDriver
from tests.e2e import OMSH

#: These tests count blob files: every version is one (as in stores from
#: before inline content); packing content kept in the database is in
#: test_inline.py.
pytestmark = pytest.mark.usefixtures("blobs_only")

VERSIONS = (b"zero", b"version one", b"version two!", b"version three, last")


def _txn(store: Store) -> str:
    return store.db.lastTransaction().hex()


def _snapshot(store: Store, name: str) -> str:
    """Record snapshot *name* of the last transaction, as ``snapshot create`` will."""
    tid = store.db.lastTransaction()
    store.run(lambda root: create_snapshot(root, name, tid, "admin"))
    return tid.hex()


def _versions(admin: ShellDriver, path: str = "/f") -> list[str]:
    """Write every one of VERSIONS to *path*; the transaction id after each."""
    txns = []
    for content in VERSIONS:
        admin.ok(f"put {path}", content)
        txns.append(_txn(admin.store))
    return txns


def _sizes(*contents: bytes) -> int:
    return sum(len(content) for content in contents)


# -- reading --keep ------------------------------------------------------------


def test_keep_reads_ages_times_and_zero() -> None:
    now = 1_800_000_000.0
    assert keep_moment("0", now) == now
    assert keep_moment("0s", now) == now
    assert keep_moment("30d", now) == now - 30 * 86400
    assert keep_moment("1d12h", now) == now - 36 * 3600
    assert keep_moment("2026-01-01T00:00Z", now) == 1_767_225_600.0
    for bad in ("soon", "-1d", "", "2099-01-01T00:00Z"):
        with pytest.raises(UsageError) as caught:
            keep_moment(bad, now)
        assert caught.value.exit_status == 2 and "--keep" in str(caught.value)


# -- the shell's pack on a FileStorage -----------------------------------------


def test_pack_keep_0_removes_old_revisions_and_their_blob_files(store, admin) -> None:
    txns = _versions(admin)
    before = footprint(store.db)
    assert before.blob_files == len(VERSIONS)
    lines = admin.ok("pack --keep 0").splitlines()
    assert lines[0].startswith("pack time ") and lines[0].endswith(": older revisions are removed")
    size_line = lines[1]
    old_size, new_size = (
        int(part.split()[0].replace(",", "")) for part in size_line[14:].split("→")
    )
    assert size_line.startswith("storage size: ") and new_size < old_size == before.size
    assert lines[2] == f"blob files removed: 3 ({_sizes(*VERSIONS[:3]):,} B)"
    assert lines[3].startswith("packed in ")
    assert footprint(store.db).blob_files == 1
    # Nothing is kept from before: the current state only.
    assert admin.ok("cat /f").encode() == VERSIONS[-1]
    status, out, err = admin(f"cat --at {txns[0]} /f")
    assert (status, out) == (3, "")
    assert err == f"omsh: cat: --at {txns[0]}: nothing is kept from then\n"
    ending = admin.ok("history /f").splitlines()[-1]
    assert ending.startswith("history begins at ") and "older changes were packed" in ending
    # The pack is audited, as who did it.
    event = json.loads(admin.ok("audit --json -n 1").splitlines()[-1])
    assert (event["actor"], event["action"], event["target"]) == ("admin", "pack", "/")
    assert event["detail"].startswith("pack time ")
    # No copy of the old file or blobs is left behind.
    data = Path(store.db.storage._file_name)
    assert not Path(f"{data}.old").exists()
    assert not Path(store.db.storage.blob_dir + ".old").exists()


def test_pack_keeps_the_history_younger_than_the_age(store, admin) -> None:
    txns = _versions(admin)
    lines = admin.ok("pack --keep 1h").splitlines()
    assert lines[2] == "blob files removed: 0 (0 B)"
    assert admin.ok(f"cat --at {txns[0]} /f").encode() == VERSIONS[0]


def test_a_dry_run_only_says_the_pack_time(store, admin) -> None:
    _versions(admin)
    before = footprint(store.db)
    out = admin.ok("pack --keep 2d --dry-run")
    (line,) = out.splitlines()
    assert line.startswith("pack time ") and line.endswith("would be removed (dry run)")
    planned = json.loads(admin.ok("pack --keep 2d --dry-run --json"))
    assert planned["held_by"] is None
    assert abs(planned["pack_time"] - (time.time() - 2 * 86400)) < 60
    assert footprint(store.db) == before


def test_pack_json(store, admin) -> None:
    _versions(admin)
    document = json.loads(admin.ok("pack --keep 0 --json"))
    assert document["blob_files_removed"] == 3
    assert document["blob_bytes_removed"] == _sizes(*VERSIONS[:3])
    assert document["size_after"] < document["size_before"]
    assert document["held_by"] is None and document["pack_time"] == document["wanted"]


def test_pack_is_for_administrators_and_checks_its_input(store, admin, alice) -> None:
    _versions(admin)
    before = footprint(store.db)
    status, out, err = alice("pack --keep 0")
    assert (status, out, err) == (4, "", "omsh: pack: permission denied (administrators only)\n")
    assert admin("pack")[0] == 2
    status, out, err = admin("pack --keep soon")
    assert (status, out) == (2, "")
    assert err.startswith("omsh: pack: --keep 'soon': give an age") and err.count("\n") == 1
    assert footprint(store.db) == before


# -- snapshots hold the horizon back -------------------------------------------


def test_a_snapshot_keeps_its_state_through_a_pack(store, admin) -> None:
    admin.ok("put /f", VERSIONS[0])
    admin.ok("put /f", VERSIONS[1])
    admin.ok("mkdir /d")  # the snapshot's own transaction: after /f's
    kept = _snapshot(store, "before-edits")
    admin.ok("put /f", VERSIONS[2])
    admin.ok("put /f", VERSIONS[3])
    lines = admin.ok("pack --keep 0").splitlines()
    assert lines[1].startswith("kept history back to 20")
    assert lines[1].endswith(" for snapshot before-edits")
    # Only what was older than the snapshot's state went.
    assert lines[3] == f"blob files removed: 1 ({len(VERSIONS[0]):,} B)"
    assert admin.ok(f"cat --at {kept} /f").encode() == VERSIONS[1]
    assert admin.ok(f"cat --at {_txn(store)} /f").encode() == VERSIONS[3]
    assert check_snapshots(store).problems == []
    document = json.loads(admin.ok("pack --keep 0 --json"))
    assert document["held_by"] == "before-edits" and document["pack_time"] < document["wanted"]
    assert admin.ok(f"cat --at {kept} /f").encode() == VERSIONS[1]


def test_the_pack_of_an_old_store_without_snapshots(store, admin) -> None:
    """A store from before schema 6 (no ``snapshots``) packs as one without any."""
    _versions(admin)

    def downgrade(root) -> None:
        del root.snapshots

    store.run(downgrade)
    plan = plan_pack(store, "0")
    assert plan.held_by is None and plan.time == plan.wanted
    assert check_snapshots(store).problems == []


# -- writes go on during a pack ------------------------------------------------


def test_writes_during_a_pack_are_not_lost(store) -> None:
    """A FileStorage packs concurrently with commits: every write made meanwhile stays."""

    def churn(root) -> None:
        view = StoreView.for_user(root, "admin")
        if "churn" not in root.tree:
            view.make_container("/churn")
        for n in range(50):
            view.make_container(f"/churn/c{n}")
            view.remove(f"/churn/c{n}", recursive=True)

    store.run(churn)
    early = store.db.lastTransaction().hex()
    for _ in range(60):
        store.run(churn)
    plan = plan_pack(store, "0")
    done = threading.Event()
    written: list[tuple[str, float]] = []
    results = []

    def pack() -> None:
        results.append(pack_store(store, plan))
        done.set()

    def write(n: int) -> None:
        store.run(lambda root: StoreView.for_user(root, "admin").make_container(f"/w{n}"))
        written.append((f"w{n}", time.monotonic()))

    packer = threading.Thread(target=pack)
    started = time.monotonic()
    packer.start()
    n = 0
    # Paced: a pack copies what was committed meanwhile before it can finish,
    # so writes back to back on a loaded machine keep it chasing for minutes.
    while not done.is_set():
        write(n)
        n += 1
        done.wait(0.002)
    packer.join()
    finished = time.monotonic()
    during = [name for name, at in written if started < at < finished]
    assert during, "the pack ended before any write could overlap it"
    names = store.read(lambda root: set(root.tree.names()))
    assert {name for name, _ in written} <= names
    assert len(results) == 1
    with pytest.raises(NotFound, match="nothing is kept from then"):
        store.read_at(parse_when(early), lambda then, _now, _tid: then.tree.get("churn").mtime)


def test_a_second_pack_while_one_runs_is_refused(store, admin, monkeypatch) -> None:
    _versions(admin)
    running, release = threading.Event(), threading.Event()
    pack = store.db.pack

    def slow_pack(**kwargs) -> None:
        running.set()
        release.wait(30)
        pack(**kwargs)

    monkeypatch.setattr(store.db, "pack", slow_pack)
    first = threading.Thread(target=admin.ok, args=("pack --keep 0",))
    first.start()
    assert running.wait(30)
    second = ShellDriver(store, admin.registry, "admin")
    status, out, err = second("pack --keep 0")
    release.set()
    first.join()
    assert (status, out) == (5, "")
    assert err == "omsh: pack: a pack is already running; try again when it is done\n"
    assert footprint(store.db).blob_files == 1  # the first one finished


# -- omsh pack (offline) ---------------------------------------------------------


def test_omsh_pack_offline(tmp_path, registry, capsys) -> None:
    data = str(tmp_path / "var")
    store = Store.open(data_dir=data)
    store.bootstrap(admin_password="secret")
    admin = ShellDriver(store, registry, "admin")
    txns = _versions(admin)
    admin.ok("mkdir /d")
    _snapshot(store, "s1")
    store.run(lambda root: StoreView.for_user(root, "admin").remove("/f"))
    store.close()

    assert main(["pack", "--keep", "0", "--dry-run", "--data", data]) == 0
    dry = capsys.readouterr().out.splitlines()
    assert dry[0].endswith("would be removed (dry run)") and dry[1].endswith("for snapshot s1")
    assert main(["pack", "--keep", "0", "--data", data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("for snapshot s1")
    assert lines[3] == f"blob files removed: 3 ({_sizes(*VERSIONS[:3]):,} B)"

    store = Store.open(data_dir=data)
    try:
        admin = ShellDriver(store, registry, "admin")
        assert admin.ok(f"cat --at {txns[-1]} /f").encode() == VERSIONS[-1]
        assert admin(f"cat --at {txns[0]} /f")[0] == 3
    finally:
        store.close()


def test_omsh_pack_refusals(tmp_path, capsys) -> None:
    assert main(["pack", "--keep", "0", "--data", str(tmp_path / "none")]) == 3
    assert capsys.readouterr().err == "omsh: no omsh store there: nothing to pack\n"
    with pytest.raises(SystemExit) as exited:
        main(["pack", "--data", str(tmp_path / "none")])
    assert exited.value.code == 2
    capsys.readouterr()
    store = Store.open(data_dir=str(tmp_path / "var"))
    store.bootstrap(admin_password="secret")
    store.close()
    assert main(["pack", "--keep", "yesterday", "--data", str(tmp_path / "var")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("omsh: --keep 'yesterday': give an age") and err.count("\n") == 1


def test_omsh_pack_of_a_store_held_open_by_a_server(store) -> None:
    """A FileStorage opens in one process at a time: one line, not a traceback."""
    data = Path(store.db.storage._file_name).parent
    done = subprocess.run(
        [OMSH, "pack", "--keep", "0", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"omsh: {data} is in use by another process (a running omsh serve?): "
        "stop it first, or use the shell's commands\n"
    )


# -- ZEO and MappingStorage --------------------------------------------------------


def _blob_files(directory: Path) -> int:
    return sum(1 for _ in directory.rglob("*.blob"))


def test_pack_over_zeo_packs_on_the_server(tmp_path, registry, capsys) -> None:
    """The shell's pack and ``omsh pack --storage zeo://…``: the server packs."""
    import ZEO

    server_blobs = tmp_path / "zeo-blobs"
    address, stop = ZEO.server(
        path=str(tmp_path / "zeo.fs"), blob_dir=str(server_blobs), port=("127.0.0.1", 0)
    )
    try:
        host, port = address
        uri = f"zeo://{host}:{port}?blob_dir={tmp_path / 'cache'}&shared_blob_dir=false"
        store = Store.open(uri=uri)
        store.bootstrap(admin_password="secret")
        txns = _versions(ShellDriver(store, registry, "admin"))
        lines = ShellDriver(store, registry, "admin").ok("pack --keep 1h").splitlines()
        assert lines[2] == "blob files: kept by the storage server, not counted here"
        store.close()
        assert _blob_files(server_blobs) == len(VERSIONS)

        assert main(["pack", "--keep", "0", "--storage", uri]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].endswith("older revisions are removed")
        sizes = lines[1][len("storage size: ") :].split(" → ")
        before, after = (int(size[:-2].replace(",", "")) for size in sizes)
        assert after < before
        assert _blob_files(server_blobs) == 1

        store = Store.open(uri=uri)
        try:
            admin = ShellDriver(store, registry, "admin")
            assert admin(f"cat --at {txns[0]} /f")[0] == 3
            assert admin.ok("cat /f").encode() == VERSIONS[-1]
        finally:
            store.close()
    finally:
        stop()


def test_pack_of_a_memory_store(registry) -> None:
    store = Store.open(uri="memory://")
    try:
        store.bootstrap(admin_password="secret")
        admin = ShellDriver(store, registry, "admin")
        txns = _versions(admin)
        lines = admin.ok("pack --keep 0").splitlines()
        assert lines[2] == f"blob files removed: 3 ({_sizes(*VERSIONS[:3]):,} B)"
        assert admin(f"cat --at {txns[0]} /f")[0] == 3
        assert admin.ok("cat /f").encode() == VERSIONS[-1]
    finally:
        store.close()


# -- check covers snapshots --------------------------------------------------------


def test_check_finds_a_snapshot_packed_away(store, admin) -> None:
    admin.ok("put /f", VERSIONS[0])
    kept = _snapshot(store, "old")
    admin.ok("put /f", VERSIONS[1])
    admin.ok("rm /f")
    assert admin.ok("check") == "checked 0 objects, 0 problems\n"
    store.db.pack()  # a pack that ignores snapshots (another tool)
    status, out, _ = admin("check")
    assert status == 1
    assert out.splitlines() == [
        f"SNAPSHOT snapshot old ({kept}): its tree was packed away and cannot be read",
        "checked 0 objects, 1 problem",
    ]
    document = json.loads(admin("check --json")[1])
    assert document["problems"][0]["kind"] == "SNAPSHOT"


def test_check_finds_a_snapshot_from_the_future(store, admin) -> None:
    future = (int.from_bytes(store.db.lastTransaction(), "big") + 10**9).to_bytes(8, "big")
    store.run(lambda root: create_snapshot(root, "ahead", future, "admin"))
    findings = check_snapshots(store)
    assert findings.problems == [
        f"snapshot ahead ({future.hex()}): later than the storage's last transaction "
        f"{store.db.lastTransaction().hex()}"
    ]


@pytest.mark.parametrize(("name", "shown"), [(".snapshots", "snapshots"), (".views", "live views")])
def test_check_warns_about_a_stored_object_of_a_reserved_name(
    tmp_path, capsys, name: str, shown: str
) -> None:
    data = str(tmp_path / "var")
    store = Store.open(data_dir=data)
    store.bootstrap(admin_password="secret")

    def older_store(root) -> None:
        """What a store made before the name was reserved may hold."""
        child = Container(name, "admin", new_object_id())
        root.tree.attach(child, name)
        root.catalog.index(child)

    store.run(older_store)
    store.close()
    assert main(["check", "--data", data]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"WARNING /{name}: a stored object has this name, now reserved: "
        f"the {shown} are shown there and hide it",
        "checked 0 objects, 0 problems, 1 warning",
    ]


# -- storages that keep no history (RelStorage, keep-history off) -------------------


@contextmanager
def relstorage(tmp_path: Path, keep_history: bool) -> Iterator[Store]:
    """A store on RelStorage with SQLite, history-preserving or history-free."""
    pytest.importorskip("relstorage")
    folder = tmp_path / f"rel-{keep_history}"
    keep = "true" if keep_history else "false"
    store = Store.open(
        uri=f"sqlite://?data_dir={folder}&keep_history={keep}"
        f"&blob_dir={folder}/blobs&shared_blob_dir=true"
    )
    try:
        store.bootstrap(admin_password="secret")
        yield store
    finally:
        store.close()


def test_history_free_relstorage_says_it_keeps_no_history(tmp_path, registry) -> None:
    with relstorage(tmp_path, keep_history=False) as store:
        assert not keeps_history(store.db)
        admin = ShellDriver(store, registry, "admin")
        txns = _versions(admin)
        _snapshot(store, "s1")
        for line in (f"cat --at {txns[0]} /f", "history /f", "pack --keep 30d", "ls --at 1m /"):
            status, out, err = admin(line)
            command = line.split()[0]
            assert (status, out, err) == (1, "", f"omsh: {command}: {NO_HISTORY}\n"), line
        status, out, _ = admin("check")
        assert status == 1
        assert out.splitlines()[0] == f"SNAPSHOT snapshot s1 ({txns[-1]}): {NO_HISTORY}"
        assert admin.ok("cat /f").encode() == VERSIONS[-1]
        # A snapshot (one recorded by other means above) cannot be taken, nor read
        # through a traceback, nor restored from, nor undone to.
        for line in ("snapshot create s2", "ls /.snapshots/s1", "restore /f --at s1"):
            status, out, err = admin(line)
            assert status == 1 and err.count("\n") == 1 and "internal error" not in err, line
        assert admin(f"undo {txns[-1]}")[0] in (1, 3)


def test_history_preserving_relstorage_keeps_it(tmp_path, registry) -> None:
    with relstorage(tmp_path, keep_history=True) as store:
        assert keeps_history(store.db)
        admin = ShellDriver(store, registry, "admin")
        txns = _versions(admin)
        assert admin.ok(f"cat --at {txns[0]} /f").encode() == VERSIONS[0]
        admin.ok("pack --keep 0")
        assert admin(f"cat --at {txns[0]} /f")[0] == 3
        assert admin.ok("cat /f").encode() == VERSIONS[-1]
