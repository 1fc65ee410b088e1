"""Access control: ``acl``, and ``getfacl``/``setfacl`` for people coming from OMS or POSIX.

``acl PATH`` lists the entries that decide access to an object, in the order
they are evaluated (ARCHITECTURE §6.4): its own, then the inheritable ones of its
ancestors, nearest first, each with where it comes from.  ``acl grant``,
``deny`` and ``revoke`` edit the object's own ACL; ``acl check`` prints the
permissions someone effectively holds (OMS ``permcheck``).

``getfacl`` and ``setfacl`` are other spellings, not other implementations:
both families describe a change as :class:`Grant`, :class:`Revoke` or
:class:`Clear` values, apply them with :func:`change_acl`, read with
:func:`read_listing` and print with :func:`render_listing`.  Every change goes
through :meth:`StoreView.replace_acls`, which checks write-acl on each object,
validates the entries, writes one audit event and clears the inheritance
cache.

Errors: a malformed permission list or principal is a usage error (exit 2);
a well-formed principal that does not exist is "not found" (exit 3).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from omsh.commands.arguments import (
    Complete,
    action_or_path_arg,
    arg,
    at_arg,
    paths_arg,
    recursive_arg,
    repeated,
)
from omsh.commands.base import Command, Invocation
from omsh.commands.bulk import check_query_usage, plural, query_arguments, run_bulk
from omsh.commands.formatting import printable, render_table
from omsh.errors import NotFound, UsageError
from omsh.store.access import Perm
from omsh.store.acl import (
    ACE,
    INHERIT,
    PERM_WORDS,
    SPECIAL_IDENTIFIERS,
    AceFlag,
    AceType,
    InvalidACL,
    entry_flags,
    mask_names,
    parse_identifier_spec,
    parse_perms,
    perm_letters,
    perm_words,
    with_entry,
    without_entries,
)
from omsh.store.bulk import BulkChange, Target
from omsh.store.model import StoreObject, walk
from omsh.store.view import StoreView

ACL = tuple[ACE, ...]
ACTIONS = ("grant", "deny", "revoke", "check")
#: The words ``acl check`` answers yes or no for, in this order.
CHECK_WORDS = tuple(word for word in PERM_WORDS if word != "all")

PRINCIPAL_HELP = (
    "alice or u:alice (a user), g:staff (a group), or EVERYONE@, AUTHENTICATED@,"
    " ANONYMOUS@, OWNER@, GROUP@, ADMINISTRATOR@"
)
PERMS_HELP = (
    "letters rwdam, or words read,write,delete,read-acl,write-acl,read-metadata,"
    "write-metadata,all, or a 0x mask"
)


# -- parsing the arguments ---------------------------------------------------


def parse_perms_argument(text: str) -> Perm:
    """A PERMS argument; a malformed one is a usage error, not a stored-ACL error."""
    try:
        return parse_perms(text)
    except InvalidACL as exc:
        raise UsageError(f"{printable(text)}: {exc.message}") from None


@dataclass(frozen=True)
class PrincipalSpec:
    """A principal as typed: its identifier, and whether it was said to be a group."""

    identifier: str
    #: ``None`` when neither ``u:`` nor ``g:`` was given: a user if one
    #: exists, else a group.
    is_group: bool | None

    @classmethod
    def parse(cls, text: str) -> PrincipalSpec:
        try:
            identifier, is_group = parse_identifier_spec(text)
        except InvalidACL as exc:
            raise UsageError(f"{printable(text)}: {exc.message}") from None
        return cls(identifier, is_group)

    def resolve(self, view: StoreView) -> bool:
        """Whether it is a group; :class:`NotFound` (exit 3) if it does not exist."""
        return view.principal_kind(self.identifier, self.is_group)


def principal_label(ace: ACE) -> str:
    """``alice``, ``g:staff`` or ``EVERYONE@``: the spelling ``acl grant`` accepts back."""
    if ace.is_group and ace.identifier not in SPECIAL_IDENTIFIERS:
        return f"g:{ace.identifier}"
    return ace.identifier


def mask_words(mask: Perm) -> list[str]:
    """Shell words for *mask*, then CDMI names of any bits no whole word covers."""
    words = perm_words(mask)
    covered = Perm.NONE
    for word in words:
        covered |= PERM_WORDS[word]
    return words + mask_names(Perm(mask & ~covered))


def flag_words(flags: AceFlag) -> list[str]:
    """The inheritance flags of an entry as words (``inherit``, ``inherit-only``…)."""
    words = []
    if flags & INHERIT == INHERIT:
        words.append("inherit")
    elif flags & AceFlag.OBJECT_INHERIT:
        words.append("object-inherit")
    elif flags & AceFlag.CONTAINER_INHERIT:
        words.append("container-inherit")
    for flag, word in (
        (AceFlag.NO_PROPAGATE, "no-propagate"),
        (AceFlag.INHERIT_ONLY, "inherit-only"),
        (AceFlag.INHERITED, "inherited"),
    ):
        if flags & flag:
            words.append(word)
    return words


# -- edits ----------------------------------------------------------------------


class Scope(enum.Enum):
    """Which of a principal's own entries an edit touches, by where they apply."""

    ALL = "all"
    #: Entries that apply to the object itself (not inherit-only).
    ACCESS = "access"
    #: Inherit-only entries: POSIX's "default ACL".
    DEFAULT = "default"

    def holds(self, ace: ACE) -> bool:
        if self is Scope.ALL:
            return True
        inherit_only = bool(ace.aceflags & AceFlag.INHERIT_ONLY)
        return inherit_only == (self is Scope.DEFAULT)


