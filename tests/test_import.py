"""``omsh import``: bulk loading a folder tree or JSON lines, catalog exact after."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omsh.errors import OmshError
from omsh.store import bulkload
from omsh.store.bulkload import BadInput, items_from_jsonl, items_from_tree, load
from omsh.store.database import Store
from tests.conftest import ShellDriver

OMSH = os.path.join(os.path.dirname(sys.executable), "omsh")


def make_tree(top: Path, folders: int = 3, files: int = 4) -> dict[str, bytes]:
    """Folders of files (and one empty folder); the contents by relative path."""
    contents: dict[str, bytes] = {}
    for folder in range(folders):
        for number in range(files):
            relative = f"d{folder}/f{number}.txt"
            data = f"{folder}-{number}\n".encode() * 100
            (top / relative).parent.mkdir(parents=True, exist_ok=True)
            (top / relative).write_bytes(data)
            contents[relative] = data
    (top / "d0" / "sub").mkdir()
    (top / "top.bin").write_bytes(b"\0\1\2")
    contents["top.bin"] = b"\0\1\2"
    return contents


def count(shell: ShellDriver, where: str = "") -> int:
    return int(shell.ok(f"query --count {where} \"type = 'object'\"").strip())


# -- reading the input ----------------------------------------------------------


def test_a_tree_becomes_containers_and_objects(tmp_path, store, admin):
    contents = make_tree(tmp_path / "src")
    plan = items_from_tree(str(tmp_path / "src"), "/data/in")
    assert plan.containers[0] == "/data/in" and "/data/in/d0/sub" in plan.containers
    loaded = load(store, "admin", plan, batch=5)
    assert (loaded.objects, loaded.transactions) == (13, 3)
    for relative, data in contents.items():
        assert admin.ok(f"cat /data/in/{relative}") == data.decode("latin-1")
        digest = hashlib.sha256(data).hexdigest()
        assert digest in admin.ok(f"sha256sum /data/in/{relative}")
    assert admin.ok("ls /data/in/d0/sub") == ""
    assert count(admin) == 13
    assert count(admin, "--in /data/in/d1") == 4
    assert "0 problems" in admin.ok("check")
    assert json.loads(admin.ok("stat --json /data/in/top.bin"))["cdmi_owner"] == "admin"


def test_jsonl_metadata_keeps_json_types_and_types_text_as_set_meta(tmp_path, store, admin):
    (tmp_path / "a.bin").write_bytes(b"A" * 4096)
    lines = [
        {"path": "/j/x/a", "content": "a.bin", "metadata": {"n": 3, "ok": True, "r": 0.5}},
        {"path": "j/x/b", "metadata": {"when": "2024-05-01T10:00:00Z", "code": "007"}},
        {"path": "/j/y/c", "content": "a.bin", "metadata": {"code:str": "007", "k:int": 4}},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    plan = items_from_jsonl(str(source))
    assert plan.containers == ["/j/x", "/j/y"]  # their parents are made with them
    assert plan.items[1].metadata == {
        "when": datetime(2024, 5, 1, 10, tzinfo=UTC),
        "code": 7,
    }
    assert plan.items[2].metadata == {"code": "007", "k": 4}
    load(store, "admin", plan)
    assert admin.ok("cat /j/x/a") == "A" * 4096 and admin.ok("cat /j/x/b") == ""
    assert int(admin.ok("query --count 'n = 3 AND ok = true'")) == 1
    assert int(admin.ok("query --count \"code = '007'\"")) == 1
    assert int(admin.ok("query --count 'code = 7'")) == 1
    assert "0 problems" in admin.ok("check")


def test_jsonl_takes_metadata_as_meta_export_writes_it(tmp_path, store, admin):
    admin.ok("mkdir /src")
    admin.ok("put /src/o --meta n=5 --meta code:str=007 --meta when=2024-06-01T12:00:00Z", b"")
    exported = admin.ok("meta export /src/o")
    source = tmp_path / "in.jsonl"
    source.write_text(exported.replace('"/src/o"', '"/copy/o"'))
    load(store, "admin", items_from_jsonl(str(source)))
    assert admin.ok("meta export /copy/o") == exported.replace('"/src/o"', '"/copy/o"')
    source.write_text('{"path": "/x", "metadata": {"k": {"type": "money", "value": 1}}}\n')
    with pytest.raises(BadInput, match="type must be one of"):
        items_from_jsonl(str(source))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected an object"),
        ('{"path": "/a", "size": 3}', "unknown field 'size'"),
        ('{"content": "x"}', '"path" must be'),
        ('{"path": "/"}', '"path" must be'),
        ('{"path": "/a/../.."}', '"path" must be'),
        ('{"path": "/a", "content": "missing.bin"}', "missing.bin: no such file"),
        ('{"path": "/a", "content": 3}', '"content" must be a file name'),
        ('{"path": "/a", "metadata": [1]}', '"metadata" must be an object'),
        ('{"path": "/a", "metadata": {"k:int": "x"}}', "is not a int"),
        ('{"path": "/a", "metadata": {"k": null}}', "a value must be"),
        ('{"path": "/a", "metadata": {"k": {"deep": 1}}}', "a value must be"),
        ('{"path": "/a\\u0000b"}', "NUL"),
    ],
)
def test_a_bad_line_is_refused_with_its_line_number(tmp_path, line, reason):
    source = tmp_path / "in.jsonl"
    source.write_text('{"path": "/fine"}\n\n' + line + "\n")
    with pytest.raises(BadInput) as caught:
        items_from_jsonl(str(source))
    assert str(caught.value).startswith(f"{source}:3: ")
    assert reason in str(caught.value)


def test_bad_trees_are_refused_with_the_path(tmp_path):
    with pytest.raises(BadInput, match="not a folder"):
        items_from_tree(str(tmp_path / "nowhere"), "/x")
    (tmp_path / "src").mkdir()
    os.mkfifo(tmp_path / "src" / "pipe")
    with pytest.raises(BadInput, match="pipe: not a regular file"):
        items_from_tree(str(tmp_path / "src"), "/x")


def test_running_it_again_resumes_without_duplicates(tmp_path, store, admin):
    make_tree(tmp_path / "src")
    plan = items_from_tree(str(tmp_path / "src"), "/data")
    load(store, "admin", bulkload.Plan(plan.containers, plan.items[:5]))
    assert count(admin) == 5
    first_id = admin.ok("stat --json /data/d0/f0.txt")
    load(store, "admin", plan)  # the interrupted import, run again
    assert count(admin) == 13
    assert (
        json.loads(admin.ok("stat --json /data/d0/f0.txt"))["objectid"]
        == (json.loads(first_id)["objectid"])
    )
    assert "0 problems" in admin.ok("check")


def test_batches_close_at_their_object_blob_or_small_content_bound(
    tmp_path, store, admin, monkeypatch
):
    """Up to --batch objects, but at most BATCH_BLOBS contents over
    INLINE_LIMIT (blob files) and BATCH_INLINE_BYTES of small contents."""
    monkeypatch.setattr(bulkload, "BATCH_BLOBS", 2)
    monkeypatch.setattr(bulkload, "BATCH_INLINE_BYTES", 10)
    sizes = [4, 4, 4, 70_000, 70_000, 70_000, 1, 0, 0, 0]
    items = []
    for number, size in enumerate(sizes):
        source = tmp_path / f"f{number}"
        source.write_bytes(b"x" * size)
        items.append(bulkload.Item(f"/b/f{number}", str(source)))
    chunks = [[int(item.path[4:]) for item in chunk] for chunk in bulkload._chunks(items, 4)]
    #         10 bytes   2 blobs    4 objects
    assert chunks == [[0, 1], [2, 3, 4], [5, 6, 7, 8], [9]]
    loaded = load(store, "admin", bulkload.Plan(["/b"], items), batch=4)
    assert (loaded.objects, loaded.transactions) == (10, 4)
    assert count(admin) == 10
    assert "0 problems" in admin.ok("check")


def test_a_batch_that_fails_stores_none_of_its_objects(tmp_path, store, admin):
    make_tree(tmp_path / "src")
    admin.ok("mkdir -p /data/d1/f2.txt")  # a container where a file goes
    plan = items_from_tree(str(tmp_path / "src"), "/data")
    with pytest.raises(OmshError, match=r"f2\.txt"):
        load(store, "admin", plan, batch=100)
    assert count(admin) == 0
    assert not [name for name in os.listdir(store.temporary_directory()) if "upload" in name]


def test_a_user_who_may_not_write_there_is_refused(tmp_path, store, alice):
    make_tree(tmp_path / "src")
    plan = items_from_tree(str(tmp_path / "src"), "/data")
    with pytest.raises(Exception, match="permission denied"):
        load(store, "alice", plan)


# -- the command line -------------------------------------------------------------


def omsh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OMSH, *argv], capture_output=True, text=True, timeout=120)


@pytest.fixture
def data_dir(tmp_path) -> str:
    data = str(tmp_path / "var")
    store = Store.open(data_dir=data)
    store.bootstrap(admin_password="pw")
    store.close()
    return data


def test_cli_imports_a_tree_and_check_is_clean(tmp_path, data_dir):
    make_tree(tmp_path / "src")
    done = omsh("import", str(tmp_path / "src"), "--into", "/bulk", "--data", data_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 13 objects (5 containers) in 1 transactions")
    assert "imported: 13/13 (100%)" in done.stderr
    checked = omsh("check", "--data", data_dir)
    assert checked.returncode == 0 and "checked 13 objects, 0 problems" in checked.stdout


def test_cli_imports_jsonl_in_batches(tmp_path, data_dir):
    (tmp_path / "v").write_bytes(b"v" * 4096)
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"path": f"/j/o{n}", "content": "v", "metadata": {"n": n}}) + "\n"
            for n in range(25)
        )
    )
    done = omsh("import", "--jsonl", str(source), "--batch", "10", "--data", data_dir)
    assert done.returncode == 0, done.stderr
    assert "imported 25 objects (1 containers) in 3 transactions" in done.stdout
    store = Store.open(data_dir=data_dir)
    try:
        from omsh.store.query import parse_query
        from omsh.store.view import StoreView

        def found(root) -> int:
            return len(StoreView.for_user(root, "admin").query(parse_query("n >= 20")))

        assert store.read(found) == 5
    finally:
        store.close()


def test_cli_bad_input_is_one_line_and_stores_nothing(tmp_path, data_dir):
    source = tmp_path / "in.jsonl"
    source.write_text('{"path": "/j/a"}\n{"path": "/j/b", "metadata": {"x:bool": "maybe"}}\n')
    done = omsh("import", "--jsonl", str(source), "--data", data_dir)
    assert done.returncode == 1
    assert done.stderr.startswith(f"omsh: {source}:2: ") and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    checked = omsh("check", "--data", data_dir)
    assert "checked 0 objects" in checked.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "DIR"], "import DIR needs --into PATH"),
        (["import", "--jsonl", "x.jsonl", "--into", "/a"], "--into goes with a DIR"),
        (["import", "--jsonl", "missing.jsonl"], "missing.jsonl: No such file"),
        (["import", "--batch", "0", "--jsonl", "x"], "must be at least 1"),
    ],
)
def test_cli_usage_errors(tmp_path, data_dir, argv, message):
    (tmp_path / "DIR").mkdir()
    (tmp_path / "x.jsonl").write_text("")
    done = subprocess.run(
        [OMSH, *argv, "--data", data_dir], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode in (1, 2)
    assert message in done.stderr and "Traceback" not in done.stderr


def test_cli_refuses_a_store_that_does_not_exist(tmp_path):
    (tmp_path / "src").mkdir()
    done = omsh("import", str(tmp_path / "src"), "--into", "/x", "--data", str(tmp_path / "new"))
    assert done.returncode == 3 and "no omsh store there" in done.stderr
