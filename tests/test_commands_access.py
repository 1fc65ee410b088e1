"""acl, getfacl and setfacl: listing, editing, checking, and refusing bad input."""

from __future__ import annotations

import json

import pytest

from omsh.commands.access import Acl, parse_facl_entry, split_entries
from omsh.errors import UsageError
from omsh.store import admin as administration
from omsh.store.acl import ACE, INHERIT, AceFlag, AceType, parse_perms
from omsh.store.view import StoreView


@pytest.fixture
def proj(store, admin):
    """/proj/a/b/obj owned by admin; group staff = {alice}; nothing granted yet."""

    def groups(root) -> None:
        view = StoreView.for_user(root, "admin")
        administration.add_group(view, "staff")
        administration.add_member(view, "staff", "alice")

    store.run(groups)
    admin.ok("mkdir -p /proj/a/b")
    admin.ok("put /proj/a/b/obj", stdin=b"data")
    return admin


def listing(driver, path: str) -> dict:
    return json.loads(driver.ok(f"acl --json {path}"))


def rows(driver, path: str) -> list[list[str]]:
    """The table rows of `acl PATH`, cells split on runs of two spaces."""
    lines = driver.ok(f"acl {path}").splitlines()
    assert lines[0] == f"# file: {path}"
    assert lines[2].split() == ["FROM", "TYPE", "PRINCIPAL", "PERMS", "WORDS", "FLAGS"]
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[3:]]


def audit_actions(store) -> list[tuple[str, str, str]]:
    return store.read(lambda root: [(e.action, e.target, e.detail) for e in root.audit.events()])


# -- listing ----------------------------------------------------------------


def test_listing_is_in_evaluation_order_with_sources(proj):
    proj.ok("acl grant /proj g:staff rw --inherit")
    proj.ok("acl deny /proj/a/b bob w")
    proj.ok("acl grant /proj/a/b alice d")
    assert rows(proj, "/proj/a/b") == [
        ["own", "deny", "bob", "-w---", "write", "-"],
        ["own", "allow", "alice", "--d--", "delete", "-"],
        ["inherited from /proj", "allow", "g:staff", "rw---", "read,write", "inherit"],
        ["inherited from /", "allow", "OWNER@", "rwdam", "all", "inherit"],
    ]


def test_json_gives_the_own_acl_in_cdmi_form_and_inherited_entries_apart(proj):
    proj.ok("acl grant /proj g:staff r --inherit")
    proj.ok("acl deny /proj/a bob 0x2")
    document = listing(proj, "/proj/a")
    assert set(document) == {"path", "objectid", "owner", "cdmi_acl", "inherited"}
    assert document["path"] == "/proj/a" and document["owner"] == "admin"
    assert document["cdmi_acl"] == [
        {"acetype": "DENY", "identifier": "bob", "aceflags": "0x00000000", "acemask": "0x00000002"}
    ]
    own = [ACE.from_cdmi(entry) for entry in document["cdmi_acl"]]
    assert own == [ACE(AceType.DENY, "bob", AceFlag.NONE, parse_perms("0x2"))]
    sources = [(entry["source"], entry["identifier"]) for entry in document["inherited"]]
    assert sources == [("/proj", "staff"), ("/", "OWNER@")]
    staff = ACE.from_cdmi(document["inherited"][0])
    assert staff.is_group and staff.aceflags & INHERIT == INHERIT


def test_empty_acl_says_only_administrators(proj):
    proj.ok("setfacl -b /")
    out = proj.ok("acl /proj")
    assert "(no entries: only administrators have access)" in out
    assert listing(proj, "/proj")["inherited"] == []


def test_reading_an_acl_needs_read_acl(proj, alice):
    proj.ok("acl grant /proj alice read --inherit")
    proj.ok("acl deny /proj/a alice read-acl")
    status, out, err = alice("acl /proj/a")
    assert (status, out) == (4, "")
    assert err == "omsh: acl: /proj/a: permission denied\n"
    assert alice("acl /proj")[0] == 0


def test_an_object_named_like_an_action_is_shown_by_its_path(proj):
    proj.ok("put /proj/grant", stdin=b"")
    proj.ok("cd /proj")
    assert listing(proj, "./grant")["path"] == "/proj/grant"
    assert proj("acl grant")[0] == 2


# -- grant, deny, revoke ---------------------------------------------------------


def test_grant_then_revoke_write(proj, bob):
    assert bob("put /proj/a/new", stdin=b"x")[0] == 4
    proj.ok("acl grant /proj/a bob w")
    bob.ok("put /proj/a/new", stdin=b"x")
    proj.ok("acl revoke /proj/a bob")
    status, _, err = bob("put /proj/a/other", stdin=b"x")
    assert status == 4 and "permission denied" in err


