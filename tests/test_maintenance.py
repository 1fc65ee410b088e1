"""Checking and repairing a store: the shell's ``check``, ``omsh check`` and ``omsh reindex``."""

from __future__ import annotations

import io
import json
import os

import pytest

from omsh.cli import main
from omsh.commands.maintenance import ProgressLine
from omsh.store.database import Store
from omsh.store.view import StoreView


def _damage_catalog(store: Store) -> None:
    """Forget /docs/a in the catalog and let /docs/b's metadata change behind its back."""

    def damage(root) -> None:
        view = StoreView.for_user(root, "admin")
        root.catalog.unindex(view.resolve("/docs/a"))
        view.resolve("/docs/b").replace_metadata({"n": 99})

    store.run(damage)


def _query_paths(store: Store, expression: str) -> list[str]:
    from omsh.store.query import parse_query

    def ask(root) -> list[str]:
        result = StoreView.for_user(root, "admin").query(parse_query(expression))
        return [result.path(docid) for docid in result.ordered()]

    return store.read(ask)


@pytest.fixture
def docs(admin):
    admin.ok("mkdir /docs")
    admin.ok("put /docs/a --meta n=1", b"alpha")
    admin.ok("put /docs/b --meta n=2", b"beta")
    return admin


# -- the shell command -----------------------------------------------------------


def test_check_of_a_sound_store(docs) -> None:
    status, out, err = docs("check")
    assert (status, err) == (0, "")
    assert out == "checked 2 objects, 0 problems\n"
    document = json.loads(docs.ok("check --json"))
    assert document == {
        "objects": 2,
        "problems": [],
        "unrepaired": 0,
        "reindexed": 0,
        "warnings": 0,
    }


def test_check_warns_about_an_open_root_and_still_succeeds(docs) -> None:
    docs.ok("acl grant / AUTHENTICATED@ read --inherit; acl grant / EVERYONE@ read")
    status, out, err = docs("check")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "WARNING / is readable by AUTHENTICATED@, inherited by every object: "
        "to make the store private: acl revoke / AUTHENTICATED@",
        "checked 2 objects, 0 problems, 1 warning",
    ]
    document = json.loads(docs.ok("check --json"))
    assert (document["warnings"], document["unrepaired"]) == (1, 0)
    assert document["problems"][0]["kind"] == "WARNING"
    docs.ok("acl revoke / AUTHENTICATED@")
    assert docs.ok("check") == "checked 2 objects, 0 problems\n"


def test_check_reports_catalog_problems_and_repair_fixes_them(store, docs) -> None:
    _damage_catalog(store)
    assert _query_paths(store, "n = 99") == []
    status, out, _ = docs("check")
    assert status == 1
    assert "INDEX not indexed: /docs/a" in out
    assert "INDEX stale m:n: /docs/b" in out
    assert out.endswith("checked 2 objects, 2 problems\n")

    status, out, _ = docs("check --repair")
    assert status == 0
    assert "INDEX not indexed: /docs/a (repaired)" in out
    assert out.endswith("2 repaired (catalog rebuilt: 3 objects indexed)\n")
    assert _query_paths(store, "n = 99") == ["/docs/b"]
    assert _query_paths(store, "n = 1") == ["/docs/a"]
    assert docs("check")[0] == 0


def test_damaged_content_is_reported_and_cannot_be_repaired(blobs_only, store, docs) -> None:
    def blob_file(root) -> str:
        return StoreView.for_user(root, "admin").resolve("/docs/a").stored_content().filename

    os.unlink(store.read(blob_file))
    status, out, _ = docs("check --repair --json")
    assert status == 1
    document = json.loads(out)
    assert document["problems"] == [
        {
            "kind": "MISSING",
            "message": "/docs/a: content file is missing or unreadable",
            "repaired": False,
        }
    ]
    assert document["unrepaired"] == 1


