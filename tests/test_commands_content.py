"""cat, head, put, mkdir, rm, mv, cp, verify through the shell."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator

import pytest

from omsh.commands import content as content_module
from omsh.errors import TransferAborted
from omsh.store.content import CHUNK_SIZE
from omsh.store.staging import BATCH_BYTES
from omsh.store.view import StoreView

BIG = bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 7)  # a bit over two chunks


def object_id(driver, path: str) -> str:
    return json.loads(driver.ok(f"stat --json {path}"))["objectid"]


def blob_filename(store, path: str) -> str:
    return store.read(
        lambda root: StoreView.for_user(root, "admin").resolve(path).stored_content().filename
    )


@contextlib.contextmanager
def blob_missing(store, path: str) -> Iterator[None]:
    """The committed blob file of *path* renamed away for the duration."""
    filename = blob_filename(store, path)
    os.rename(filename, filename + ".away")
    try:
        yield
    finally:
        os.rename(filename + ".away", filename)


# -- put and cat -----------------------------------------------------------------


def test_put_then_cat_round_trips_bytes(admin) -> None:
    assert admin.ok("put /data.bin", stdin=BIG) == ""
    assert admin.out.data == b""
    admin.ok("cat /data.bin")
    assert bytes(admin.out.data) == BIG


def test_put_empty_object(admin) -> None:
    admin.ok("put /empty")
    admin.ok("cat /empty")
    assert admin.out.data == b""
    assert json.loads(admin.ok("stat --json /empty"))["cdmi_size"] == 0


def test_put_json_describes_the_object(admin) -> None:
    entry = json.loads(admin.ok("put --json /n.txt --meta n=5", stdin=b"hi\n"))
    assert entry["path"] == "/n.txt"
    assert entry["cdmi_size"] == 3
    assert entry["cdmi_hash"] == hashlib.sha256(b"hi\n").hexdigest()
    assert entry["mimetype"] == "text/plain"
    assert entry["cdmi_owner"] == "admin"


def test_put_replaces_and_keeps_the_id(admin) -> None:
    admin.ok("put /f", stdin=b"old")
    before = object_id(admin, "/f")
    admin.ok("put /f", stdin=b"new content")
    assert object_id(admin, "/f") == before
    assert admin.ok("cat /f") == "new content"


def test_put_mimetype_and_metadata(admin) -> None:
    admin.ok("put /x --mimetype 'text/csv; charset=utf-8' --meta n=5 --meta s:str=5", stdin=b"a")
    assert json.loads(admin.ok("stat --json /x"))["mimetype"] == "text/csv; charset=utf-8"
    document = json.loads(admin.ok("meta --json /x"))
    assert document["metadata"] == {"n": 5, "s": "5"}


def test_put_meta_types_by_text_whatever_the_quoting(admin) -> None:
    admin.ok("put /x --meta=s:str=5 --meta=n='5' --meta 'm=5' --meta=t:time=2024-01-01")
    types = json.loads(admin.ok("meta --json /x"))["types"]
    assert types == {"n": "int", "s": "str", "m": "int", "t": "datetime"}


def test_what_a_command_stores_is_a_plain_string(store, admin) -> None:
    """Shell words remember their quoting; what reaches the store must not (it pickles)."""
    admin.ok("user add carol")
    admin.ok("put /x --mimetype text/csv", stdin=b"a")
    admin.ok("put /x --mimetype text/x-other", stdin=b"b")
    admin.ok("chown carol /x")

    def stored(root) -> tuple[type, type]:
        obj = StoreView.for_user(root, "admin").resolve("/x")
        return type(obj.mimetype), type(obj.owner)

    assert store.read(stored) == (str, str)
    assert admin("check")[0] == 0


@pytest.mark.parametrize("mimetype", ["plain", "text/", "a b/c", "x" * 300 + "/y"])
def test_put_refuses_bad_mimetypes(admin, mimetype) -> None:
    status, _, err = admin(f"put /x --mimetype '{mimetype}'", stdin=b"data")
    assert status == 2
    assert "media type" in err
    assert admin("stat /x")[0] == 3


@pytest.mark.parametrize(
    ("meta", "status", "message"),
    [
        ("novalue", 2, "KEY=VALUE"),
        ("cdmi_size=1", 1, "reserved"),
        ("n=1e999", 1, "finite"),
        ("b:bool=yes", 2, "true or false"),
    ],
)
def test_put_bad_meta_is_refused_before_reading(store, registry, admin, meta, status, message):
    from omsh.commands.output import BufferOutput
    from omsh.commands.runtime import Shell

    err = BufferOutput()
    shell = Shell(store, registry, admin.session, BufferOutput(), err, Untouchable())
    assert shell.execute(f"put /x --meta {meta}") == status
    assert message in err.text
    assert admin("stat /x")[0] == 3


def test_put_into_missing_container(admin) -> None:
    status, _, err = admin("put /nowhere/x", stdin=b"data")
    assert status == 3
    assert err == "omsh: put: /nowhere/x: no such container\n"


def test_put_onto_a_container(admin) -> None:
    admin.ok("mkdir /c")
    status, _, err = admin("put /c", stdin=b"data")
    assert (status, err) == (1, "omsh: put: /c: is a container\n")


class Untouchable(io.BytesIO):
    """Standard input that must not be read."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("stdin read although the put must fail")