def test_revoke_some_bits_keeps_the_rest(proj, bob):
    proj.ok("acl grant /proj/a bob rwd")
    proj.ok("acl revoke /proj/a bob w")
    assert listing(proj, "/proj/a")["cdmi_acl"][0]["acemask"] == hex_mask("rd")
    assert json.loads(bob.ok("acl check /proj/a --json"))["letters"] == "r-d--"


def hex_mask(perms: str) -> str:
    return f"0x{int(parse_perms(perms)):08x}"


def test_grant_merges_into_the_same_entry(proj):
    proj.ok("acl grant /proj bob r")
    proj.ok("acl grant /proj bob read-metadata,write-metadata")
    assert listing(proj, "/proj")["cdmi_acl"] == [
        {
            "acetype": "ALLOW",
            "identifier": "bob",
            "aceflags": "0x00000000",
            "acemask": hex_mask("r,write-metadata"),
        }
    ]


def test_without_inherit_a_grant_stays_on_its_object(proj, bob):
    proj.ok("acl grant /proj/a bob w")
    assert bob("put /proj/a/b/x", stdin=b"")[0] == 4
    proj.ok("acl grant /proj/a bob w --inherit")
    bob.ok("put /proj/a/b/x", stdin=b"")


def test_deny_overrides_an_inherited_allow_and_the_last_command_wins(proj, alice):
    proj.ok("acl grant /proj g:staff w --inherit")
    alice.ok("put /proj/a/b/mine", stdin=b"")
    proj.ok("acl deny /proj/a/b alice w")
    assert alice("put /proj/a/b/again", stdin=b"")[0] == 4
    proj.ok("acl grant /proj/a/b alice w")
    alice.ok("put /proj/a/b/again", stdin=b"")
    assert [entry["acetype"] for entry in listing(proj, "/proj/a/b")["cdmi_acl"]] == ["ALLOW"]


def test_everyone_special_identifiers_and_lowercase(proj, bob):
    proj.ok("acl deny /proj/a everyone@ r")
    assert listing(proj, "/proj/a")["cdmi_acl"][0]["identifier"] == "EVERYONE@"
    assert bob("ls /proj/a")[0] == 4


def test_recursive_grant_changes_the_whole_subtree_in_one_audited_step(proj, store, bob):
    result = json.loads(proj.ok("acl grant -R /proj/a bob w --json"))
    assert result["objects"] == 3 and result["changed"] == 3
    for path in ("/proj/a", "/proj/a/b", "/proj/a/b/obj"):
        assert listing(proj, path)["cdmi_acl"][0]["identifier"] == "bob"
    bob.ok("put /proj/a/b/obj", stdin=b"replaced")
    events = [event for event in audit_actions(store) if event[0] == "acl-grant"]
    assert events == [("acl-grant", "/proj/a", "allow bob write recursive objects=3")]
    again = json.loads(proj.ok("acl grant -R /proj/a bob w --json"))
    assert again["changed"] == 0


def test_recursive_edit_is_all_or_nothing_and_names_nothing_hidden(proj, alice, bob):
    proj.ok("acl grant /proj alice read --inherit")
    proj.ok("acl grant -R /proj/a alice all")
    proj.ok("acl deny /proj/a/b alice r,write-acl")
    status, _, err = alice("acl grant -R /proj/a bob r")
    assert status == 4
    assert err == "omsh: acl: /proj/a: permission denied\n"  # b is not listable: not named
    assert [e["identifier"] for e in listing(proj, "/proj/a")["cdmi_acl"]] == ["alice"]
    proj.ok("acl revoke /proj/a/b alice r")
    status, _, err = alice("acl grant -R /proj/a bob r")
    assert (status, err) == (4, "omsh: acl: /proj/a/b: permission denied\n")


def test_owners_edit_their_acls_others_may_not(store, proj, alice, bob, homes):
    alice.ok("put /home/alice/diary", stdin=b"dear")
    assert bob("acl grant /home/alice/diary bob w")[0] == 4
    alice.ok("acl deny /home/alice/diary AUTHENTICATED@ r")
    assert bob("cat /home/alice/diary")[:2] == (4, "")
    alice.ok("acl grant /home/alice/diary bob r")
    assert bob("cat /home/alice/diary")[0] == 4  # an own deny goes before own allows
    alice.ok("acl revoke /home/alice/diary AUTHENTICATED@")
    assert bob.ok("cat /home/alice/diary") == "dear"
    assert alice.ok("cat /home/alice/diary") == "dear"