class AclEdit(Protocol):
    """One change to objects' own ACLs: what ``acl`` and ``setfacl`` both make."""

    @property
    def action(self) -> str:
        """The audit action (``acl-grant``…)."""
        ...

    def bind(self, view: StoreView, targets: Sequence[StoreObject]) -> Callable[[ACL], ACL]:
        """Resolve principals in this transaction; return the change to apply to each ACL."""
        ...

    def describe(self) -> str:
        """One line for the audit trail: who gets or loses what."""
        ...


@dataclass(frozen=True)
class Grant:
    """Allow or deny *mask* to a principal (``acl grant|deny``, ``setfacl -m``).

    The same bits are taken out of the principal's opposite entry with the
    same flags, so the last command wins: ``deny`` then ``grant`` grants.
    """

    principal: PrincipalSpec
    acetype: AceType
    mask: Perm
    inherit: bool = False
    inherit_only: bool = False
    #: ``setfacl -m``: the entry's mask becomes *mask* instead of gaining it.
    exact: bool = False

    @property
    def action(self) -> str:
        return "acl-grant" if self.acetype is AceType.ALLOW else "acl-deny"

    def bind(self, view: StoreView, targets: Sequence[StoreObject]) -> Callable[[ACL], ACL]:
        identifier = self.principal.identifier
        is_group = self.principal.resolve(view)
        flags = entry_flags(is_group, self.inherit, self.inherit_only)
        opposite = AceType.DENY if self.acetype is AceType.ALLOW else AceType.ALLOW

        def same_scope_opposite(ace: ACE) -> bool:
            return ace.acetype is opposite and ace.aceflags == flags

        def apply(acl: ACL) -> ACL:
            acl = without_entries(
                acl, identifier, is_group=is_group, mask=self.mask, only=same_scope_opposite
            )
            return with_entry(
                acl,
                self.acetype,
                identifier,
                self.mask,
                is_group=is_group,
                inherit=self.inherit,
                inherit_only=self.inherit_only,
                merge=not self.exact,
            )

        return apply

    def describe(self) -> str:
        flags = flag_words(entry_flags(False, self.inherit, self.inherit_only))
        words = ",".join(mask_words(self.mask))
        return " ".join([self.acetype.name.lower(), _spec_label(self.principal), words, *flags])