def test_put_checks_permission_before_reading_stdin(store, registry, alice) -> None:
    from omsh.commands.output import BufferOutput
    from omsh.commands.runtime import Shell

    err = BufferOutput()
    shell = Shell(store, registry, alice.session, BufferOutput(), err, Untouchable())
    assert shell.execute("put /not-mine") == 4
    assert err.text == "omsh: put: /not-mine: permission denied\n"


def test_put_in_the_interactive_shell_is_refused(admin) -> None:
    admin.session.interactive = True
    status, _, err = admin("put /x", stdin=b"data")
    assert status == 1
    assert "put reads from standard input; use it as ssh host 'put PATH' < file" in err
    admin.session.interactive = False
    assert admin("stat /x")[0] == 3


def test_an_aborted_put_stores_nothing_and_leaves_no_files(store, registry, admin) -> None:
    class DropsOut(io.BytesIO):
        """Batches of a megabyte, the third never comes: two are being written behind."""

        def __init__(self) -> None:
            super().__init__(b"x" * (BATCH_BYTES * 3))
            self.reads = 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads == 3:
                raise TransferAborted()
            return super().read(min(size, BATCH_BYTES))

    from omsh.commands.output import BufferOutput
    from omsh.commands.runtime import Shell

    staging = store.temporary_directory()
    before = set(os.listdir(staging))
    err = BufferOutput()
    shell = Shell(store, registry, admin.session, BufferOutput(), err, DropsOut())
    assert shell.execute("put /partial") == 1
    assert err.text == "omsh: put: transfer aborted\n"
    assert set(os.listdir(staging)) == before
    assert admin("stat /partial")[0] == 3