def test_a_removed_principal_can_still_be_revoked_and_does_not_block_edits(store, proj):
    proj.ok("acl grant /proj g:staff r")
    proj.ok("acl grant /proj bob r")

    def drop(root) -> None:
        view = StoreView.for_user(root, "admin")
        administration.delete_user(view, "bob")
        administration.delete_group(view, "staff")

    store.run(drop)
    proj.ok("acl grant /proj alice w")  # stale entries are kept, not refused
    proj.ok("acl revoke /proj bob")
    proj.ok("acl revoke /proj staff")
    assert [e["identifier"] for e in listing(proj, "/proj")["cdmi_acl"]] == ["alice"]
    status, _, err = proj("acl revoke /proj bob")
    assert (status, err) == (3, "omsh: acl: bob: no such user or group\n")
    assert proj("acl grant /proj bob r")[0] == 3


@pytest.mark.parametrize(
    ("line", "status", "message"),
    [
        ("acl grant /proj ghost r", 3, "ghost: no such user or group"),
        ("acl grant /proj u:ghost r", 3, "ghost: no such user"),
        ("acl grant /proj g:alice r", 3, "alice: no such group"),
        ("acl grant /nowhere bob r", 3, "/nowhere: not found"),
        ("acl grant /proj bob rx", 2, "rx: unknown permission 'rx'"),
        ("acl grant /proj bob 0xZZ", 2, "0xZZ: '0xZZ': not a hex mask"),
        ("acl grant /proj bob ,", 2, ",: empty permission list"),
        ("acl deny /proj NOBODY@ r", 2, "NOBODY@: unknown special identifier"),
        ("acl grant /proj u: r", 2, "u:: ACE identifier must be a non-empty string"),
        ("acl grant /proj bob", 2, "usage: acl grant PATH PRINCIPAL PERMS"),
        ("acl revoke /proj", 2, "usage: acl revoke PATH PRINCIPAL [PERMS]"),
        ("acl check", 2, "usage: acl check PATH"),
        ("acl /proj bob", 2, "usage: acl PATH"),
        ("acl /proj -R", 2, "-R goes with acl grant, deny or revoke, not acl PATH"),
        ("acl check /proj --inherit", 2, "--inherit goes with acl grant or deny"),
        ("acl grant /proj bob r --user bob", 2, "--user goes with acl check"),
        ("acl check /proj --user ghost", 3, "ghost: no such user"),
        ("setfacl /proj", 2, "nothing to do"),
        ("setfacl -m u:bob /proj", 2, "u:bob: expected u:NAME:PERMS, g:NAME:PERMS"),
        ("setfacl -m u:bob: /proj", 2, "expected u:NAME:PERMS"),
        ("setfacl -m m::r /proj", 2, "m::r: expected u:NAME:PERMS"),
        ("setfacl -m bob:r /proj", 2, "bob:r: expected u:NAME:PERMS"),
        ("setfacl -x bob /proj", 2, "bob: expected u:NAME, g:NAME, o: or SPECIAL@\n"),
        ("setfacl -x NOBODY@ /proj", 2, "NOBODY@: expected u:NAME, g:NAME"),
        ("setfacl -m u:bob:rz /proj", 2, "unknown permission"),
        ("setfacl -m u:ghost:r /proj", 3, "ghost: no such user"),
        ("setfacl -x g:ghost /proj", 3, "ghost: no such group"),
    ],
)
def test_bad_input(proj, line, status, message):
    got, out, err = proj(line)
    assert (got, out) == (status, "")
    assert err.startswith(f"omsh: {line.split()[0]}: ") and message in err, err
    assert err.count("\n") == 1


# -- check ------------------------------------------------------------------------


def test_check_prints_letters_and_each_word(proj, alice):
    proj.ok("acl grant /proj g:staff r,w,write-metadata --inherit")
    out = alice.ok("acl check /proj/a/b/obj")
    lines = out.splitlines()
    assert lines[0] == "/proj/a/b/obj: rw--m (user alice)"
    answers = dict(line.split() for line in lines[1:])
    assert answers == {
        "read": "yes",
        "write": "yes",
        "delete": "no",
        "read-acl": "yes",
        "write-acl": "no",
        "read-metadata": "yes",
        "write-metadata": "yes",
    }


def test_check_another_user_is_for_administrators(proj, alice):
    proj.ok("acl grant /proj bob read")
    status, _, err = alice("acl check /proj --user bob")
    assert (status, err) == (4, "omsh: acl: bob: permission denied (administrators only)\n")
    assert json.loads(alice.ok("acl check /proj --user alice --json"))["user"] == "alice"
    document = json.loads(proj.ok("acl check /proj --user bob --json"))
    assert document == {
        "path": "/proj",
        "user": "bob",
        "letters": "r----",
        "acemask": hex_mask("r"),
        "permissions": {
            "read": True,
            "write": False,
            "delete": False,
            "read-acl": True,
            "write-acl": False,
            "read-metadata": True,
            "write-metadata": False,
        },
    }
    assert json.loads(proj.ok("acl check /proj --json"))["letters"] == "rwdam"


