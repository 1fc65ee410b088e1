"""The ACL engine: parsing, CDMI form, evaluation order and inheritance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsh.store.access import (
    ANONYMOUS_PRINCIPAL,
    InheritanceCache,
    Perm,
    Principal,
    check_access,
)
from omsh.store.acl import (
    ACE,
    INHERIT,
    AceFlag,
    AceType,
    InvalidACL,
    default_root_acl,
    open_root_entries,
    parse_perms,
    perm_letters,
    with_entry,
    without_entries,
)
from omsh.store.model import Container, DataObject

ALICE = Principal("alice", frozenset({"staff"}))
BOB = Principal("bob", frozenset({"interns"}))
CAROL = Principal("carol", frozenset({"staff", "interns"}))
ADMIN = Principal("root", frozenset({"admins"}))
READ, WRITE = parse_perms("r"), parse_perms("w")


def tree(depth: int = 3) -> tuple[list[Container], DataObject]:
    """/c0/c1/.../obj with the default root ACL; owner of everything is 'root'."""
    root = Container("", "root", "0" * 40)
    root.acl = default_root_acl()
    chain = [root]
    for level in range(depth):
        child = Container(f"c{level}", "root", f"{level:040d}")
        chain[-1].attach(child, child.__name__)
        chain.append(child)
    obj = DataObject("obj", "root", "f" * 40, "text/plain")
    chain[-1].attach(obj, "obj")
    return chain, obj


def allow(identifier: str, perms: str, flags: AceFlag = AceFlag.NONE) -> ACE:
    return ACE(AceType.ALLOW, identifier, flags, parse_perms(perms))


def deny(identifier: str, perms: str, flags: AceFlag = AceFlag.NONE) -> ACE:
    return ACE(AceType.DENY, identifier, flags, parse_perms(perms))


def test_default_acl_is_private_owner_all_others_nothing():
    chain, obj = tree()
    assert check_access(Principal("root"), obj, Perm.all())
    assert check_access(ADMIN, obj, Perm.all())
    for someone in (ALICE, ANONYMOUS_PRINCIPAL):
        assert not check_access(someone, obj, Perm.READ_METADATA)
        assert not check_access(someone, chain[0], Perm.READ)
    assert open_root_entries(chain[0]) == []


def test_an_opened_root_is_named_by_open_root_entries():
    chain, obj = tree()
    chain[0].acl = with_entry(chain[0].acl, AceType.ALLOW, "AUTHENTICATED@", READ, inherit=True)
    assert check_access(ALICE, obj, READ)
    assert [ace.identifier for ace in open_root_entries(chain[0])] == ["AUTHENTICATED@"]
    chain[0].acl = with_entry(chain[0].acl, AceType.ALLOW, "EVERYONE@", READ)  # not inherited
    assert [ace.identifier for ace in open_root_entries(chain[0])] == ["AUTHENTICATED@"]


def test_administrators_are_always_allowed():
    _chain, obj = tree()
    obj.acl = (deny("EVERYONE@", "all"),)
    assert check_access(ADMIN, obj, Perm.all())
    assert not check_access(Principal("root"), obj, Perm.READ)


def test_inherited_grant_three_levels_deep():
    chain, obj = tree(3)
    chain[1].acl = (allow("alice", "rw", INHERIT),)
    assert check_access(ALICE, obj, WRITE)
    assert check_access(ALICE, chain[3], WRITE)
    assert not check_access(BOB, obj, WRITE)


def test_group_entries_need_the_group_flag():
    chain, obj = tree()
    chain[1].acl = (allow("staff", "w", INHERIT | AceFlag.IDENTIFIER_GROUP),)
    assert check_access(ALICE, obj, WRITE)
    assert check_access(CAROL, obj, WRITE)
    assert not check_access(BOB, obj, WRITE)
    chain[1].acl = (allow("staff", "w", INHERIT),)  # a user named staff, not the group
    assert not check_access(ALICE, obj, WRITE)


def test_own_deny_overrides_inherited_allow():
    chain, obj = tree()
    chain[1].acl = (allow("alice", "rw", INHERIT),)
    obj.acl = (deny("alice", "w"),)
    assert not check_access(ALICE, obj, WRITE)
    assert check_access(ALICE, obj, READ)


def test_nearest_ancestor_decides_first():
    chain, obj = tree()
    chain[1].acl = (allow("staff", "w", INHERIT | AceFlag.IDENTIFIER_GROUP),)
    chain[2].acl = (deny("alice", "w", INHERIT),)
    assert not check_access(ALICE, obj, WRITE)
    assert check_access(CAROL, obj, WRITE)


def test_first_matching_entry_decides_each_bit():
    _chain, obj = tree()
    obj.acl = (allow("alice", "w"), deny("alice", "w"))
    assert check_access(ALICE, obj, WRITE)
    obj.acl = (deny("alice", "w"), allow("alice", "w"))
    assert not check_access(ALICE, obj, WRITE)


def test_all_requested_bits_are_needed():
    chain, obj = tree()
    obj.acl = (allow("alice", "w"),)
    assert not check_access(ALICE, obj, WRITE | READ)  # the private default gives no read
    chain[1].acl = (allow("alice", "r", INHERIT),)
    assert check_access(ALICE, obj, WRITE | READ)  # read inherited from /c0
    obj.acl = (allow("alice", "w"), deny("alice", "r"))
    assert not check_access(ALICE, obj, WRITE | READ)


def test_inherit_flags_select_objects_or_containers():
    chain, obj = tree()
    chain[1].acl = (allow("alice", "w", AceFlag.OBJECT_INHERIT),)
    assert check_access(ALICE, obj, WRITE)
    assert not check_access(ALICE, chain[2], WRITE)
    chain[1].acl = (allow("alice", "w", AceFlag.CONTAINER_INHERIT),)
    assert not check_access(ALICE, obj, WRITE)
    assert check_access(ALICE, chain[2], WRITE)


def test_no_propagate_reaches_direct_children_only():
    chain, obj = tree()
    chain[2].acl = (allow("alice", "w", INHERIT | AceFlag.NO_PROPAGATE),)
    assert check_access(ALICE, chain[3], WRITE)
    assert not check_access(ALICE, obj, WRITE)


def test_inherit_only_does_not_apply_to_its_own_container():
    chain, obj = tree()
    chain[3].acl = (allow("alice", "w", INHERIT | AceFlag.INHERIT_ONLY),)
    assert not check_access(ALICE, chain[3], WRITE)
    assert check_access(ALICE, obj, WRITE)


def test_anonymous_only_through_anonymous_or_everyone():
    _chain, obj = tree()
    obj.acl = (allow("AUTHENTICATED@", "r"),)
    assert not check_access(ANONYMOUS_PRINCIPAL, obj, Perm.READ)
    obj.acl = (allow("ANONYMOUS@", "r"),)
    assert check_access(ANONYMOUS_PRINCIPAL, obj, Perm.READ)
    obj.acl = (allow("EVERYONE@", "r"),)
    assert check_access(ANONYMOUS_PRINCIPAL, obj, Perm.READ)
    anonymous_owned = DataObject("x", "ANONYMOUS@", "e" * 40, "text/plain")
    anonymous_owned.acl = (allow("OWNER@", "all"),)
    assert not check_access(ANONYMOUS_PRINCIPAL, anonymous_owned, Perm.WRITE)


def test_changing_a_container_acl_changes_the_subtree_at_once():
    chain, obj = tree()
    cache = InheritanceCache()
    assert not check_access(ALICE, obj, WRITE, cache)
    chain[1].acl = (allow("alice", "w", INHERIT),)
    cache.clear()
    assert check_access(ALICE, obj, WRITE, cache)
    assert check_access(ALICE, obj, WRITE)  # no cache at all: always current


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("r", Perm.READ | Perm.READ_ATTRIBUTES | Perm.READ_METADATA | Perm.READ_ACL),
        ("m", Perm.WRITE_METADATA),
        ("read-metadata", Perm.READ_METADATA | Perm.READ_ATTRIBUTES),
        ("read-acl,write-acl", Perm.READ_ACL | Perm.WRITE_ACL),
        ("0x00000003", Perm.READ | Perm.WRITE),
        ("all", Perm.all()),
        ("READ_OBJECT,ADD_SUBCONTAINER", Perm.READ | Perm.APPEND),
    ],
)
def test_permission_spellings(text, expected):
    assert parse_perms(text) == expected


@pytest.mark.parametrize("text", ["", "rx", "fly", "0xZZ", "0x80000000", ",,"])
def test_bad_permission_spellings(text):
    with pytest.raises(InvalidACL):
        parse_perms(text)


def test_letters_show_whole_rights_only():
    assert perm_letters(parse_perms("rw")) == "rw---"
    assert perm_letters(Perm.READ) == "-----"
    assert perm_letters(Perm.all()) == "rwdam"


def test_cdmi_form_round_trips_and_accepts_names():
    ace = ACE(AceType.DENY, "staff", INHERIT | AceFlag.IDENTIFIER_GROUP, parse_perms("rw"))
    assert ACE.from_cdmi(ace.to_cdmi()) == ace
    named = ACE.from_cdmi(
        {
            "acetype": "ALLOW",
            "identifier": "EVERYONE@",
            "aceflags": "OBJECT_INHERIT, CONTAINER_INHERIT",
            "acemask": "READ_OBJECT, READ_METADATA",
        }
    )
    assert named.aceflags == INHERIT
    assert named.acemask == Perm.READ | Perm.READ_METADATA


@pytest.mark.parametrize(
    "entry",
    [
        {"acetype": "MAYBE", "identifier": "alice", "acemask": "0x1"},
        {"acetype": "ALLOW", "identifier": "", "acemask": "0x1"},
        {"acetype": "ALLOW", "identifier": "NOBODY@", "acemask": "0x1"},
        {"acetype": "ALLOW", "identifier": "alice", "acemask": "FLY"},
        {"acetype": "ALLOW", "identifier": "alice", "acemask": 1},
        {"acetype": "ALLOW", "identifier": "alice", "aceflags": "0x100000", "acemask": "0x1"},
        {"acetype": "ALLOW", "identifier": "alice"},
        ["not", "a", "dict"],
    ],
)
def test_bad_cdmi_entries(entry):
    with pytest.raises(InvalidACL):
        ACE.from_cdmi(entry)


def test_grant_merges_deny_goes_first_revoke_removes_bits():
    acl = with_entry((), AceType.ALLOW, "alice", parse_perms("r"))
    acl = with_entry(acl, AceType.ALLOW, "alice", parse_perms("w"))
    assert len(acl) == 1 and acl[0].acemask == parse_perms("rw")
    acl = with_entry(acl, AceType.DENY, "bob", parse_perms("d"))
    assert acl[0].acetype is AceType.DENY
    acl = without_entries(acl, "alice", mask=parse_perms("w"))
    assert acl[1].acemask == parse_perms("r")
    assert without_entries(acl, "alice") == (acl[0],)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([AceType.ALLOW, AceType.DENY]),
            st.sampled_from(["alice", "bob", "EVERYONE@", "OWNER@"]),
            st.sampled_from([Perm.READ, Perm.WRITE, Perm.DELETE, Perm.READ | Perm.WRITE]),
        ),
        max_size=6,
    ),
    st.sampled_from([Perm.READ, Perm.WRITE, Perm.READ | Perm.WRITE]),
)
def test_decision_matches_a_bit_by_bit_reference(entries, requested):
    chain, obj = tree(1)
    for container in chain:
        container.acl = ()
    obj.acl = tuple(ACE(t, i, AceFlag.NONE, m) for t, i, m in entries)

    def reference(bit: Perm) -> bool:
        for acetype, identifier, mask in entries:
            if bit & mask and identifier in ("alice", "EVERYONE@"):
                return acetype is AceType.ALLOW
        return False

    expected = all(reference(bit) for bit in Perm if bit and bit & requested)
    assert check_access(ALICE, obj, requested) == expected


def test_missing_names_under_an_unlistable_container_say_permission_denied(store):
    from omsh.errors import NotFound, PermissionDenied
    from omsh.store.acl import AceType, with_entry
    from omsh.store.view import StoreView

    def setup(root) -> None:
        admin = StoreView.for_user(root, "admin")
        private = admin.make_container("/private")
        admin.make_container("/private/inner")
        private.acl = with_entry((), AceType.DENY, "alice", parse_perms("r"), inherit=False)

    store.run(setup)

    def outcome(path: str) -> type[Exception]:
        def attempt(root):
            StoreView.for_user(root, "alice").resolve(path)

        try:
            store.read(attempt)
        except (NotFound, PermissionDenied) as exc:
            return type(exc)
        return type(None)

    assert outcome("/private/nothing-here") is PermissionDenied
    assert outcome("/private/nothing/deeper") is PermissionDenied
    assert outcome("/private/inner") is type(None)  # existing, checked on its own ACL
    assert outcome("/elsewhere") is PermissionDenied  # a private root: alice may not list /
    store.run(
        lambda root: StoreView.for_user(root, "admin").replace_acl(
            root.tree, "/", with_entry(root.tree.acl, AceType.ALLOW, "alice", READ), action="acl"
        )
    )
    assert outcome("/elsewhere") is NotFound


def test_letters_and_words_mix_in_one_list():
    assert parse_perms("r,write-acl") == parse_perms("r") | Perm.WRITE_ACL
    assert parse_perms("rw, m") == parse_perms("rwm")


def test_inherit_only_entries_and_exact_masks():
    acl = with_entry(
        (), AceType.ALLOW, "staff", parse_perms("rw"), is_group=True, inherit_only=True
    )
    assert acl[0].aceflags == INHERIT | AceFlag.INHERIT_ONLY | AceFlag.IDENTIFIER_GROUP
    merged = with_entry(
        acl, AceType.ALLOW, "staff", parse_perms("d"), is_group=True, inherit_only=True
    )
    assert merged[0].acemask == parse_perms("rwd")
    exact = with_entry(
        merged,
        AceType.ALLOW,
        "staff",
        parse_perms("r"),
        is_group=True,
        inherit_only=True,
        merge=False,
    )
    assert len(exact) == 1 and exact[0].acemask == parse_perms("r")


def test_revoking_only_selected_entries():
    acl = (deny("alice", "w"), allow("alice", "rw", INHERIT))
    only_denies = without_entries(acl, "alice", only=lambda ace: ace.acetype is AceType.DENY)
    assert only_denies == (acl[1],)
    assert without_entries(
        acl, "alice", mask=parse_perms("w"), only=lambda ace: ace.inheritable
    ) == (
        acl[0],
        allow("alice", "r", INHERIT),
    )


def test_cached_verdicts_still_depend_on_owner_and_group():
    chain, obj = tree()
    chain[0].acl = ()
    chain[1].acl = (allow("OWNER@", "w", INHERIT), allow("GROUP@", "d", INHERIT))
    mine = DataObject("mine", "alice", "a" * 40, "text/plain")
    chain[3].attach(mine, "mine")
    theirs = DataObject("theirs", "bob", "b" * 40, "text/plain")
    theirs.group = "staff"
    chain[3].attach(theirs, "theirs")
    cache = InheritanceCache()
    delete = parse_perms("d")
    assert check_access(ALICE, mine, WRITE, cache)
    assert not check_access(ALICE, obj, WRITE, cache)  # owned by root
    assert not check_access(ALICE, theirs, WRITE, cache)
    assert check_access(BOB, theirs, WRITE, cache)
    assert check_access(ALICE, theirs, delete, cache)  # alice is in staff
    assert not check_access(ALICE, mine, delete, cache)  # mine has no group
    assert not check_access(BOB, theirs, delete, cache)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from([AceType.ALLOW, AceType.DENY]),
            st.sampled_from(["alice", "staff", "OWNER@", "GROUP@", "EVERYONE@"]),
            st.sampled_from([INHERIT, AceFlag.OBJECT_INHERIT, INHERIT | AceFlag.NO_PROPAGATE]),
            st.sampled_from([Perm.READ, Perm.WRITE, Perm.READ | Perm.WRITE]),
        ),
        max_size=8,
    ),
    st.lists(st.tuples(st.sampled_from(["alice", "bob"]), st.booleans()), min_size=1, max_size=4),
)
def test_one_cache_for_many_objects_decides_as_no_cache(entries, objects):
    chain, _obj = tree(3)
    for container in chain:
        container.acl = ()
    for level, acetype, identifier, flags, mask in entries:
        if identifier == "staff":
            flags |= AceFlag.IDENTIFIER_GROUP
        chain[level].acl = (*chain[level].acl, ACE(acetype, identifier, flags, mask))
    siblings = []
    for index, (owner, in_staff) in enumerate(objects):
        sibling = DataObject(f"o{index}", owner, f"{index:040d}", "text/plain")
        sibling.group = "staff" if in_staff else "other"
        chain[3].attach(sibling, sibling.__name__)
        siblings.append(sibling)
    cache = InheritanceCache()
    for who in (ALICE, BOB, CAROL):
        for sibling in siblings:
            for perms in (Perm.READ, Perm.WRITE, Perm.READ | Perm.WRITE):
                assert check_access(who, sibling, perms, cache) == check_access(who, sibling, perms)