@dataclass(frozen=True)
class Revoke:
    """Take *mask* (everything, if None) out of a principal's own entries.

    ``acl revoke`` and ``setfacl -x``.  A principal removed since may still
    be revoked where it has entries; elsewhere it is "not found".
    """

    principal: PrincipalSpec
    mask: Perm | None = None
    scope: Scope = Scope.ALL
    action = "acl-revoke"

    def bind(self, view: StoreView, targets: Sequence[StoreObject]) -> Callable[[ACL], ACL]:
        identifier = self.principal.identifier
        try:
            kinds: tuple[bool, ...] = (self.principal.resolve(view),)
        except NotFound:
            given = self.principal.is_group
            kinds = (False, True) if given is None else (given,)
            stale = any(
                ace.identifier == identifier and ace.is_group in kinds
                for target in targets
                for ace in target.acl
            )
            if not stale:
                raise

        def apply(acl: ACL) -> ACL:
            for is_group in kinds:
                acl = without_entries(
                    acl, identifier, is_group=is_group, mask=self.mask, only=self.scope.holds
                )
            return acl

        return apply

    def describe(self) -> str:
        words = "all" if self.mask is None else ",".join(mask_words(self.mask))
        scope = "" if self.scope is Scope.ALL else f" {self.scope.value}"
        return f"revoke {_spec_label(self.principal)} {words}{scope}"


@dataclass(frozen=True)
class Clear:
    """Remove every own entry (``setfacl -b``): only inherited entries decide then."""

    action = "acl-clear"

    def bind(self, view: StoreView, targets: Sequence[StoreObject]) -> Callable[[ACL], ACL]:
        return lambda acl: ()

    def describe(self) -> str:
        return "clear"


def _spec_label(spec: PrincipalSpec) -> str:
    if spec.is_group is None or spec.identifier in SPECIAL_IDENTIFIERS:
        return spec.identifier
    return f"{'g' if spec.is_group else 'u'}:{spec.identifier}"


def change_acl(
    inv: Invocation, path: str, edits: Sequence[AclEdit], *, recursive: bool
) -> dict[str, Any]:
    """Apply *edits* to *path* (and with *recursive* its whole subtree) in one transaction.

    All or nothing: if any object refuses (write-acl) or a principal is
    unknown, nothing changes.  Returns ``{"path", "objects", "changed",
    "cdmi_acl"}`` with the top object's own ACL after the change.
    """
    cwd = inv.session.cwd

    def work(view: StoreView) -> dict[str, Any]:
        top = view.resolve(path, cwd)
        walked = list(walk(top)) if recursive else [("", top)]
        targets = [
            Target(node, view.subtree_subject(top, path, relative, node))
            for relative, node in walked
        ]
        suffix = f" recursive objects={len(targets)}" if recursive else ""
        changed = AclChange(edits, top.path, suffix).apply(view, targets)
        return {
            "path": top.path,
            "objects": len(targets),
            "changed": changed,
            "cdmi_acl": [ace.to_cdmi() for ace in top.acl],
        }

    return inv.view(work, write=True)


@dataclass(frozen=True)
class AclChange(BulkChange):
    """*edits* applied to each target's own ACL: ``acl grant`` on a path, ``-R`` or ``--query``.

    Principals are resolved once for all targets; :meth:`StoreView.replace_acls`
    checks write-acl on every one before writing any, and writes one audit
    event naming *target* (a path, or the query).
    """

    edits: Sequence[AclEdit]
    target: str
    suffix: str = ""

    def allowed(self, view: StoreView, obj: StoreObject) -> bool:
        return view.can_write_acl(obj)

    def apply(self, view: StoreView, targets: Sequence[Target]) -> int:
        changes = [edit.bind(view, [target.obj for target in targets]) for edit in self.edits]
        planned = []
        for target in targets:
            acl: ACL = target.obj.acl
            for change in changes:
                acl = change(acl)
            planned.append((target.obj, target.subject, acl))
        edits = self.edits
        action = edits[0].action if len(edits) == 1 else "acl-set"
        detail = "; ".join(edit.describe() for edit in edits) + self.suffix
        return view.replace_acls(planned, action=action, target=self.target, detail=detail)