def test_an_aborted_replace_keeps_the_old_content(store, registry, admin) -> None:
    class DropsOut(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            raise TransferAborted()

    from omsh.commands.output import BufferOutput
    from omsh.commands.runtime import Shell

    admin.ok("put /keep", stdin=b"original")
    shell = Shell(store, registry, admin.session, BufferOutput(), BufferOutput(), DropsOut())
    assert shell.execute("put /keep") == 1
    assert admin.ok("cat /keep") == "original"


def test_put_into_own_home_as_alice(homes, alice) -> None:
    alice.ok("put /home/alice/note", stdin=b"mine")
    assert alice.ok("cat /home/alice/note") == "mine"
    assert json.loads(alice.ok("stat --json /home/alice/note"))["cdmi_owner"] == "alice"


def test_alice_may_read_but_not_replace_admins_object(homes, admin, alice) -> None:
    admin.ok("put /admins", stdin=b"secret-ish")
    assert alice("cat /admins")[0] == 4  # private until shared
    admin.ok("acl grant /admins alice read")
    assert alice.ok("cat /admins") == "secret-ish"
    status, _, err = alice("put /admins", stdin=b"overwrite")
    assert (status, err) == (4, "omsh: put: /admins: permission denied\n")
    status, _, err = alice("put /home/bob/intrusion", stdin=b"x")
    assert status == 4
    assert admin.ok("cat /admins") == "secret-ish"


def test_cat_range_forms(admin) -> None:
    admin.ok("put /r", stdin=b"0123456789")
    assert admin.ok("cat --range 2-4 /r") == "234"
    assert admin.ok("cat --range 7- /r") == "789"
    assert admin.ok("cat --range -3 /r") == "789"
    assert admin.ok("cat --range=-3 /r") == "789"
    assert admin.ok("cat --range 8-100 /r") == "89"
    assert admin.ok("cat --range -100 /r") == "0123456789"
    assert admin.ok("cat --range 0-0 /r") == "0"


def test_cat_range_across_chunks(admin) -> None:
    admin.ok("put /big", stdin=BIG)
    start, end = CHUNK_SIZE - 5, 2 * CHUNK_SIZE + 5
    admin.ok(f"cat --range {start}-{end} /big")
    assert bytes(admin.out.data) == BIG[start : end + 1]


@pytest.mark.parametrize("bad", ["", "-", "5-2", "a-b", "1-2-3", "-0", "0x1-2", " -"])
def test_bad_ranges_are_usage_errors(admin, bad) -> None:
    admin.ok("put /r", stdin=b"0123456789")
    status, out, err = admin(f"cat --range '{bad}' /r")
    assert status == 2
    assert out == ""
    assert err.startswith("omsh: cat: argument --range:")


def test_unsatisfiable_range(admin) -> None:
    admin.ok("put /r", stdin=b"0123456789")
    admin.ok("put /e")
    status, _, err = admin("cat --range 10- /r")
    assert (status, err) == (1, "omsh: cat: /r: range not satisfiable (object is 10 bytes)\n")
    assert admin("cat --range -1 /e")[0] == 1


def test_cat_of_a_container_and_of_nothing(admin) -> None:
    admin.ok("mkdir /c")
    assert admin("cat /c") == (1, "", "omsh: cat: /c: is a container\n")
    assert admin("cat /nope") == (3, "", "omsh: cat: /nope: not found\n")


def test_cat_goes_on_past_a_bad_path_and_reports_the_worst(admin) -> None:
    admin.ok("put /a", stdin=b"A")
    admin.ok("put /b", stdin=b"B")
    admin.ok("mkdir /c")
    status, out, err = admin("cat /a /nope /c /b")
    assert out == "AB"
    assert status == 3
    assert err.splitlines() == ["omsh: cat: /nope: not found", "omsh: cat: /c: is a container"]


def test_cat_wildcards(admin) -> None:
    admin.ok("mkdir /w")
    for name in ("a1", "a2", "b1"):
        admin.ok(f"put /w/{name}", stdin=name.encode())
    assert admin.ok("cat /w/a*") == "a1a2"
    assert admin("cat '/w/a*'")[0] == 3


def test_cat_json_streams_base64(admin) -> None:
    admin.ok("put /big", stdin=BIG)
    admin.ok("put /small", stdin=b"hello")
    lines = admin.ok("cat --json /big /small").splitlines()
    documents = [json.loads(line) for line in lines]
    assert [d["path"] for d in documents] == ["/big", "/small"]
    assert base64.b64decode(documents[0]["value"], validate=True) == BIG
    assert base64.b64decode(documents[1]["value"]) == b"hello"
    assert documents[0]["valuetransferencoding"] == "base64"
    assert documents[0]["objectid"] == object_id(admin, "/big")


def test_cat_json_range(admin) -> None:
    admin.ok("put /r", stdin=b"0123456789")
    document = json.loads(admin.ok("cat --json --range 1-4 /r"))
    assert base64.b64decode(document["value"]) == b"1234"


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1])
def test_base64_document_is_valid_for_any_chunking(size: int) -> None:
    from omsh.commands.output import BufferOutput

    data = os.urandom(size)
    out = BufferOutput()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)] or [b""]
    content_module.write_base64_document(out, {"path": "/p"}, pieces)
    document = json.loads(out.text)
    assert base64.b64decode(document["value"], validate=True) == data