# -- getfacl and setfacl ------------------------------------------------------------


def test_getfacl_is_acl_for_several_paths(proj):
    proj.ok("acl grant /proj/a bob r")
    out = proj.ok("getfacl /proj /proj/a")
    first, second = out.split("\n\n")
    assert first + "\n" == proj.ok("acl /proj")
    assert second == proj.ok("acl /proj/a")
    lines = proj.ok("getfacl --json /proj /proj/a").splitlines()
    assert [json.loads(line) for line in lines] == [
        listing(proj, "/proj"),
        listing(proj, "/proj/a"),
    ]
    status, out, err = proj("getfacl /proj /missing /proj/a")
    assert status == 3 and out.count("# file:") == 2 and "/missing: not found" in err


def test_setfacl_modify_sets_exactly(proj, bob):
    proj.ok("setfacl -m u:bob:rw /proj/a")
    proj.ok("setfacl -m u:bob:r /proj/a")
    assert listing(proj, "/proj/a")["cdmi_acl"][0]["acemask"] == hex_mask("r")
    proj.ok("setfacl -m u:bob:read,write,g:staff:m /proj/a")
    own = listing(proj, "/proj/a")["cdmi_acl"]
    assert [(e["identifier"], e["acemask"]) for e in own] == [
        ("bob", hex_mask("rw")),
        ("staff", hex_mask("m")),
    ]


def test_setfacl_default_entries_reach_below_but_not_the_container(proj, bob):
    proj.ok("setfacl -d -m u:bob:w /proj/a")
    assert bob("mkdir /proj/a/new")[0] == 4  # not on /proj/a itself
    bob.ok("put /proj/a/b/x", stdin=b"")  # but on everything below
    own = listing(proj, "/proj/a")["cdmi_acl"]
    assert own[0]["aceflags"] == "0x0000000b"  # OBJECT|CONTAINER_INHERIT|INHERIT_ONLY
    proj.ok("setfacl -m u:bob:w /proj/a")
    proj.ok("setfacl -x u:bob /proj/a")  # the access entry only
    assert [e["aceflags"] for e in listing(proj, "/proj/a")["cdmi_acl"]] == ["0x0000000b"]
    proj.ok("setfacl -d -x u:bob /proj/a")
    assert listing(proj, "/proj/a")["cdmi_acl"] == []


def test_setfacl_posix_names_and_clear(proj, alice):
    proj.ok("setfacl -m u::rwdam,g::r,o::r,d:g:staff:w -m AUTHENTICATED@:m /proj")
    own = [(e["identifier"], e["aceflags"]) for e in listing(proj, "/proj")["cdmi_acl"]]
    assert own == [
        ("OWNER@", "0x00000000"),
        ("GROUP@", "0x00000000"),
        ("EVERYONE@", "0x00000000"),
        ("staff", "0x0000004b"),
        ("AUTHENTICATED@", "0x00000000"),
    ]
    proj.ok("setfacl -b -m u:alice:r /proj")
    assert [e["identifier"] for e in listing(proj, "/proj")["cdmi_acl"]] == ["alice"]
    proj.ok("setfacl -R -b /proj")
    assert all(not listing(proj, p)["cdmi_acl"] for p in ("/proj", "/proj/a/b/obj"))


def test_setfacl_several_paths_go_on_past_a_failure(proj):
    status, _, err = proj("setfacl -m u:bob:r /proj/a /missing /proj/a/b")
    assert status == 3 and "/missing: not found" in err
    assert listing(proj, "/proj/a/b")["cdmi_acl"][0]["identifier"] == "bob"


def test_entry_splitting_keeps_permission_words_together():
    assert split_entries("u:a:r,g:b:read,write,d:o::r,EVERYONE@:w") == [
        "u:a:r",
        "g:b:read,write",
        "d:o::r",
        "EVERYONE@:w",
    ]
    entry = parse_facl_entry("default:g:staff:rw", with_perms=True)
    assert (entry.principal.identifier, entry.principal.is_group, entry.default) == (
        "staff",
        True,
        True,
    )
    with pytest.raises(UsageError):
        parse_facl_entry("x:y:r", with_perms=True)


def test_help_documents_the_forms_and_the_json_shape(proj):
    out = proj.ok("acl -h")
    for text in ("acl grant PATH PRINCIPAL PERMS", '"cdmi_acl"', '"inherited"', "acl check"):
        assert text in out
    assert Acl.details and "getfacl" in proj.ok("help")