def change_acl_by_query(inv: Invocation, edit: AclEdit) -> None:
    """``acl grant|deny|revoke --query EXPR PRINCIPAL …``: every match, one transaction."""
    query = inv.args.query
    change = AclChange([edit], f"query {query}", " query")
    verb = {"acl-grant": "granted", "acl-deny": "denied", "acl-revoke": "revoked"}[edit.action]
    run_bulk(inv, lambda view: change, lambda outcome: f"{verb} on {plural(outcome.count)}")


# -- reading ---------------------------------------------------------------------


@dataclass(frozen=True)
class AclListing:
    """An object's own ACL and the inherited entries after it, in evaluation order."""

    path: str
    object_id: str
    owner: str
    own: ACL
    #: ``(entry, path of the ancestor it is on)``, nearest ancestor first.
    inherited: tuple[tuple[ACE, str], ...]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: ``cdmi_acl`` exactly as CDMI stores it, then the rest."""
        return {
            "path": self.path,
            "objectid": self.object_id,
            "owner": self.owner,
            "cdmi_acl": [ace.to_cdmi() for ace in self.own],
            "inherited": [{"source": source, **ace.to_cdmi()} for ace, source in self.inherited],
        }


def read_listing(inv: Invocation, path: str) -> AclListing:
    """The ACL of *path* as ``acl PATH`` shows it (needs read-acl)."""

    def read(view: StoreView) -> AclListing:
        obj = view.resolve(path, inv.session.cwd)
        effective = view.read_acl(obj, path)
        # Own entries come from the object itself: effective_aces leaves out
        # inherit-only ones, which do not apply here but are part of its ACL.
        inherited = tuple((ace, source.path) for ace, source in effective if source is not obj)
        return AclListing(obj.path, obj.object_id, obj.owner, tuple(obj.acl), inherited)

    return inv.view(read)


def render_listing(inv: Invocation, listing: AclListing) -> None:
    """``# file:`` and ``# owner:`` as getfacl prints them, then one row per entry."""
    inv.out.line(f"# file: {printable(listing.path)}")
    inv.out.line(f"# owner: {printable(listing.owner)}")
    entries = [(ace, "own") for ace in listing.own]
    entries += [(ace, f"inherited from {printable(source)}") for ace, source in listing.inherited]
    if not entries:
        inv.out.line("(no entries: only administrators have access)")
        return
    rows = [
        [
            source,
            ace.acetype.name.lower(),
            printable(principal_label(ace)),
            perm_letters(ace.acemask),
            ",".join(mask_words(ace.acemask)) or "-",
            ",".join(flag_words(ace.aceflags)) or "-",
        ]
        for ace, source in entries
    ]
    render_table(inv.out, rows, headers=("FROM", "TYPE", "PRINCIPAL", "PERMS", "WORDS", "FLAGS"))


def show_acls(inv: Invocation, paths: Sequence[str]) -> int | None:
    """``acl PATH`` and ``getfacl PATH…``: each listing, a blank line between."""
    shown = 0

    def show(path: str) -> None:
        nonlocal shown
        listing = read_listing(inv, path)
        if inv.json:
            inv.out.json(listing.to_json())
        else:
            if shown:
                inv.out.line()
            render_listing(inv, listing)
        shown += 1

    return inv.each(paths, show)


def check_document(inv: Invocation, path: str, user: str | None) -> dict[str, Any]:
    """What ``acl check`` reports: the caller's rights, or (admins) another user's."""

    def check(view: StoreView) -> dict[str, Any]:
        principal = view.principal_to_check(user)
        obj = view.resolve(path, inv.session.cwd)
        mask = view.effective_perms(obj, principal)
        return {
            "path": obj.path,
            "user": principal.name,
            "letters": perm_letters(mask),
            "acemask": f"0x{int(mask):08x}",
            "permissions": {
                word: PERM_WORDS[word] & mask == PERM_WORDS[word] for word in CHECK_WORDS
            },
        }

    return inv.view(check)


# -- the commands ---------------------------------------------------------------


