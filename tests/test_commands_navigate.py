"""pwd, cd, ls, tree and stat."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def tree(admin):
    """/docs/{a.txt,b.txt,.hidden,sub/c.txt} and /empty."""
    admin.ok("mkdir -p /docs/sub /empty")
    for path in ("/docs/a.txt", "/docs/b.txt", "/docs/.hidden", "/docs/sub/c.txt"):
        admin.ok(f"put {path}", stdin=path.encode())
    return admin


def test_pwd_and_cd(tree) -> None:
    assert tree.ok("pwd") == "/\n"
    tree.ok("cd docs")
    assert tree.ok("pwd") == "/docs\n"
    tree.ok("cd sub/..//sub/.")
    assert tree.ok("pwd") == "/docs/sub\n"
    tree.ok("cd ../../../..")
    assert tree.ok("pwd") == "/\n"
    assert json.loads(tree.ok("pwd --json")) == {"path": "/"}


def test_cd_dash_goes_back(tree) -> None:
    assert tree("cd -") == (1, "", "omsh: cd: no previous container\n")
    tree.ok("cd /docs; cd /empty")
    assert tree.ok("cd -") == "/docs\n"
    assert tree.ok("cd -") == "/empty\n"


def test_cd_without_argument_goes_to_the_root(tree) -> None:
    tree.ok("cd /docs/sub; cd")
    assert tree.ok("pwd") == "/\n"


def test_cd_errors(tree) -> None:
    assert tree("cd /docs/a.txt") == (1, "", "omsh: cd: /docs/a.txt: not a container\n")
    assert tree("cd /nowhere") == (3, "", "omsh: cd: /nowhere: not found\n")
    assert tree("cd a b")[0] == 2
    assert tree.ok("pwd") == "/\n"


def test_ls_plain_hidden_and_json(tree) -> None:
    assert tree.ok("ls /docs") == "a.txt\nb.txt\nsub/\n"
    assert tree.ok("ls -a /docs") == ".hidden\na.txt\nb.txt\nsub/\n"
    entries = [json.loads(line) for line in tree.ok("ls --json /docs").splitlines()]
    assert [(e["name"], e["type"]) for e in entries] == [
        ("a.txt", "object"),
        ("b.txt", "object"),
        ("sub", "container"),
    ]
    assert entries[0]["path"] == "/docs/a.txt"
    assert entries[0]["cdmi_size"] == len("/docs/a.txt")


def test_ls_long(tree) -> None:
    lines = tree.ok("ls -l /docs").splitlines()
    assert len(lines) == 3
    fields = lines[0].split()
    assert fields[0] == "-"
    assert fields[1] == "admin"
    assert fields[2] == str(len("/docs/a.txt"))
    assert fields[-1] == "a.txt"
    assert lines[2].startswith("d") and lines[2].endswith("sub/")


def test_ls_recursive_and_directory(tree) -> None:
    assert tree.ok("ls -R /docs") == "/docs:\na.txt\nb.txt\nsub/\n\n/docs/sub:\nc.txt\n"
    assert tree.ok("ls -d /docs") == "/docs/\n"


def test_ls_objects_and_containers_together(tree) -> None:
    assert (
        tree.ok("ls /docs/a.txt /empty /docs/sub")
        == "/docs/a.txt\n\n/empty:\n\n/docs/sub:\nc.txt\n"
    )


def test_ls_wildcards(tree) -> None:
    assert tree.ok("ls /docs/*.txt") == "/docs/a.txt\n/docs/b.txt\n"
    assert tree.ok("ls -d /docs/*") == "/docs/a.txt\n/docs/b.txt\n/docs/sub/\n"
    assert tree.ok("ls -d /docs/.*") == "/docs/.hidden\n"
    assert tree("ls '/docs/*.txt'")[0] == 3  # quoted: a literal name
    assert tree("ls /docs/*.none")[0] == 3


def test_ls_relative_and_missing(tree) -> None:
    tree.ok("cd /docs")
    assert tree.ok("ls sub") == "c.txt\n"
    status, out, err = tree("ls sub missing")
    assert status == 3
    assert out == "c.txt\n"
    assert err == "omsh: ls: missing: not found\n"


def test_ls_odd_names(admin) -> None:
    admin.ok("mkdir '/with space' /ünï '/tab\there'")
    out = admin.ok("ls /")
    assert out == "tab\\x09here/\nwith space/\nünï/\n"


def test_tree(tree) -> None:
    assert tree.ok("tree /docs") == (
        "/docs\n├── a.txt\n├── b.txt\n└── sub/\n    └── c.txt\n\n1 containers, 3 objects\n"
    )
    assert tree.ok("tree -L 1 /docs").endswith("└── sub/\n\n1 containers, 2 objects\n")
    document = json.loads(tree.ok("tree --json -a /docs"))
    assert [child["name"] for child in document["children"]] == [".hidden", "a.txt", "b.txt", "sub"]
    assert tree("tree -L 0")[0] == 2
    assert tree("tree /nope")[0] == 3


def test_stat(tree) -> None:
    out = tree.ok("stat /docs/a.txt")
    assert "Path:      /docs/a.txt" in out
    assert "Mimetype:  text/plain" in out
    entry = json.loads(tree.ok("stat --json /docs/a.txt"))
    assert len(entry["objectid"]) == 40
    assert entry["cdmi_owner"] == "admin"
    assert entry["metadata_items"] == 0
    container = json.loads(tree.ok("stat --json /docs"))
    assert (container["type"], container["cdmi_size"]) == ("container", 4)


def test_stat_several_with_a_failure(tree) -> None:
    status, out, err = tree("stat --json /docs /nope /empty")
    assert status == 3
    assert [json.loads(line)["path"] for line in out.splitlines()] == ["/docs", "/empty"]
    assert err == "omsh: stat: /nope: not found\n"


def test_paths_with_nul_or_too_long_names(admin) -> None:
    status, _, err = admin("stat " + "x" * 300)
    assert status == 1
    assert "limit is 255" in err
