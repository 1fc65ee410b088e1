"""Sizes: ``ls -lh``, ``du``, ``df`` and the ``-h`` rule (help is ``--help`` where ``-h`` is taken).

Human-readable sizes are checked against GNU ``ls -lh`` itself on sparse
files; ``du`` and ``df`` against a walk of the tree.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess

import pytest

from omsh.commands.formatting import human_size
from omsh.commands.registry import command_factories, default_registry
from omsh.store.model import Container, DataObject, walk
from omsh.store.usage import catalog_totals, store_figures
from omsh.store.view import StoreView

#: Sizes around every rounding edge GNU ls -h has (under 10 one decimal, 1023.x → next unit).
EDGES = [0, 5, 512, 1023, 1024, 1025, 1536, 10239, 10240, 10241, 102400, 1048575, 1048576]
EDGES += [4718592, 1288490189, 1099511627776, 2**50 + 1]


def gnu_ls_sizes(folder, sizes: list[int]) -> dict[int, str]:
    """What GNU ``ls -lh`` prints for sparse files of *sizes* (those the disk allows)."""
    ls = shutil.which("ls")
    if ls is None or b"GNU" not in subprocess.run([ls, "--version"], capture_output=True).stdout:
        pytest.skip("GNU ls is not installed (Debian package: coreutils)")
    made = []
    for size in sizes:
        with open(folder / f"f{size}", "wb") as handle:
            try:
                handle.truncate(size)
            except OSError:
                continue
        made.append(size)
    listing = subprocess.run(
        [ls, "-lh", "--time-style=+", *[f"f{size}" for size in made]],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout
    shown = {int(line.split()[-1][1:]): line.split()[4] for line in listing.splitlines()}
    assert set(shown) == set(made)
    return shown


def test_human_sizes_are_what_gnu_ls_prints(tmp_path) -> None:
    expected = gnu_ls_sizes(tmp_path, EDGES)
    assert len(expected) > 10
    assert {size: human_size(size, bytes_unit="") for size in expected} == expected
    assert human_size(5) == "5B"  # the completion hint keeps its unit


# -- ls -lh ------------------------------------------------------------------------


@pytest.fixture
def sized(admin):
    """/s holding objects of a few sizes and a container."""
    admin.ok("mkdir -p /s/sub")
    for size in (0, 5, 1025, 10241, 1048576):
        admin.ok(f"put /s/f{size}", stdin=b"x" * size)
    return admin


def sizes_column(out: str) -> dict[str, str]:
    return {line.split()[-1]: line.split()[2] for line in out.splitlines()}


def test_ls_lh_shows_human_sizes_and_ls_l_bytes(sized, tmp_path) -> None:
    human = sizes_column(sized.ok("ls -lh /s"))
    gnu = gnu_ls_sizes(tmp_path, [0, 5, 1025, 10241, 1048576])
    assert human == {"sub/": "0", **{f"f{size}": text for size, text in gnu.items()}}
    assert sized.ok("ls -lh /s") == sized.ok("ls -l -h /s") == sized.ok("ls --long -h /s")
    assert sized.ok("ls --long --human-readable /s") == sized.ok("ls -hl /s")
    assert sizes_column(sized.ok("ls -l /s"))["f1048576"] == "1048576"


def test_ls_h_keeps_json_in_bytes_and_is_harmless_without_l(sized) -> None:
    assert sized.ok("ls -lh --json /s/f1025") == sized.ok("ls -l --json /s/f1025")
    assert json.loads(sized.ok("ls -h --json /s/f1025"))["cdmi_size"] == 1025
    assert sized.ok("ls -h /s") == sized.ok("ls /s")


# -- the -h rule -------------------------------------------------------------------

_FACTORIES = command_factories(default_registry())
CLAIMING = {"ls", "dir", "du", "df"}


def test_exactly_the_sizes_commands_claim_dash_h() -> None:
    claiming = {
        name
        for name, factory in _FACTORIES.items()
        if any("-h" in declared.flags for declared in factory.arguments)
    }
    assert claiming == CLAIMING


@pytest.mark.parametrize("name", sorted(CLAIMING))
def test_where_dash_h_is_taken_help_is_double_dash_help(admin, name) -> None:
    text = admin.ok(f"{name} --help")
    assert text.startswith(f"usage: {_FACTORIES[name].name} [--help]")
    assert "-h, --human-readable" in text
    assert admin.ok(f"help {name}") == text
    assert not admin.ok(f"{name} -h /").startswith("usage:")


def test_dash_h_is_still_help_elsewhere(admin) -> None:
    assert re.search(r"^  -h, --help +show this help", admin.ok("stat -h"), re.M)
    # Even when the rest of the line is wrong, -h asks for help.
    assert admin.ok("mkdir -h --bogus").startswith("usage: mkdir")


def test_the_rule_is_documented_in_help(admin) -> None:
    listing = admin.ok("help")
    assert "--help" in listing and "ls, du, df" in listing


# -- du ----------------------------------------------------------------------------


@pytest.fixture
def tree(admin):
    """/p: x (1500), a/y (100), a/b/z (5000), c/w (7), e/ (empty)."""
    admin.ok("mkdir -p /p/a/b /p/c /p/e")
    for path, size in (("x", 1500), ("a/y", 100), ("a/b/z", 5000), ("c/w", 7)):
        admin.ok(f"put /p/{path}", stdin=b"d" * size)
    return admin


def lines(out: str) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in out.splitlines()]


def test_du_prints_containers_after_their_contents(tree) -> None:
    assert lines(tree.ok("du /p")) == [
        ("5000", "/p/a/b"),
        ("5100", "/p/a"),
        ("7", "/p/c"),
        ("0", "/p/e"),
        ("6607", "/p"),
    ]


def test_du_all_summary_depth_total_and_human(tree) -> None:
    with_objects = lines(tree.ok("du -a /p"))
    assert with_objects[:3] == [("5000", "/p/a/b/z"), ("5000", "/p/a/b"), ("100", "/p/a/y")]
    assert ("1500", "/p/x") in with_objects and with_objects[-1] == ("6607", "/p")
    assert lines(tree.ok("du -s /p")) == [("6607", "/p")]
    assert tree.ok("du -sh /p") == "6.5K\t/p\n"
    assert lines(tree.ok("du -d 1 /p")) == [
        ("5100", "/p/a"),
        ("7", "/p/c"),
        ("0", "/p/e"),
        ("6607", "/p"),
    ]
    assert lines(tree.ok("du --max-depth=0 -c /p/a /p/x")) == [
        ("5100", "/p/a"),
        ("1500", "/p/x"),
        ("6600", "total"),
    ]


def test_du_names_paths_as_they_were_written(tree) -> None:
    tree.ok("cd /p/a")
    assert lines(tree.ok("du")) == [("5000", "./b"), ("5100", ".")]
    assert lines(tree.ok("du b ../c/")) == [("5000", "b"), ("7", "../c/")]
    assert lines(tree.ok("du -s /")) == [("6607", "/")]
    assert lines(tree.ok("du -d 1 /"))[-2:] == [("6607", "/p"), ("6607", "/")]


def test_du_json_is_bytes(tree) -> None:
    documents = [json.loads(line) for line in tree.ok("du -h -c --json -d 1 /p").splitlines()]
    assert documents[0] == {"path": "/p/a", "type": "container", "bytes": 5100}
    assert documents[-2:] == [{"path": "/p", "type": "container", "bytes": 6607}, {"total": 6607}]


def test_du_bad_input_is_one_line_and_a_status(tree) -> None:
    assert tree("du /nope") == (3, "", "omsh: du: /nope: not found\n")
    assert tree("du -s -a /p")[0] == 2
    assert tree("du -s -d 2 /p")[0] == 2
    status, out, err = tree("du -d -1 /p")
    assert (status, out) == (2, "") and "less than 0" in err
    # One bad path does not stop the others; the status is the worst.
    status, out, err = tree("du -s /nope /p")
    assert (status, out, err) == (3, "6607\t/p\n", "omsh: du: /nope: not found\n")


def test_du_counts_only_what_the_caller_can_see(admin, alice, homes) -> None:
    admin.ok("mkdir -p /shared/open /shared/closed")
    admin.ok("put /shared/open/a", stdin=b"a" * 10)
    admin.ok("put /shared/closed/b", stdin=b"b" * 1000)
    admin.ok("put /shared/hidden", stdin=b"h" * 100)
    admin.ok("acl grant /shared alice r --inherit")
    admin.ok("acl deny /shared/closed alice 0x1")  # seen, not listable
    admin.ok("acl deny /shared/hidden alice read-metadata")
    assert lines(alice.ok("du -a /shared")) == [
        ("0", "/shared/closed"),
        ("10", "/shared/open/a"),
        ("10", "/shared/open"),
        ("10", "/shared"),
    ]
    assert lines(admin.ok("du -s /shared")) == [("1110", "/shared")]
    assert alice("du /shared/closed") == (4, "", "omsh: du: /shared/closed: permission denied\n")
    assert alice("du /home")[0] == 4


def test_du_equals_a_walk_of_a_random_tree(admin, store) -> None:
    rng = random.Random(11)
    containers = ["/r"]
    admin.ok("mkdir /r")
    for index in range(120):
        parent = rng.choice(containers)
        if rng.random() < 0.3:
            containers.append(f"{parent}/c{index}")
            admin.ok(f"mkdir {containers[-1]}")
        else:
            admin.ok(f"put {parent}/o{index}", stdin=b"z" * rng.randrange(0, 3000))

    def walked(root) -> dict[str, int]:
        totals = {}
        for _, obj in walk(StoreView.for_user(root, "admin").lookup("/r")):
            if isinstance(obj, Container):
                totals[obj.path] = sum(o.size for _, o in walk(obj) if isinstance(o, DataObject))
        return totals

    expected = store.read(walked)
    shown = {path: int(size) for size, path in lines(admin.ok("du /r"))}
    assert shown == expected


# -- df ----------------------------------------------------------------------------


def walk_figures(root) -> tuple[int, int, int]:
    objects = [obj for _, obj in walk(root.tree)]
    data = [obj for obj in objects if isinstance(obj, DataObject)]
    return len(data), len(objects) - len(data), sum(obj.size for obj in data)


def test_df_is_the_whole_store_and_follows_changes(tree, alice, store) -> None:
    figures = json.loads(alice.ok("df --json"))
    assert (figures["objects"], figures["containers"], figures["used"]) == store.read(walk_figures)
    assert figures["used"] == 6607
    assert figures["size"] == figures["used"] + figures["available"]
    assert figures["blobs_local"] is True
    free = shutil.disk_usage(store.db.storage.blob_dir).free
    assert abs(figures["available"] - free) < 64 * 2**20
    tree.ok("rm -r /p/a")
    tree.ok("put /p/x", stdin=b"1")
    after = json.loads(tree.ok("df --json"))
    assert (after["objects"], after["used"]) == (figures["objects"] - 2, 1 + 7)
    assert after["containers"] == figures["containers"] - 2
    assert store.read(lambda root: catalog_totals(root.catalog)) == (
        after["objects"],
        after["containers"] - 1,  # the root is not in the catalog
        after["used"],
    )


def test_df_text_and_human(tree) -> None:
    header, row = tree.ok("df").splitlines()
    assert header.split() == ["Size", "Used", "Avail", "Use%", "Objects", "Containers"]
    size, used, avail, percent, objects, _ = row.split()
    assert used == "6607" and int(size) == int(used) + int(avail) and percent == "1%"
    human = tree.ok("df -h").splitlines()[1].split()
    assert human[1] == "6.5K" and human[4] == objects


def test_store_figures_count_the_root(store) -> None:
    figures = store.read(store_figures)
    assert (figures.objects, figures.containers, figures.used) == (0, 1, 0)  # the root alone


def test_the_completer_offers_what_the_parser_takes(store, registry) -> None:
    """Flags come from the same declaration: ``-h`` is human-readable for ls, help for stat."""
    from tests.test_interactive import completions

    offered = {c.display_text: c.display_meta_text for c in completions(store, registry, "ls -")}
    assert offered["-h"].startswith("with -l, sizes as 1.0K")
    assert offered["--help"] == "show this help and exit"
    stat_flags = {
        c.display_text: c.display_meta_text for c in completions(store, registry, "stat -")
    }
    assert stat_flags["-h"] == "show this help and exit"
    assert {c.display_text for c in completions(store, registry, "du --h")} == {
        "--help",
        "--human-readable",
    }