#: Per ``acl`` form: required and optional positionals after the first, and its usage.
_FORMS: dict[str | None, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    None: ((), (), "acl PATH"),
    "check": (("path",), (), "acl check PATH [--user U]"),
    "revoke": (("path", "principal"), ("perms",), "acl revoke PATH PRINCIPAL [PERMS] [-R]"),
    "grant": (
        ("path", "principal", "perms"),
        (),
        "acl grant PATH PRINCIPAL PERMS [--inherit] [-R]",
    ),
    "deny": (("path", "principal", "perms"), (), "acl deny PATH PRINCIPAL PERMS [--inherit] [-R]"),
}


class Acl(Command):
    name = "acl"
    summary = "show, change or check an object's access control list"
    arguments = (
        at_arg(),
        action_or_path_arg(ACTIONS, "the object to show, or one of grant, deny, revoke, check"),
        arg(
            "path",
            nargs="?",
            metavar="PATH",
            complete=Complete.PATH,
            help="the object the action applies to",
        ),
        arg(
            "principal",
            nargs="?",
            metavar="PRINCIPAL",
            complete=Complete.PRINCIPAL,
            help=PRINCIPAL_HELP,
        ),
        arg("perms", nargs="?", metavar="PERMS", complete=Complete.PERMS, help=PERMS_HELP),
        arg(
            "--inherit",
            action="store_true",
            help="grant/deny: also for everything below (OBJECT_INHERIT|CONTAINER_INHERIT)",
        ),
        recursive_arg("grant/deny/revoke: every object below PATH too, all or nothing"),
        arg(
            "--user",
            complete=Complete.USER,
            help="check: another user's permissions (administrators only)",
        ),
        *query_arguments("grant/deny/revoke: change the ACL of"),
    )
    details = """
    forms:
      acl PATH                           own, then inherited entries, in evaluation order
      acl grant PATH PRINCIPAL PERMS     allow PERMS
      acl deny PATH PRINCIPAL PERMS      deny PERMS (an own deny goes before own allows)
      acl revoke PATH PRINCIPAL [PERMS]  take PERMS (default: all) out of the principal's
                                         own entries
      acl check PATH [--user U]          effective permissions, like OMS permcheck
      acl grant|deny|revoke --query EXPR [--in PATH] PRINCIPAL [PERMS]
                                         the same change on every object the query
                                         shows you, in one transaction: all or nothing

    grant and deny take the same bits out of the principal's opposite entry with
    the same flags, so the last command wins.  Editing needs write-acl, showing
    read-acl; check needs nothing for yourself.  To show an object named like
    an action, write its path: acl ./grant.

    --json:
      acl PATH     {"path", "objectid", "owner",
                    "cdmi_acl": [the object's own ACEs in CDMI form:
                                 {"acetype", "identifier", "aceflags", "acemask"}],
                    "inherited": [{"source": ANCESTOR PATH, "acetype", "identifier",
                                   "aceflags", "acemask"}, nearest ancestor first]}
      grant|deny|revoke
                   {"path", "objects": visited, "changed": objects whose ACL changed,
                    "cdmi_acl": the object's own ACEs after the change}
      --query      {"count": matches, "changed": objects whose ACL changed}
      check        {"path", "user", "letters", "acemask",
                    "permissions": {"read": true, "write": false, ...}}
    """

    def run(self, inv: Invocation) -> int | None:
        args = inv.args
        action = args.first if args.first in ACTIONS else None
        bulk = args.query is not None
        if bulk:  # no PATH: the positionals after the action shift left by one
            if action not in ("grant", "deny", "revoke") or args.recursive:
                raise UsageError("--query goes with acl grant, deny or revoke (without -R)")
            if args.perms is not None:
                raise UsageError(
                    "--query replaces the path: acl ACTION --query EXPR PRINCIPAL PERMS"
                )
            args.path, args.principal, args.perms = "", args.path, args.principal
        check_query_usage(inv, False, "")
        self._check_arguments(action, args)
        if action is None:
            return show_acls(inv, [args.first])
        if action == "check":
            self._print_check(inv, check_document(inv, args.path, args.user))
            return None
        principal = PrincipalSpec.parse(args.principal)
        edit: AclEdit
        if action == "revoke":
            mask = None if args.perms is None else parse_perms_argument(args.perms)
            edit = Revoke(principal, mask)
        else:
            acetype = AceType.ALLOW if action == "grant" else AceType.DENY
            edit = Grant(principal, acetype, parse_perms_argument(args.perms), args.inherit)
        if bulk:
            change_acl_by_query(inv, edit)
            return None
        result = change_acl(inv, args.path, [edit], recursive=args.recursive)
        if inv.json:
            inv.out.json(result)
        return None

    @staticmethod
    def _check_arguments(action: str | None, args: Any) -> None:
        """Each form takes its own arguments; anything else is a usage error."""
        required, optional, shape = _FORMS[action]
        given = [name for name in ("path", "principal", "perms") if getattr(args, name) is not None]
        if [name for name in given if name not in optional] != list(required):
            raise UsageError(f"usage: {shape}")
        form = f"acl {action}" if action else "acl PATH"
        if args.inherit and action not in ("grant", "deny"):
            raise UsageError(f"--inherit goes with acl grant or deny, not {form}")
        if args.recursive and action not in ("grant", "deny", "revoke"):
            raise UsageError(f"-R goes with acl grant, deny or revoke, not {form}")
        if args.user is not None and action != "check":
            raise UsageError(f"--user goes with acl check, not {form}")

    @staticmethod
    def _print_check(inv: Invocation, document: dict[str, Any]) -> None:
        if inv.json:
            inv.out.json(document)
            return
        inv.out.line(
            f"{printable(document['path'])}: {document['letters']} (user {document['user']})"
        )
        rows = [[word, "yes" if held else "no"] for word, held in document["permissions"].items()]
        render_table(inv.out, rows)