def test_check_is_for_administrators(docs, alice) -> None:
    status, out, err = alice("check")
    assert status == 4
    assert out == ""
    assert "administrators only" in err


# -- the console script ------------------------------------------------------------


@pytest.fixture
def offline(tmp_path, registry):
    """A store with two objects in a data folder, closed again (as when the server is stopped)."""
    from tests.conftest import ShellDriver

    data = str(tmp_path / "var")
    store = Store.open(data_dir=data)
    try:
        store.bootstrap(admin_password="pw")
        driver = ShellDriver(store, registry, "admin")
        driver.ok("mkdir /docs")
        driver.ok("put /docs/a --meta n=1", b"alpha")
        driver.ok("put /docs/b --meta n=2", b"beta")
        _damage_catalog(store)
    finally:
        store.close()
    return data


def test_omsh_check_finds_and_repairs_the_catalog(offline, capsys) -> None:
    assert main(["check", "--data", offline]) == 1
    out = capsys.readouterr().out
    assert "INDEX not indexed: /docs/a" in out
    assert "checked 2 objects, 2 problems" in out
    assert main(["check", "--repair", "--data", offline]) == 0
    assert "2 repaired" in capsys.readouterr().out
    assert main(["check", "--data", offline]) == 0
    assert "checked 2 objects, 0 problems" in capsys.readouterr().out


def test_omsh_reindex_rebuilds_with_progress_on_stderr(offline, capsys) -> None:
    assert main(["reindex", "--data", offline]) == 0
    captured = capsys.readouterr()
    assert captured.out == "catalog rebuilt: 3 objects indexed\n"
    # Not a terminal: whole lines, the last one complete.
    assert captured.err.splitlines()[-1].startswith("indexed: 3/3 (100%)")
    assert "\r" not in captured.err
    assert main(["check", "--data", offline]) == 0


# -- the progress line ---------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_redraws_on_a_terminal_and_is_throttled() -> None:
    now = [100.0]
    stream = _Terminal()
    progress = ProgressLine(stream, "indexed", clock=lambda: now[0])
    now[0] = 102.0
    progress(1000, 4000)
    progress(2000, 4000)  # too soon after the last one: not drawn
    now[0] = 104.0
    progress(4000, 4000)
    progress.close()
    assert stream.getvalue() == (
        "\rindexed: 1,000/4,000 (25%) 500/s\x1b[K\rindexed: 4,000/4,000 (100%) 1,000/s\x1b[K\n"
    )


def test_progress_line_writes_sparse_lines_into_a_log() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = ProgressLine(stream, "indexed", log_interval=10, clock=lambda: now[0])
    for step in range(1, 31):
        now[0] = float(step)
        progress(step * 100, 5000 if step < 30 else 3000)  # the total was only a guess
    progress.close()
    assert stream.getvalue().splitlines() == [
        "indexed: 100/5,000 (2%) 100/s",
        "indexed: 1,100/5,000 (22%) 100/s",
        "indexed: 2,100/5,000 (42%) 100/s",
        "indexed: 3,000/3,000 (100%) 100/s",
    ]


def test_check_reads_every_snapshot(docs, store) -> None:
    """A readable snapshot is no finding; one naming a transaction never made is."""
    from omsh.store.snapshots import create_snapshot

    tid = store.db.lastTransaction()
    store.run(lambda root: create_snapshot(root, "kept", tid, "admin"))
    assert docs.ok("check") == "checked 2 objects, 0 problems\n"
    ahead = (int.from_bytes(tid, "big") + 10**12).to_bytes(8, "big")
    store.run(lambda root: create_snapshot(root, "ahead", ahead, "admin"))
    status, out, _ = docs("check")
    assert status == 1
    assert out.splitlines()[0].startswith(f"SNAPSHOT snapshot ahead ({ahead.hex()}): later than")
    assert out.splitlines()[-1] == "checked 2 objects, 1 problem"
