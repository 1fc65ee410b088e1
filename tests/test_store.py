"""The store on its own: IDs, names, metadata typing, the tree, transactions."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ZODB.POSException import ConflictError

from omsh.errors import (
    AlreadyExists,
    InvalidName,
    IsAContainer,
    NotEmpty,
    NotFound,
    OmshError,
    PermissionDenied,
    TransferAborted,
)
from omsh.store import database, model
from omsh.store.acl import READ_WORD, AceType, parse_perms, with_entry
from omsh.store.admin import known_principals
from omsh.store.content import ContentUpload
from omsh.store.database import ConflictPersists, Store
from omsh.store.ids import (
    DEFAULT_ENTERPRISE_NUMBER,
    InvalidObjectID,
    crc16,
    new_object_id,
    parse_object_id,
)
from omsh.store.metadata import (
    MAX_ITEMS,
    MAX_VALUE_BYTES,
    InvalidMetadata,
    MisspelledValue,
    format_item,
    format_timestamp,
    parse_value,
    split_key,
    to_text,
    validate_key,
)
from omsh.store.model import Container, DataObject, walk
from omsh.store.names import normalize_path, validate_name
from omsh.store.query import parse_query
from omsh.store.view import StoreView


def as_user(store: Store, user: str, work, *, write: bool = True):
    """Run *work* on a StoreView for *user* in one transaction."""
    return store.run(lambda root: work(StoreView.for_user(root, user)), write=write)


def put(store: Store, path: str, data: bytes, user: str = "admin", **options) -> str:
    """Store *data* at *path*; returns the object ID."""
    upload = ContentUpload(store.temporary_directory())
    try:
        upload.write(data)
        return as_user(store, user, lambda v: v.store_data(path, upload, **options).object_id)
    finally:
        upload.discard()


def share(store: Store, path: str, user: str) -> None:
    """Let *user* read the object at *path*: a fresh store is private."""

    def grant(view: StoreView) -> None:
        obj = view.resolve(path)
        view.replace_acl(obj, path, with_entry(obj.acl, AceType.ALLOW, user, READ_WORD), action="t")

    as_user(store, "admin", grant)


def content(store: Store, path: str) -> bytes:
    stored = as_user(store, "admin", lambda v: v.open_content(v.resolve(path), path)[1])
    with stored.open() as stream:
        return stream.read()


# -- object IDs ------------------------------------------------------------


def test_crc16_is_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D


def test_new_object_id_round_trips_and_carries_the_enterprise_number() -> None:
    object_id = new_object_id()
    assert len(object_id) == 40
    assert object_id == object_id.upper()
    assert parse_object_id(object_id) == object_id
    assert parse_object_id(object_id.lower()) == object_id
    raw = bytes.fromhex(object_id)
    assert int.from_bytes(raw[1:4], "big") == DEFAULT_ENTERPRISE_NUMBER
    assert raw[5] == 20


def test_every_single_digit_corruption_is_detected() -> None:
    object_id = new_object_id()
    for position, digit in enumerate(object_id):
        replacement = "0" if digit != "0" else "1"
        corrupted = object_id[:position] + replacement + object_id[position + 1 :]
        with pytest.raises(InvalidObjectID):
            parse_object_id(corrupted)


@pytest.mark.parametrize("text", ["", "ABC", "0" * 40, "ZZ" * 20, "00" * 8, "00" * 41])
def test_malformed_object_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidObjectID):
        parse_object_id(text)


# -- names and paths ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "with space", " leading", "trailing ", "ünïcødé", "日本語", "...", ".hidden", "a" * 255],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "nul\0byte", "a" * 256, "é" * 128, "x" * 300, "\ud800"],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_name(name)


def test_name_limit_counts_utf8_bytes() -> None:
    assert validate_name("é" * 127)  # 254 bytes
    with pytest.raises(InvalidName, match="256 bytes"):
        validate_name("é" * 128)


@pytest.mark.parametrize(
    ("path", "cwd", "expected"),
    [
        ("/", "/", "/"),
        ("..", "/", "/"),
        ("../../..", "/a/b", "/"),
        ("/a/../../b", "/", "/b"),
        ("a//b/./c/", "/x", "/x/a/b/c"),
        ("with space/ü", "/", "/with space/ü"),
    ],
)
def test_normalize_path(path: str, cwd: str, expected: str) -> None:
    assert normalize_path(path, cwd) == expected


@pytest.mark.parametrize("path", ["a\0b", "/" + "a/" * 2100, "/" + "x" * 300])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidName):
        normalize_path(path)


# -- metadata typing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", 5),
        ("-5", -5),
        ("+5", 5),
        ("9223372036854775807", 2**63 - 1),
        ("5.0", 5.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("true", True),
        ("FALSE", False),
        ("abc", "abc"),
        ("", ""),
        ("nan", "nan"),
        ("inf", "inf"),
        ("0x10", "0x10"),
        ("1_000", "1_000"),
        ("٣", "٣"),  # Arabic-Indic three: text, not the number 3
        ("2024-13-01", "2024-13-01"),
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8, tzinfo=UTC)),
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_value_types(text: str, expected: object) -> None:
    value = parse_value(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("007", "str", "007"),
        ("true", "str", "true"),
        ("007", "int", 7),
        ("-5", "int", -5),
        ("5", "float", 5.0),
        ("1e3", "float", 1000.0),
        ("TRUE", "bool", True),
        ("false", "bool", False),
        ("2024-01-01", "time", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T10:00:00Z", "datetime", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_an_explicit_type_decides(text: str, kind: str, expected: object) -> None:
    value = parse_value(text, kind)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1.5", "int"),
        ("abc", "float"),
        ("inf", "float"),
        ("yes", "bool"),
        ("1", "bool"),
        ("now", "time"),
        ("2024-02-30", "datetime"),
    ],
)
def test_a_misspelled_explicit_value_is_a_usage_error(text: str, kind: str) -> None:
    with pytest.raises(MisspelledValue) as caught:
        parse_value(text, kind)
    assert caught.value.exit_status == 2
    assert f"not a {kind}: write " in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("n", ("n", None)),
        ("n:int", ("n", "int")),
        ("n:time", ("n", "datetime")),
        ("dc:title", ("dc:title", None)),
        ("a:b:str", ("a:b", "str")),
        ("n:INT", ("n:INT", None)),
        ("n:", ("n:", None)),
        (":str", ("", "str")),
    ],
)
def test_split_key(spec: str, expected: tuple[str, str | None]) -> None:
    assert split_key(spec) == expected


@pytest.mark.parametrize(
    "text", ["9" * 5000, "9223372036854775808", "-9223372036854775809", "1e999"]
)
def test_out_of_range_numbers_are_refused_not_crashing(text: str) -> None:
    with pytest.raises(InvalidMetadata):
        parse_value(text)


def test_leading_zeros_do_not_count_against_the_integer_range() -> None:
    assert parse_value("0" * 30 + "7") == 7


@pytest.mark.parametrize("key", ["", "cdmi_size", "a=b", "tab\there", "k" * 256])
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidMetadata):
        validate_key(key)


def test_value_size_limit() -> None:
    parse_value("v" * MAX_VALUE_BYTES, "str")
    with pytest.raises(InvalidMetadata):
        parse_value("v" * (MAX_VALUE_BYTES + 1), "str")


def test_timestamps_have_four_digit_years() -> None:
    assert format_timestamp(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000000Z"
    assert format_timestamp(0.0) == "1970-01-01T00:00:00.000000Z"


def test_a_date_that_leaves_the_calendar_in_utc_is_refused() -> None:
    with pytest.raises(InvalidMetadata):
        parse_value("0001-01-01T00:00:00+01:00")


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integers_round_trip_through_text(number: int) -> None:
    assert parse_value(to_text(number)) == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_through_text(number: float) -> None:
    value = parse_value(to_text(number))
    assert value == number
    assert isinstance(value, float)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_datetimes_round_trip_through_text(moment: datetime) -> None:
    assert parse_value(to_text(parse_value(moment.isoformat()))) == moment


@given(
    st.text(max_size=10).filter(lambda key: "=" not in key),
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["007", "1.5", "true", "2024-01-01", "9" * 30]),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    ),
)
def test_a_formatted_item_reads_back_as_the_same_value_and_type(key: str, value: object) -> None:
    """``format_item`` uses ``KEY:TYPE=`` exactly where the text alone would re-type."""
    spec, _, text = format_item(key, value).partition("=")
    name, kind = split_key(spec)
    parsed = parse_value(text, kind)
    assert (name, parsed, type(parsed)) == (key, value, type(value))


def test_format_item_is_plain_where_it_can_be() -> None:
    assert format_item("n", 5) == "n=5"
    assert format_item("code", "007") == "code:str=007"
    assert format_item("flag", "true") == "flag:str=true"
    assert format_item("x:int", 5) == "x:int:int=5"
    assert format_item("title", "a b") == "title=a b"
    assert format_item("big", "9" * 30) == "big:str=" + "9" * 30


# -- the tree ------------------------------------------------------------------


def test_put_then_replace_keeps_the_object_id_and_merges_metadata(store: Store) -> None:
    first = put(store, "/doc.txt", b"one", metadata={"a": 1})
    second = put(store, "/doc.txt", b"two!", metadata={"b": "x"})
    assert first == second
    assert content(store, "/doc.txt") == b"two!"

    def inspect(view: StoreView) -> tuple:
        obj = view.resolve("/doc.txt")
        return obj.size, obj.sha256, obj.metadata, obj.mimetype

    size, sha256, metadata, mimetype = as_user(store, "admin", inspect, write=False)
    assert size == 4
    assert sha256 == hashlib.sha256(b"two!").hexdigest()
    assert metadata == {"a": 1, "b": "x"}
    assert mimetype == "text/plain"


def test_a_new_object_is_modified_when_it_is_created_and_a_replaced_one_later(store: Store) -> None:
    put(store, "/doc.txt", b"one")

    def times(view: StoreView) -> tuple[float, float]:
        obj = view.resolve("/doc.txt")
        return obj.ctime, obj.mtime

    ctime, mtime = as_user(store, "admin", times, write=False)
    assert mtime == ctime
    put(store, "/doc.txt", b"two")
    ctime_after, mtime_after = as_user(store, "admin", times, write=False)
    assert ctime_after == ctime and mtime_after > ctime


def test_put_onto_a_container_is_refused(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/box"))
    with pytest.raises(IsAContainer):
        put(store, "/box", b"x")


def test_copy_gets_a_new_id_and_the_same_content(store: Store, homes: None) -> None:
    original = put(store, "/a", b"payload", metadata={"k": "v"})
    share(store, "/a", "alice")
    as_user(store, "alice", lambda v: v.copy("/a", "/home/alice/b"))

    def inspect(view: StoreView) -> tuple:
        obj = view.resolve("/home/alice/b")
        return obj.object_id, obj.owner, obj.metadata, view.by_object_id(obj.object_id).path

    object_id, owner, metadata, path = as_user(store, "admin", inspect, write=False)
    assert object_id != original
    assert owner == "alice"
    assert metadata == {"k": "v"}
    assert path == "/home/alice/b"
    assert content(store, "/home/alice/b") == b"payload"
    assert content(store, "/a") == b"payload"


def test_recursive_copy_registers_every_new_id(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/src/sub/deeper", parents=True))
    put(store, "/src/sub/file", b"f")
    as_user(store, "admin", lambda v: v.copy("/src", "/dst", recursive=True))

    def ids(view: StoreView, top: str) -> dict[str, str]:
        return {rel: obj.object_id for rel, obj in walk(view.resolve(top))}

    source = as_user(store, "admin", lambda v: ids(v, "/src"), write=False)
    copy = as_user(store, "admin", lambda v: ids(v, "/dst"), write=False)
    assert source.keys() == copy.keys() == {"", "sub", "sub/deeper", "sub/file"}
    assert not set(source.values()) & set(copy.values())

    def registered(view: StoreView) -> list[str]:
        return [view.by_object_id(object_id).path for object_id in copy.values()]

    assert sorted(as_user(store, "admin", registered, write=False)) == [
        "/dst",
        "/dst/sub",
        "/dst/sub/deeper",
        "/dst/sub/file",
    ]


def test_copy_without_recursion_refuses_a_container(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/c"))
    with pytest.raises(IsAContainer):
        as_user(store, "admin", lambda v: v.copy("/c", "/d"))


def test_move_keeps_the_id_and_the_id_map_follows(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/dir"))
    object_id = put(store, "/x", b"x")
    as_user(store, "admin", lambda v: v.move("/x", "/dir"))
    path = as_user(store, "admin", lambda v: v.by_object_id(object_id).path, write=False)
    assert path == "/dir/x"


def test_move_into_itself_is_refused(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/a/b", parents=True))
    with pytest.raises(OmshError, match="into itself"):
        as_user(store, "admin", lambda v: v.move("/a", "/a/b"))


def test_recursive_remove_unregisters_every_id(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/t/u", parents=True))
    put(store, "/t/u/f", b"data")
    ids = as_user(
        store, "admin", lambda v: [o.object_id for _, o in walk(v.resolve("/t"))], write=False
    )
    with pytest.raises(NotEmpty):
        as_user(store, "admin", lambda v: v.remove("/t"))
    as_user(store, "admin", lambda v: v.remove("/t", recursive=True))
    for object_id in ids:
        with pytest.raises(NotFound):
            as_user(store, "admin", lambda v, i=object_id: v.by_object_id(i), write=False)


def test_the_root_cannot_be_removed_or_recreated(store: Store) -> None:
    with pytest.raises(PermissionDenied):
        as_user(store, "admin", lambda v: v.remove("/", recursive=True))
    with pytest.raises(AlreadyExists):
        as_user(store, "admin", lambda v: v.make_container("/"))


def test_others_may_read_but_not_write(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/private"))
    with pytest.raises(PermissionDenied):
        as_user(store, "alice", lambda v: v.make_container("/private/mine"))
    with pytest.raises(PermissionDenied):
        as_user(store, "alice", lambda v: v.check_can_store("/private/f"))
    assert as_user(store, "alice", lambda v: v.resolve("/private").path, write=False) == "/private"


def test_each_read_operation_needs_its_own_right(store: Store) -> None:
    """The rights chosen in StoreView: seeing needs read-metadata, listing and reading read."""
    as_user(store, "admin", lambda v: v.make_container("/box"))
    put(store, "/box/f", b"x")

    def allow(path: str, words: str) -> None:
        def grant(view: StoreView) -> None:
            obj = view.resolve(path)
            entry = with_entry(obj.acl, AceType.ALLOW, "alice", parse_perms(words))
            view.replace_acl(obj, path, entry, action="t")

        as_user(store, "admin", grant)

    def rights(view: StoreView) -> tuple[bool, ...]:
        box, f = view.resolve("/box"), view.resolve("/box/f")
        return view.can_see(box), view.can_list(box), view.can_see(f), view.can_read(f)

    assert as_user(store, "alice", rights, write=False) == (False, False, False, False)
    allow("/box", "read-metadata")
    allow("/box/f", "read-metadata")
    assert as_user(store, "alice", rights, write=False) == (True, False, True, False)
    with pytest.raises(PermissionDenied):
        as_user(store, "alice", lambda v: v.enter("/box"), write=False)
    allow("/box", "r")
    allow("/box/f", "r")
    assert as_user(store, "alice", rights, write=False) == (True, True, True, True)
    seen = as_user(store, "alice", lambda v: v.stat(v.resolve("/box/f"), "f").path, write=False)
    assert seen == "/box/f"
    with pytest.raises(PermissionDenied, match="f"):
        as_user(store, "alice", lambda v: v.check_removable(v.resolve("/box/f"), "f"))
    with pytest.raises(PermissionDenied, match="root"):
        as_user(store, "admin", lambda v: v.check_removable(v.resolve("/"), "/"))


def test_only_administrators_learn_other_principals(store: Store) -> None:
    def known(user: str, *, groups: bool = False) -> list[str]:
        return as_user(
            store,
            user,
            lambda v: known_principals(v, "", groups=groups, limit=10),
            write=False,
        )

    assert known("admin") == ["admin", "alice", "bob"]
    assert known("alice") == ["alice"]
    assert known("admin", groups=True) == ["admins"]
    assert known("alice", groups=True) == []
    with pytest.raises(PermissionDenied):
        as_user(store, "alice", lambda v: v.principal_to_check("bob"), write=False)
    bob = as_user(store, "admin", lambda v: v.principal_to_check("bob").name, write=False)
    assert bob == "bob"


def test_metadata_item_limit(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/m"))
    too_many = {f"k{i}": i for i in range(MAX_ITEMS + 1)}
    with pytest.raises(InvalidMetadata):
        as_user(store, "admin", lambda v: v.set_metadata(v.resolve("/m"), "/m", too_many))


def test_a_tree_deeper_than_the_recursion_limit(store: Store) -> None:
    deep = "/" + "/".join(["d"] * 1100)
    as_user(store, "admin", lambda v: v.make_container(deep, parents=True))
    put(store, deep + "/leaf", b"x")
    as_user(store, "admin", lambda v: v.copy("/d", "/copy", recursive=True))
    as_user(store, "admin", lambda v: v.remove("/d", recursive=True))
    as_user(store, "admin", lambda v: v.remove("/copy", recursive=True))
    assert as_user(store, "admin", lambda v: len(v.root.by_id), write=False) == 1


# -- all or nothing ------------------------------------------------------------


def test_an_aborted_upload_leaves_no_object_and_no_files(store: Store) -> None:
    staging = store.temporary_directory()
    before = set(os.listdir(staging))
    upload = ContentUpload(staging)
    try:
        upload.write(b"partial" * 1000)
        raise TransferAborted()
    except TransferAborted:
        pass
    finally:
        upload.discard()
    assert set(os.listdir(staging)) == before
    assert as_user(store, "admin", lambda v: v.lookup("/partial"), write=False) is None


def test_a_store_that_fails_after_attaching_leaves_nothing(store: Store) -> None:
    staging = store.temporary_directory()
    before = set(os.listdir(staging))
    with pytest.raises(InvalidMetadata):
        put(store, "/bad", b"bytes", metadata={"cdmi_size": 1})
    assert set(os.listdir(staging)) == before
    assert as_user(store, "admin", lambda v: v.lookup("/bad"), write=False) is None


# -- transactions --------------------------------------------------------------


def _conflicting_writer(store: Store, attempts: list[int], conflicts: int):
    """A write that, the first *conflicts* times, loses a race with a real commit."""
    import transaction

    def work(root) -> str:
        attempts.append(1)
        # Metadata: both sides changing it is a real conflict (times would merge).
        root.tree.replace_metadata({"n": len(attempts)})
        if len(attempts) <= conflicts:
            manager = transaction.TransactionManager(explicit=True)
            other = store.db.open(transaction_manager=manager)
            try:
                manager.begin()
                other.root()[model.ROOT_KEY].tree.replace_metadata({"n": -len(attempts)})
                manager.commit()
            finally:
                other.close()
        return "done"

    return work


def test_a_conflict_is_retried(store: Store) -> None:
    attempts: list[int] = []
    assert store.run(_conflicting_writer(store, attempts, conflicts=1)) == "done"
    assert len(attempts) == 2
    assert store.read(lambda root: root.tree.metadata) == {"n": 2}


def test_a_persistent_conflict_becomes_a_one_line_error(store: Store, monkeypatch) -> None:
    monkeypatch.setattr(database.time, "sleep", lambda seconds: None)
    attempts: list[int] = []
    with pytest.raises(ConflictPersists) as caught:
        store.run(_conflicting_writer(store, attempts, conflicts=99))
    assert len(attempts) == database.CONFLICT_ATTEMPTS
    assert caught.value.exit_status == 5
    assert not isinstance(caught.value, ConflictError)


def test_reads_do_not_commit(store: Store) -> None:
    def change(root) -> None:
        root.tree.touch(12345.0)

    store.read(change)
    assert store.read(lambda root: root.tree.mtime) != 12345.0


def test_objects_are_the_right_kinds(store: Store) -> None:
    as_user(store, "admin", lambda v: v.make_container("/c"))
    put(store, "/c/o", b"")
    kinds = as_user(
        store,
        "admin",
        lambda v: (type(v.resolve("/c")), type(v.resolve("/c/o")), v.resolve("/c/o").size),
        write=False,
    )
    assert kinds == (Container, DataObject, 0)


def test_store_data_refuses_a_malformed_media_type(store):
    from omsh.store.content import ContentUpload
    from omsh.store.metadata import InvalidMetadata
    from omsh.store.view import StoreView

    upload = ContentUpload(store.temporary_directory())
    upload.write(b"x")
    try:
        with pytest.raises(InvalidMetadata):
            store.run(
                lambda root: StoreView.for_user(root, "admin").store_data(
                    "/typed", upload, mimetype="not a type"
                )
            )
    finally:
        upload.discard()
    assert store.read(lambda root: root.tree.get("typed")) is None


def test_client_set_times_are_kept_indexed_and_need_write_metadata(store: Store) -> None:
    put(store, "/t.txt", b"x")
    as_user(store, "admin", lambda v: v.set_times(v.resolve("/t.txt"), "/t.txt", mtime=1e9))

    def inspect(view: StoreView) -> tuple[float, list[str]]:
        found = view.query(parse_query("cdmi_mtime < TIMESTAMP '2002-01-01T00:00:00Z'"))
        return view.resolve("/t.txt").mtime, sorted(found.paths().values())

    mtime, matches = as_user(store, "admin", inspect, write=False)
    assert mtime == 1e9
    assert matches == ["/t.txt"]
    with pytest.raises(PermissionDenied):
        as_user(store, "alice", lambda v: v.set_times(v.resolve("/t.txt"), "/t.txt", mtime=0))


def test_an_upload_written_out_of_order_is_hashed_from_its_file(store: Store) -> None:
    upload = ContentUpload(store.temporary_directory())
    upload.write(b"abc")
    upload.write_at(6, b"ghi")
    upload.write_at(3, b"def")
    assert upload.read_at(2, 3) == b"cde"
    upload.resize(8)
    upload.write(b"!")
    upload.finish()
    assert upload.size == 9
    assert upload.sha256 == hashlib.sha256(b"abcdefgh!").hexdigest()
    upload.discard()