class GetFacl(Command):
    name = "getfacl"
    summary = "show access control lists (acl PATH for several objects)"
    arguments = (paths_arg("objects whose ACL to show"),)
    details = """
    The same listing as 'acl PATH' for each object; --json prints one 'acl PATH
    --json' document per line.
    """

    def run(self, inv: Invocation) -> int | None:
        return show_acls(inv, inv.args.paths)


#: Where a setfacl entry starts inside a comma-separated list.
_ENTRY_START = re.compile(
    r"(?:d:|default:)?(?:(?:u|user|g|group|o|other|m|mask):|[A-Z]+@(?::|$))", re.ASCII
)
_ENTRY_KINDS = {"u": False, "user": False, "g": True, "group": True}
#: POSIX ``u::``, ``g::`` and ``o::`` name the owner, owning group and others.
_POSIX_SPECIALS = {"u": "OWNER@", "user": "OWNER@", "g": "GROUP@", "group": "GROUP@"}


def split_entries(text: str) -> list[str]:
    """``u:a:r,g:b:read,write`` -> ``["u:a:r", "g:b:read,write"]``.

    Commas separate entries, as in POSIX setfacl, but also permission words;
    a piece that does not start like an entry continues the one before.
    """
    entries: list[str] = []
    for piece in text.split(","):
        if entries and not _ENTRY_START.match(piece):
            entries[-1] += "," + piece
        else:
            entries.append(piece)
    return [entry for entry in entries if entry]


@dataclass(frozen=True)
class FaclEntry:
    """One parsed setfacl entry: who, what (for -m), and whether it is a default entry."""

    principal: PrincipalSpec
    perms: str | None
    default: bool


