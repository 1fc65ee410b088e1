"""Access control entries in the CDMI 1.1.1 / NFSv4 form: the data, not the decision.

An object's ACL is a tuple of :class:`ACE`.  This module spells entries
(the shell's permission words and letters, CDMI's mask and flag names),
validates and edits them; what they decide, and how inheritance reaches an
object, is :mod:`omsh.store.access`.

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
from omsh.store.perms import Perm

if TYPE_CHECKING:
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

# -- the shell's permission words (ARCHITECTURE §6.4) --------------------------------

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

    Private by default (ARCHITECTURE §6.4): owners may do anything to what they own,
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
