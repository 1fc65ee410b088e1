"""Access control entries in the CDMI 1.1.1 / NFSv4 form, and their evaluation.

An object's ACL is a tuple of :class:`ACE`.  Evaluation (DESIGN §5): the
object's own ACEs in order, then the inheritable ACEs of its ancestors,
nearest first; the first ACE that matches a still-undecided requested bit
decides that bit; a DENY of any requested bit refuses the request; bits no
ACE decides are denied.  Administrators are allowed before any ACE is read
(that is the caller's shortcut, see :func:`omsh.store.access.check_access`).

Inheritance is dynamic: nothing is copied into children, so changing a
container's ACL changes the effective rights of its whole subtree at once.
An ancestor's ACE applies to a data object if it has ``OBJECT_INHERIT``, to a
container if it has ``CONTAINER_INHERIT``; ``NO_PROPAGATE`` limits it to
direct children, and ``INHERIT_ONLY`` keeps it off the container it is on.

The JSON form (:meth:`ACE.to_cdmi` / :meth:`ACE.from_cdmi`) is CDMI's
``cdmi_acl``: masks and flags as ``0x`` hex strings on output, names or hex
accepted on input.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omsh.errors import OmshError, UsageError
from omsh.store.model import Container
from omsh.store.perms import Perm

if TYPE_CHECKING:
    from omsh.store.access import Principal
    from omsh.store.model import StoreObject

MAX_ACES = 256

OWNER = "OWNER@"
GROUP = "GROUP@"
EVERYONE = "EVERYONE@"
AUTHENTICATED = "AUTHENTICATED@"
ANONYMOUS = "ANONYMOUS@"
ADMINISTRATOR = "ADMINISTRATOR@"
SPECIAL_IDENTIFIERS = (OWNER, GROUP, EVERYONE, AUTHENTICATED, ANONYMOUS, ADMINISTRATOR)


class InvalidACL(OmshError):
    """An ACE or permission spelling that cannot be stored."""


class AceType(enum.Enum):
    ALLOW = 0x0
    DENY = 0x1


class AceFlag(enum.IntFlag):
    NONE = 0
    OBJECT_INHERIT = 0x00000001
    CONTAINER_INHERIT = 0x00000002
    NO_PROPAGATE = 0x00000004
    INHERIT_ONLY = 0x00000008
    IDENTIFIER_GROUP = 0x00000040
    INHERITED = 0x00000080


INHERIT = AceFlag.OBJECT_INHERIT | AceFlag.CONTAINER_INHERIT

#: CDMI's names for mask bits (several names share a bit: object vs container).
MASK_NAMES: dict[str, Perm] = {
    "READ_OBJECT": Perm.READ,
    "LIST_CONTAINER": Perm.READ,
    "WRITE_OBJECT": Perm.WRITE,
    "ADD_OBJECT": Perm.WRITE,
    "APPEND_DATA": Perm.APPEND,
    "ADD_SUBCONTAINER": Perm.APPEND,
    "READ_METADATA": Perm.READ_METADATA,
    "WRITE_METADATA": Perm.WRITE_METADATA,
    "EXECUTE": Perm.EXECUTE,
    "DELETE_OBJECT": Perm.DELETE_CHILD,
    "DELETE_SUBCONTAINER": Perm.DELETE_CHILD,
    "READ_ATTRIBUTES": Perm.READ_ATTRIBUTES,
    "WRITE_ATTRIBUTES": Perm.WRITE_ATTRIBUTES,
    "WRITE_RETENTION": Perm.WRITE_RETENTION,
    "WRITE_RETENTION_HOLD": Perm.WRITE_RETENTION_HOLD,
    "DELETE": Perm.DELETE,
    "READ_ACL": Perm.READ_ACL,
    "WRITE_ACL": Perm.WRITE_ACL,
    "WRITE_OWNER": Perm.WRITE_OWNER,
    "SYNCHRONIZE": Perm.SYNCHRONIZE,
    "ALL_PERMS": Perm.all(),
}

# -- the shell's permission words (DESIGN §5) --------------------------------

READ_WORD = Perm.READ | Perm.READ_ATTRIBUTES | Perm.READ_METADATA | Perm.READ_ACL
PERM_WORDS: dict[str, Perm] = {
    "read": READ_WORD,
    "write": Perm.WRITE | Perm.APPEND | Perm.WRITE_ATTRIBUTES,
    "delete": Perm.DELETE | Perm.DELETE_CHILD,
    "read-acl": Perm.READ_ACL,
    "write-acl": Perm.WRITE_ACL,
    "read-metadata": Perm.READ_METADATA | Perm.READ_ATTRIBUTES,
    "write-metadata": Perm.WRITE_METADATA,
    "all": Perm.all(),
}
PERM_LETTERS: dict[str, str] = {
    "r": "read",
    "w": "write",
    "d": "delete",
    "a": "write-acl",
    "m": "write-metadata",
}
_LETTERS = re.compile(r"[rwdam]+")


def parse_perms(text: str) -> Perm:
    """``rw``, ``read,write-metadata``, ``r,write-acl``, ``all`` or ``0x…`` -> :class:`Perm`."""
    text = text.strip()
    if not text:
        raise InvalidACL("empty permission list")
    if text.lower().startswith("0x"):
        try:
            value = int(text, 16)
        except ValueError:
            raise InvalidACL(f"{text!r}: not a hex mask") from None
        return _checked_mask(value)
    mask = Perm.NONE
    for word in filter(None, (part.strip().lower() for part in text.split(","))):
        if word in PERM_WORDS:
            mask |= PERM_WORDS[word]
        elif _LETTERS.fullmatch(word):
            for letter in word:
                mask |= PERM_WORDS[PERM_LETTERS[letter]]
        elif word.upper() in MASK_NAMES:
            mask |= MASK_NAMES[word.upper()]
        else:
            choices = ", ".join([*PERM_WORDS, *PERM_LETTERS])
            raise InvalidACL(f"unknown permission {word!r} (use {choices})")
    if not mask:
        raise InvalidACL("empty permission list")
    return mask


def _checked_mask(value: int) -> Perm:
    if value < 0 or value & ~int(Perm.all()):
        raise InvalidACL(f"0x{value:08x}: unknown mask bits")
    return Perm(value)


def perm_letters(mask: Perm) -> str:
    """``rwdam`` with ``-`` for absent rights; a letter shows only if fully held."""
    return "".join(
        letter if PERM_WORDS[word] & mask == PERM_WORDS[word] else "-"
        for letter, word in PERM_LETTERS.items()
    )


def perm_words(mask: Perm) -> list[str]:
    """The shell words wholly contained in *mask* (``all`` alone if everything)."""
    if mask == Perm.all():
        return ["all"]
    words = [word for word, bits in PERM_WORDS.items() if word != "all" and bits & mask == bits]
    # read implies read-acl and read-metadata; don't repeat them.
    if "read" in words:
        words = [word for word in words if word not in ("read-acl", "read-metadata")]
    return words


def mask_names(mask: Perm) -> list[str]:
    """CDMI names of the bits in *mask*, one name per bit."""
    seen: set[int] = set()
    names = []
    for name, bit in MASK_NAMES.items():
        if name != "ALL_PERMS" and bit & mask and int(bit) not in seen:
            seen.add(int(bit))
            names.append(name)
    return names


@dataclass(frozen=True)
class ACE:
    """One access control entry."""

    acetype: AceType
    identifier: str
    aceflags: AceFlag
    acemask: Perm

    @property
    def inheritable(self) -> bool:
        return bool(self.aceflags & INHERIT)

    @property
    def is_group(self) -> bool:
        return bool(self.aceflags & AceFlag.IDENTIFIER_GROUP)

    def to_cdmi(self) -> dict[str, str]:
        return {
            "acetype": self.acetype.name,
            "identifier": self.identifier,
            "aceflags": f"0x{int(self.aceflags):08x}",
            "acemask": f"0x{int(self.acemask):08x}",
        }

    @classmethod
    def from_cdmi(cls, entry: Mapping[str, Any]) -> ACE:
        """Parse one ``cdmi_acl`` entry (names or hex, as CDMI allows)."""
        if not isinstance(entry, Mapping):
            raise InvalidACL("an ACE must be a JSON object")
        missing = {"acetype", "identifier", "acemask"} - set(entry)
        if missing:
            raise InvalidACL(f"ACE lacks {', '.join(sorted(missing))}")
        return cls(
            _parse_acetype(entry["acetype"]),
            validate_identifier(entry["identifier"]),
            _parse_flags(entry.get("aceflags", "0x0")),
            _parse_mask(entry["acemask"]),
        )


def validate_identifier(identifier: object) -> str:
    if not isinstance(identifier, str) or not identifier:
        raise InvalidACL("ACE identifier must be a non-empty string")
    if identifier.endswith("@") and identifier not in SPECIAL_IDENTIFIERS:
        raise InvalidACL(f"unknown special identifier {identifier!r}")
    if len(identifier) > 64 or not identifier.isprintable():
        raise InvalidACL("ACE identifier must be printable and at most 64 characters")
    return identifier


def _parse_acetype(value: object) -> AceType:
    if isinstance(value, str):
        text = value.strip().upper()
        if text in AceType.__members__:
            return AceType[text]
        if text.startswith("0X"):
            try:
                return AceType(int(text, 16))
            except ValueError:
                pass
    raise InvalidACL(f"acetype must be ALLOW or DENY, not {value!r}")


def _parse_names_or_hex(value: object, names: Mapping[str, int], what: str) -> int:
    if not isinstance(value, str):
        raise InvalidACL(f"{what} must be a string")
    text = value.strip()
    if text.lower().startswith("0x"):
        try:
            return int(text, 16)
        except ValueError:
            raise InvalidACL(f"{what} {value!r} is not valid hex") from None
    total = 0
    for name in filter(None, (part.strip().upper() for part in text.split(","))):
        if name not in names:
            raise InvalidACL(f"unknown {what} name {name!r}")
        total |= int(names[name])
    return total


def _parse_flags(value: object) -> AceFlag:
    flags = _parse_names_or_hex(value, {f.name: int(f) for f in AceFlag if f.name}, "aceflags")
    if flags & ~sum(int(f) for f in AceFlag):
        raise InvalidACL(f"aceflags 0x{flags:08x} has unknown bits")
    return AceFlag(flags)


def _parse_mask(value: object) -> Perm:
    return _checked_mask(_parse_names_or_hex(value, MASK_NAMES, "acemask"))


def validate_acl(entries: Iterable[ACE]) -> tuple[ACE, ...]:
    acl = tuple(entries)
    if len(acl) > MAX_ACES:
        raise InvalidACL(f"at most {MAX_ACES} ACEs per object")
    return acl


def default_root_acl() -> tuple[ACE, ...]:
    """The ACL of a fresh store's root, inherited by everything below it.

    Private by default (DESIGN §5): owners may do anything to what they own,
    administrators are allowed before any ACE is read, and nobody else gets
    anything.  Sharing is an explicit grant (``acl grant / AUTHENTICATED@
    read --inherit`` opens the whole store to every account).
    """
    return (ACE(AceType.ALLOW, OWNER, INHERIT, Perm.all()),)


#: Identifiers whose read right on the root, inherited, opens a store to
#: other accounts (``omsh check`` warns about them).
OPEN_IDENTIFIERS = (EVERYONE, AUTHENTICATED, ANONYMOUS)


def open_root_entries(root: StoreObject) -> list[ACE]:
    """The root's inherited ALLOW entries that let anyone but owners read.

    Stores made before private-by-default kept their root ACL (``ALLOW
    AUTHENTICATED@ read``, inherited); ``check`` names these entries.
    """
    return [
        ace
        for ace in root.acl
        if ace.acetype is AceType.ALLOW
        and ace.identifier in OPEN_IDENTIFIERS
        and ace.aceflags & INHERIT
        and ace.acemask & (Perm.READ | Perm.READ_METADATA)
    ]


# -- evaluation --------------------------------------------------------------


def identifier_matches(ace: ACE, principal: Principal, obj: StoreObject | None) -> bool:
    """Whether *ace* names *principal*; ``OWNER@`` and ``GROUP@`` never match without *obj*."""
    identifier = ace.identifier
    if identifier == EVERYONE:
        return True
    if identifier == ANONYMOUS:
        return principal.is_anonymous
    if principal.is_anonymous:
        return False
    if identifier == AUTHENTICATED:
        return True
    if identifier == OWNER:
        return obj is not None and obj.owner == principal.name
    if identifier == GROUP:
        group = getattr(obj, "group", None)
        return group is not None and group in principal.groups
    if identifier == ADMINISTRATOR:
        return principal.is_admin
    if ace.is_group:
        return identifier in principal.groups
    return identifier == principal.name


def _applies_to(ace: ACE, is_container: bool, direct_child: bool) -> bool:
    """Whether an ancestor's *ace* reaches an object of this kind at this depth."""
    if ace.aceflags & AceFlag.NO_PROPAGATE and not direct_child:
        return False
    wanted = AceFlag.CONTAINER_INHERIT if is_container else AceFlag.OBJECT_INHERIT
    return bool(ace.aceflags & wanted)