def parse_facl_entry(text: str, *, with_perms: bool) -> FaclEntry:
    """``[d:]u:NAME:PERMS``, ``g:NAME:PERMS``, ``o::PERMS``, ``SPECIAL@:PERMS``.

    Without *with_perms* (``-x``), the same with no ``:PERMS``.
    """
    perms_part = ":PERMS" if with_perms else ""
    shapes = ", ".join(f"{kind}{perms_part}" for kind in ("u:NAME", "g:NAME", "o:"))
    malformed = UsageError(f"{printable(text)}: expected {shapes} or SPECIAL@{perms_part}")
    default = False
    rest = text
    for prefix in ("default:", "d:"):
        if rest.startswith(prefix):
            default, rest = True, rest[len(prefix) :]
            break
    perms = None
    if with_perms:
        rest, colon, perms = rest.rpartition(":")
        if not colon or not perms:
            raise malformed
    kind, colon, name = rest.partition(":")
    if not colon and rest.upper() in SPECIAL_IDENTIFIERS:
        principal = PrincipalSpec.parse(rest)
    elif colon and kind in ("o", "other") and not name:
        principal = PrincipalSpec("EVERYONE@", False)
    elif colon and kind in _ENTRY_KINDS and not name:
        principal = PrincipalSpec(_POSIX_SPECIALS[kind], False)
    elif colon and kind in _ENTRY_KINDS:
        principal = PrincipalSpec.parse(f"{kind}:{name}")
    else:
        raise malformed
    return FaclEntry(principal, perms, default)


class SetFacl(Command):
    name = "setfacl"
    summary = "change access control lists the POSIX way (-m, -x, -b; same as acl grant/revoke)"
    arguments = (
        repeated(
            "-m",
            "--modify",
            metavar="ENTRY",
            complete=Complete.FACL_ENTRY,
            help="set an entry: u:NAME:PERMS, g:NAME:PERMS, o::PERMS or SPECIAL@:PERMS",
        ),
        repeated(
            "-x",
            "--remove",
            metavar="ENTRY",
            complete=Complete.FACL_NAME,
            help="remove a principal's entries: u:NAME, g:NAME or SPECIAL@",
        ),
        arg("-b", "--remove-all", action="store_true", help="remove every own entry first"),
        arg(
            "-d",
            "--default",
            action="store_true",
            help="-m/-x act on default entries: inherited below, not applying to PATH itself",
        ),
        recursive_arg("every object below each PATH too (each PATH all or nothing)"),
        paths_arg("objects to change"),
    )
    details = """
    Entries may be comma-separated (-m u:bob:rw,g:staff:r) or the option repeated.
    u::, g:: and o:: name OWNER@, GROUP@ and EVERYONE@; a d: prefix makes one
    entry a default entry.  PERMS as for acl grant: letters rwdam, words, or 0x.
    -b is applied first, then -x, then -m.  -m sets the principal's allow entry
    to exactly PERMS (and lifts a deny of those bits with the same scope);
    inherited entries still apply.  Default entries are ACEs with
    OBJECT_INHERIT|CONTAINER_INHERIT|INHERIT_ONLY, as POSIX default ACLs.
    """

    def run(self, inv: Invocation) -> int | None:
        args = inv.args
        edits = self.edits(args)
        if not edits:
            raise UsageError("nothing to do: give -m ENTRY, -x ENTRY or -b")

        def change(path: str) -> None:
            result = change_acl(inv, path, edits, recursive=args.recursive)
            if inv.json:
                inv.out.json(result)

        return inv.each(args.paths, change)

    @staticmethod
    def edits(args: Any) -> list[AclEdit]:
        """The edits in the order they apply: -b, then -x, then -m."""
        edits: list[AclEdit] = [Clear()] if args.remove_all else []
        removals = [piece for text in args.remove for piece in split_entries(text)]
        for entry in (parse_facl_entry(piece, with_perms=False) for piece in removals):
            scope = Scope.DEFAULT if entry.default or args.default else Scope.ACCESS
            edits.append(Revoke(entry.principal, None, scope))
        modifications = [piece for text in args.modify for piece in split_entries(text)]
        for entry in (parse_facl_entry(piece, with_perms=True) for piece in modifications):
            assert entry.perms is not None
            edits.append(
                Grant(
                    entry.principal,
                    AceType.ALLOW,
                    parse_perms_argument(entry.perms),
                    inherit_only=entry.default or args.default,
                    exact=True,
                )
            )
        return edits


COMMANDS = (Acl, GetFacl, SetFacl)