def test_cat_notes_access_time(store, admin) -> None:
    admin.ok("put /t", stdin=b"x")

    def age(root) -> None:
        obj = root.tree.get("t")
        obj.atime = obj.mtime = obj.ctime = 1000.0

    store.run(age)
    admin.ok("cat /t")
    atime = store.read(lambda root: root.tree.get("t").atime)
    assert atime > 1000.0
    assert store.read(lambda root: root.tree.get("t").mtime) == 1000.0


def test_cat_reports_missing_blob_in_one_line(blobs_only, store, admin) -> None:
    admin.ok("put /lost", stdin=b"content")
    with blob_missing(store, "/lost"):
        status, out, err = admin("cat /lost")
    assert (status, out) == (1, "")
    assert err == "omsh: cat: /lost: content is missing from the blob store; run 'omsh check'\n"


# -- head -------------------------------------------------------------------------


def test_head_lines_and_bytes(admin) -> None:
    text = "".join(f"line {i}\n" for i in range(1, 30))
    admin.ok("put /lines", stdin=text.encode())
    assert admin.ok("head /lines") == "".join(f"line {i}\n" for i in range(1, 11))
    assert admin.ok("head -n 2 /lines") == "line 1\nline 2\n"
    assert admin.ok("head -n 0 /lines") == ""
    assert admin.ok("head -n 1000 /lines") == text
    assert admin.ok("head -c 3 /lines") == "lin"
    assert admin.ok("head -c 100000 /lines") == text


def test_head_without_trailing_newline(admin) -> None:
    admin.ok("put /n", stdin=b"a\nb")
    assert admin.ok("head -n 5 /n") == "a\nb"


def test_head_lines_across_chunks(admin) -> None:
    data = b"x" * (CHUNK_SIZE + 10) + b"\nsecond\nthird\n"
    admin.ok("put /long", stdin=data)
    admin.ok("head -n 2 /long")
    assert bytes(admin.out.data) == b"x" * (CHUNK_SIZE + 10) + b"\nsecond\n"


def test_head_several_paths_have_headers(admin) -> None:
    admin.ok("put /a", stdin=b"A\n")
    admin.ok("put /b", stdin=b"B\n")
    assert admin.ok("head /a /b") == "==> /a <==\nA\n\n==> /b <==\nB\n"


@pytest.mark.parametrize("line", ["head -n 1 -c 1 /a", "head -n -1 /a", "head -c x /a"])
def test_head_usage_errors(admin, line) -> None:
    admin.ok("put /a", stdin=b"A\n")
    assert admin(line)[0] == 2


def test_head_json(admin) -> None:
    admin.ok("put /a", stdin=b"1\n2\n3\n")
    document = json.loads(admin.ok("head --json -n 2 /a"))
    assert base64.b64decode(document["value"]) == b"1\n2\n"


# -- mkdir ------------------------------------------------------------------------


def test_mkdir_and_parents(admin) -> None:
    admin.ok("mkdir /a")
    assert admin("mkdir /a") == (5, "", "omsh: mkdir: /a: already exists\n")
    assert admin("mkdir /x/y") == (3, "", "omsh: mkdir: /x/y: no such container\n")
    admin.ok("mkdir -p /x/y/z")
    admin.ok("mkdir -p /x/y/z")
    assert admin.ok("ls /x/y") == "z/\n"


def test_mkdir_p_through_an_object(admin) -> None:
    admin.ok("put /f")
    status, _, err = admin("mkdir -p /f/sub")
    assert status == 5
    assert "not a container" in err


@pytest.mark.parametrize(
    ("name", "status"),
    [("'with space'", 0), ("ünï", 0), ("日本", 0), ("a" * 300, 1), ("'a\\b'", 0), (".", 5)],
)
def test_mkdir_odd_names(admin, name, status) -> None:
    assert admin(f"mkdir {name}")[0] == status