class InheritanceCache:
    """Inherited ACE chains, and the verdicts they give, for one transaction.

    ``ls -l`` of 10,000 children asks the same ancestors 10,000 times: the
    chain above a container is computed once, and so is the verdict it gives
    a principal for a set of bits (a :class:`_Verdict`).  Any ACL change made
    through the same view must call :meth:`clear`.
    """

    def __init__(self) -> None:
        self._deep: dict[tuple[object, bool], tuple[ACE, ...]] = {}
        self._verdicts: dict[tuple[object, ...], _Verdict] = {}

    def clear(self) -> None:
        self._deep.clear()
        self._verdicts.clear()

    def inherited_verdict(
        self, principal: Principal, obj: StoreObject, parent: StoreObject, remaining: int
    ) -> bool:
        """Whether what *obj* inherits from *parent* grants all *remaining* bits."""
        is_container = isinstance(obj, Container)
        key = (_cache_key(parent, is_container), principal, remaining)
        verdict = self._verdicts.get(key)
        if verdict is None:
            chain = self.from_parent(parent, is_container)
            verdict = self._verdicts[key] = _Verdict(chain, principal, remaining)
        if verdict.fixed is not None:
            return verdict.fixed
        return verdict.for_object(obj)

    def from_parent(self, parent: StoreObject, is_container: bool) -> tuple[ACE, ...]:
        """ACEs a child of *parent* inherits: parent's first, then above."""
        direct = tuple(ace for ace in parent.acl if _applies_to(ace, is_container, True))
        return direct + self._beyond(parent.__parent__, is_container)

    def _beyond(self, ancestor: StoreObject | None, is_container: bool) -> tuple[ACE, ...]:
        """ACEs reaching two or more levels down from *ancestor* and above."""
        pending = []
        chain_above: tuple[ACE, ...] = ()
        node = ancestor
        while node is not None:
            cached = self._deep.get(_cache_key(node, is_container))
            if cached is not None:
                chain_above = cached
                break
            pending.append(node)
            node = node.__parent__
        # Fill the cache from the top down so each level reuses the one above.
        for node in reversed(pending):
            own = tuple(ace for ace in node.acl if _applies_to(ace, is_container, False))
            chain_above = own + chain_above
            self._deep[_cache_key(node, is_container)] = chain_above
        return chain_above


def _cache_key(node: StoreObject, is_container: bool) -> tuple[object, bool]:
    # The oid is stable for the whole transaction; objects created in it have
    # none yet but are kept alive by the tree, so their id() is stable too.
    return (node._p_oid or id(node), is_container)


def effective_aces(
    obj: StoreObject, cache: InheritanceCache | None = None
) -> list[tuple[ACE, StoreObject]]:
    """Every ACE that bears on *obj*, in evaluation order, with its source.

    For display (``acl PATH``) — :func:`decide` uses the faster cached path.
    """
    is_container = isinstance(obj, Container)
    entries = [(ace, obj) for ace in obj.acl if not ace.aceflags & AceFlag.INHERIT_ONLY]
    node = obj.__parent__
    depth = 1
    while node is not None:
        entries.extend(
            (ace, node) for ace in node.acl if _applies_to(ace, is_container, depth == 1)
        )
        node = node.__parent__
        depth += 1
    return entries


#: What :func:`_undecided` returns without an object once the answer depends on it.
_DEPENDS_ON_OBJECT = -1


def _undecided(
    aces: Iterable[ACE], principal: Principal, obj: StoreObject | None, remaining: int
) -> int | None:
    """The bits of *remaining* that *aces*, in order, leave undecided; None if one is denied.

    With *obj* None, stops with :data:`_DEPENDS_ON_OBJECT` at the first
    entry that would decide a bit and whose match depends on the object
    (``OWNER@``, ``GROUP@``).
    """
    for ace in aces:
        bits = remaining & int(ace.acemask)
        if not bits:
            continue
        if obj is None and ace.identifier in _OBJECT_RELATIVE:
            return _DEPENDS_ON_OBJECT
        if not identifier_matches(ace, principal, obj):
            continue
        if ace.acetype is AceType.DENY:
            return None
        remaining &= ~bits
        if not remaining:
            return 0
    return remaining