def test_mkdir_relative_to_cwd_and_json(admin) -> None:
    admin.ok("mkdir /a; cd /a")
    entry = json.loads(admin.ok("mkdir --json b"))
    assert entry["path"] == "/a/b"
    assert entry["type"] == "container"


def test_mkdir_several_goes_on_past_failures(admin) -> None:
    admin.ok("mkdir /exists")
    status, _, _ = admin("mkdir /one /exists /two")
    assert status == 5
    assert admin.ok("ls /") == "exists/\none/\ntwo/\n"


def test_alice_cannot_mkdir_in_admins_container(homes, alice) -> None:
    assert alice("mkdir /nope") == (4, "", "omsh: mkdir: /nope: permission denied\n")
    alice.ok("mkdir /home/alice/projects")


# -- rm ---------------------------------------------------------------------------


def test_rm_object_and_empty_container(admin) -> None:
    admin.ok("put /f; mkdir /empty")
    admin.ok("rm /f /empty")
    assert admin.ok("ls /") == ""


def test_rm_non_empty_needs_r(admin) -> None:
    admin.ok("mkdir -p /t/u; put /t/u/f")
    assert admin("rm /t") == (1, "", "omsh: rm: /t: container not empty\n")
    admin.ok("rm -r /t")
    assert admin("stat /t")[0] == 3


def test_rm_r_unregisters_ids(admin) -> None:
    admin.ok("mkdir -p /t/u; put /t/u/f")
    ids = [object_id(admin, path) for path in ("/t", "/t/u", "/t/u/f")]
    admin.ok("rm -r /t")

    def registered(root) -> list[bool]:
        return [object_id in root.by_id for object_id in ids]

    assert admin.store.read(registered) == [False, False, False]


def test_rm_force_ignores_missing(admin) -> None:
    assert admin("rm /missing") == (3, "", "omsh: rm: /missing: not found\n")
    assert admin("rm -f /missing") == (0, "", "")
    admin.ok("mkdir -p /t/u")
    assert admin("rm -f /t")[0] == 1  # -f is not -r


def test_rm_root_is_refused(admin) -> None:
    assert admin("rm -r /")[0] == 4


def test_rm_json(admin) -> None:
    admin.ok("put /f")
    expected = object_id(admin, "/f")
    entry = json.loads(admin.ok("rm --json /f"))
    assert entry == {"path": "/f", "type": "object", "objectid": expected, "removed": True}


def test_alice_cannot_remove_admins_objects(homes, admin, alice) -> None:
    admin.ok("put /home/alice/gift")
    assert alice("rm /home/alice/gift")[0] == 4
    alice.ok("put /home/alice/mine")
    alice.ok("rm /home/alice/mine")


def test_rm_r_needs_delete_on_the_whole_subtree(homes, admin, alice) -> None:
    alice.ok("mkdir /home/alice/d")
    admin.ok("put /home/alice/d/admins; acl grant /home/alice/d/admins alice read")
    assert alice("rm -r /home/alice/d") == (
        4,
        "",
        "omsh: rm: /home/alice/d/admins: permission denied\n",
    )
    assert admin.ok("cat /home/alice/d/admins") == ""


def _tree(driver) -> None:
    driver.ok("mkdir -p /t/u; put /t/a; put /t/u/b")


def _exists(driver, path: str) -> bool:
    return driver(f"stat {path}")[0] == 0


@pytest.mark.parametrize("answer", ["n", "", "no", "yess", None])
def test_rm_r_on_a_terminal_asks_and_anything_but_yes_keeps_everything(admin, answer) -> None:
    _tree(admin)
    admin.terminal = True
    admin.answers = [] if answer is None else [answer]
    status, _, err = admin("rm -r /t")
    assert admin.prompts == ["remove 4 objects under /t? [y/N] "]
    assert status == 1
    assert err == "omsh: rm: /t: cancelled, nothing removed\r\n"
    assert _exists(admin, "/t/u/b")