_OBJECT_RELATIVE = frozenset({OWNER, GROUP})


class _Verdict:
    """What one inherited chain says to one principal about some bits.

    The same for every object below the container, unless an ``OWNER@`` or
    ``GROUP@`` entry is reached before the bits are decided: then it depends
    on whether the principal owns the object and is in its group, and is
    kept per answer to those two questions.
    """

    __slots__ = ("by_relation", "chain", "fixed", "principal", "remaining")

    def __init__(self, chain: tuple[ACE, ...], principal: Principal, remaining: int) -> None:
        self.chain = chain
        self.principal = principal
        self.remaining = remaining
        outcome = _undecided(chain, principal, None, remaining)
        self.fixed: bool | None = None if outcome == _DEPENDS_ON_OBJECT else outcome == 0
        self.by_relation: dict[tuple[bool, bool], bool] = {}

    def for_object(self, obj: StoreObject) -> bool:
        group = getattr(obj, "group", None)
        relation = (
            obj.owner == self.principal.name,
            group is not None and group in self.principal.groups,
        )
        verdict = self.by_relation.get(relation)
        if verdict is None:
            verdict = _undecided(self.chain, self.principal, obj, self.remaining) == 0
            self.by_relation[relation] = verdict
        return verdict


def decide(
    principal: Principal, obj: StoreObject, perms: Perm, cache: InheritanceCache | None = None
) -> bool:
    """The ACL decision for everyone but administrators (see module docstring)."""
    remaining: int | None = int(perms)
    if obj.acl:
        own = (ace for ace in obj.acl if not ace.aceflags & AceFlag.INHERIT_ONLY)
        remaining = _undecided(own, principal, obj, int(perms))
        if remaining is None:
            return False
    if not remaining:
        return True
    parent = obj.__parent__
    if parent is None:
        return False
    return (cache or InheritanceCache()).inherited_verdict(principal, obj, parent, remaining)


def parse_identifier_spec(spec: str) -> tuple[str, bool | None]:
    """``u:alice`` / ``g:staff`` / ``alice`` / ``EVERYONE@`` -> (identifier, is_group).

    ``is_group`` is None when the kind was not spelled out and must be
    looked up among the principals.
    """
    if spec.startswith(("u:", "user:")):
        return validate_identifier(spec.split(":", 1)[1]), False
    if spec.startswith(("g:", "group:")):
        return validate_identifier(spec.split(":", 1)[1]), True
    if spec in SPECIAL_IDENTIFIERS:
        return spec, False
    if spec.upper() in SPECIAL_IDENTIFIERS:
        return spec.upper(), False
    if not spec:
        raise UsageError("empty principal")
    return validate_identifier(spec), None


# -- editing, as `acl grant|deny|revoke` do ----------------------------------


def entry_flags(is_group: bool, inherit: bool, inherit_only: bool = False) -> AceFlag:
    """The flags of an entry as the shell makes it.

    *inherit* reaches everything below (objects and containers);
    *inherit_only* also keeps the entry off the object it is on, like a
    POSIX default ACL entry (it implies *inherit*).
    """
    flags = AceFlag.NONE
    if inherit or inherit_only:
        flags |= INHERIT
    if inherit_only:
        flags |= AceFlag.INHERIT_ONLY
    return flags | AceFlag.IDENTIFIER_GROUP if is_group else flags


def _same_principal(ace: ACE, identifier: str, is_group: bool) -> bool:
    return ace.identifier == identifier and ace.is_group == is_group


def with_entry(
    acl: tuple[ACE, ...],
    acetype: AceType,
    identifier: str,
    mask: Perm,
    *,
    is_group: bool = False,
    inherit: bool = False,
    inherit_only: bool = False,
    merge: bool = True,
) -> tuple[ACE, ...]:
    """*acl* with *mask* allowed or denied to a principal.

    Bits merge into an existing entry of the same type, principal and flags
    (with ``merge=False`` they replace its mask, as ``setfacl -m`` does).
    A new ALLOW goes last; a new DENY goes first, so an explicit deny on an
    object beats the object's own allows, whatever their order.
    """
    flags = entry_flags(is_group, inherit, inherit_only)
    for index, ace in enumerate(acl):
        same_kind = ace.acetype is acetype and ace.aceflags == flags
        if same_kind and _same_principal(ace, identifier, is_group):
            merged = ACE(acetype, identifier, flags, ace.acemask | mask if merge else mask)
            return (*acl[:index], merged, *acl[index + 1 :])
    entry = ACE(acetype, identifier, flags, mask)
    return (*acl, entry) if acetype is AceType.ALLOW else (entry, *acl)


def without_entries(
    acl: tuple[ACE, ...],
    identifier: str,
    *,
    is_group: bool = False,
    mask: Perm | None = None,
    only: Callable[[ACE], bool] | None = None,
) -> tuple[ACE, ...]:
    """*acl* with *mask* (everything, if None) taken from a principal's entries.

    With *only*, entries it rejects are left alone (``setfacl -d -x`` touches
    only inherit-only entries; a grant lifts only a deny of the same scope).
    """
    kept = []
    for ace in acl:
        if not _same_principal(ace, identifier, is_group) or (only and not only(ace)):
            kept.append(ace)
            continue
        remaining = Perm(0) if mask is None else Perm(ace.acemask & ~mask)
        if remaining:
            kept.append(ACE(ace.acetype, ace.identifier, ace.aceflags, remaining))
    return tuple(kept)