@pytest.mark.parametrize("answer", ["y", "YES", " yes "])
def test_rm_r_on_a_terminal_removes_after_yes(admin, answer) -> None:
    _tree(admin)
    admin.terminal = True
    admin.answers = [answer]
    assert admin("rm -r /t")[0] == 0
    assert not _exists(admin, "/t")


def test_rm_r_asks_only_on_a_terminal_for_more_than_one_object_and_not_with_f(admin) -> None:
    admin.ok("mkdir /empty; put /one")
    admin.terminal = True
    admin.ok("rm -r /empty /one")
    _tree(admin)
    admin.ok("rm -rf /t")
    assert admin.prompts == []
    admin.terminal = False
    _tree(admin)
    admin.ok("rm -r /t")
    assert admin.prompts == []


def test_rm_r_of_the_root_is_refused_without_asking(admin) -> None:
    admin.terminal = True
    assert admin("rm -r /")[0] == 4
    assert admin.prompts == []


def test_rm_i_asks_for_every_object_deepest_first(admin) -> None:
    _tree(admin)
    admin.terminal = True
    admin.answers = ["y", "y", "n", "y"]
    status, _, err = admin("rm -ri /t")
    assert admin.prompts == [
        "remove /t/a? [y/N] ",
        "remove /t/u/b? [y/N] ",
        "remove /t/u? [y/N] ",
        "remove /t? [y/N] ",
    ]
    assert (status, err) == (1, "omsh: rm: /t: container not empty\r\n")
    assert [_exists(admin, p) for p in ("/t/a", "/t/u/b", "/t/u", "/t")] == [
        False,
        False,
        True,
        True,
    ]


def test_rm_i_in_exec_mode_reads_answers_from_stdin(admin) -> None:
    admin.ok("put /a; put /b; put /c")
    status, out, err = admin("rm -i /a /b /c", stdin=b"y\nno\n")
    assert (status, out) == (0, "")
    assert err == "remove /a? [y/N] remove /b? [y/N] remove /c? [y/N] "
    assert [_exists(admin, p) for p in ("/a", "/b", "/c")] == [False, True, True]


def test_rm_f_overrides_i(admin) -> None:
    admin.ok("put /a")
    assert admin("rm -if /a /missing") == (0, "", "")
    assert not _exists(admin, "/a")


# -- mv and cp --------------------------------------------------------------------


def test_mv_renames_and_keeps_the_id(admin) -> None:
    admin.ok("put /a", stdin=b"A")
    before = object_id(admin, "/a")
    admin.ok("mv /a /b")
    assert object_id(admin, "/b") == before
    assert admin("stat /a")[0] == 3


def test_mv_into_container_and_several_sources(admin) -> None:
    admin.ok("mkdir /dir; put /a; put /b; put /c")
    admin.ok("mv /a /dir")
    admin.ok("mv /b /c /dir")
    assert admin.ok("ls /dir") == "a\nb\nc\n"


def test_mv_several_sources_need_a_container(admin) -> None:
    admin.ok("put /a; put /b; put /f")
    assert admin("mv /a /b /f")[0] == 1
    assert admin("mv /a /b /missing")[0] == 3
    assert admin.ok("ls /") == "a\nb\nf\n"


def test_mv_replaces_an_object_but_not_a_container(admin) -> None:
    admin.ok("put /a", stdin=b"A")
    admin.ok("put /b", stdin=b"B")
    admin.ok("mv /a /b")
    assert admin.ok("cat /b") == "A"
    assert admin("stat /a")[0] == 3
    admin.ok("mkdir /c; mkdir -p /d/c")
    assert admin("mv /c /d")[0] == 5


def test_mv_into_itself(admin) -> None:
    admin.ok("mkdir -p /a/b")
    status, _, err = admin("mv /a /a/b")
    assert status == 1
    assert "into itself" in err


def test_mv_follows_the_working_container(admin) -> None:
    admin.ok("mkdir -p /a/b; cd /a/b")
    admin.ok("mv /a /z")
    assert admin.ok("pwd") == "/z/b\n"


def test_mv_json(admin) -> None:
    admin.ok("put /a")
    entry = json.loads(admin.ok("mv --json /a /b"))
    assert (entry["source"], entry["path"]) == ("/a", "/b")


def test_cp_new_id_same_content(admin) -> None:
    admin.ok("put /a --meta k=v", stdin=b"payload")
    admin.ok("cp /a /b")
    assert object_id(admin, "/a") != object_id(admin, "/b")
    assert admin.ok("cat /b") == "payload"
    assert json.loads(admin.ok("meta --json /b"))["metadata"] == {"k": "v"}
    admin.ok("put /b", stdin=b"changed")
    assert admin.ok("cat /a") == "payload"


def test_cp_container_needs_r(admin) -> None:
    admin.ok("mkdir -p /src/sub")
    admin.ok("put /src/sub/f", stdin=b"F")
    status, _, err = admin("cp /src /dst")
    assert (status, err) == (1, "omsh: cp: /src: is a container (use -r)\n")
    admin.ok("cp -r /src /dst")
    assert admin.ok("cat /dst/sub/f") == "F"


def test_cp_into_itself(admin) -> None:
    admin.ok("mkdir -p /a/b")
    assert admin("cp -r /a /a/b")[0] == 1


def test_cp_several_sources(admin) -> None:
    admin.ok("mkdir /dir; put /a; put /b")
    admin.ok("cp /a /b /dir")
    assert admin.ok("ls /dir") == "a\nb\n"
    assert admin.ok("ls /") == "a\nb\ndir/\n"


def test_alice_copies_admins_object_into_her_home(homes, admin, alice) -> None:
    admin.ok("put /shared", stdin=b"S")
    admin.ok("acl grant /shared alice read")
    alice.ok("cp /shared /home/alice/")
    assert json.loads(alice.ok("stat --json /home/alice/shared"))["cdmi_owner"] == "alice"
    assert alice("cp /home/alice/shared /")[0] == 4
    assert alice("mv /shared /home/alice/moved")[0] == 4


@pytest.mark.parametrize("line", ["mv /a", "cp", "mv", "cp -x /a /b", "mv --bogus /a /b"])
def test_transfer_usage_errors(admin, line) -> None:
    admin.ok("put /a")
    assert admin(line)[0] == 2


# -- verify -----------------------------------------------------------------------


def test_verify_ok(admin) -> None:
    admin.ok("put /a", stdin=b"A")
    admin.ok("mkdir /d; put /d/b", stdin=b"B")
    assert admin.ok("verify /a") == "OK /a\n"
    assert admin.ok("verify -r /") == "OK /a\nOK /d/b\n"
    assert admin.ok("verify -r d") == "OK d/b\n"


def test_verify_detects_corruption(blobs_only, store, admin) -> None:
    admin.ok("put /a", stdin=b"original")
    admin.ok("put /b", stdin=b"fine")
    filename = blob_filename(store, "/a")
    os.chmod(filename, 0o600)
    with open(filename, "r+b") as stream:
        stream.write(b"O")
    status, out, _ = admin("verify /a /b")
    assert status == 1
    assert out == "FAILED /a\nOK /b\n"
    entries = [json.loads(line) for line in admin("verify --json /a")[1].splitlines()]
    assert entries[0]["status"] == "FAILED"
    assert entries[0]["computed_hash"] == hashlib.sha256(b"Original").hexdigest()
    assert entries[0]["cdmi_hash"] == hashlib.sha256(b"original").hexdigest()


def test_verify_missing_blob(blobs_only, store, admin) -> None:
    admin.ok("put /a", stdin=b"x")
    with blob_missing(store, "/a"):
        status, out, _ = admin("verify --json /a")
    entry = json.loads(out)
    assert status == 1
    assert (entry["status"], entry["computed_hash"], entry["computed_size"]) == (
        "FAILED",
        None,
        None,
    )


def test_verify_errors(admin) -> None:
    admin.ok("mkdir /c; put /a")
    assert admin("verify /c") == (1, "", "omsh: verify: /c: is a container (use -r)\n")
    status, out, _ = admin("verify /nope /a")
    assert (status, out) == (3, "OK /a\n")
