"""The one access decision of omsh: who asks, and what the ACLs let them do.

Every read or write by the shell, SFTP and CDMI is decided by
:func:`check_access`; nothing else decides.  Which right each operation
needs is chosen once, by :class:`~omsh.store.view.StoreView`, which is the
only caller.

Permissions are :class:`Perm` flags whose values are the CDMI 1.1.1 ACE mask
bits (the NFSv4 ones), so the CDMI endpoint can carry ``cdmi_acl`` masks
through unchanged.  The entries themselves (:class:`~omsh.store.acl.ACE`),
how they are spelled and edited, are :mod:`omsh.store.acl`.

Policy (ARCHITECTURE §6.4): members of ``admins`` may do anything, before any entry
is read.  Everyone else is decided by the object's own ACEs in order, then
the inheritable ACEs of its ancestors, nearest first; the first ACE that
matches a still-undecided requested bit decides that bit; a DENY of any
requested bit refuses the request; bits no ACE decides are denied.

Inheritance is dynamic: nothing is copied into children, so changing a
container's ACL changes the effective rights of its whole subtree at once.
An ancestor's ACE applies to a data object if it has ``OBJECT_INHERIT``, to a
container if it has ``CONTAINER_INHERIT``; ``NO_PROPAGATE`` limits it to
direct children, and ``INHERIT_ONLY`` keeps it off the container it is on.
An :class:`InheritanceCache` (one per transaction) keeps the inherited
chains and the verdicts they give, so ``ls -l`` of a big container asks its
ancestors once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from omsh.store.acl import (
    ACE,
    ADMINISTRATOR,
    ANONYMOUS,
    AUTHENTICATED,
    EVERYONE,
    GROUP,
    OWNER,
    AceFlag,
    AceType,
)
from omsh.store.model import Container, StoreObject
from omsh.store.perms import Perm

ADMIN_GROUP = "admins"

__all__ = [
    "ADMIN_GROUP",
    "ANONYMOUS_PRINCIPAL",
    "InheritanceCache",
    "Perm",
    "Principal",
    "check_access",
    "effective_aces",
    "may_manage_user",
]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a snapshot of a user taken for one command.

    Built afresh from the store for every command, so removing a user or a
    group membership takes effect on that user's very next command.
    """

    name: str
    groups: frozenset[str] = field(default_factory=frozenset)
    is_anonymous: bool = False

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups and not self.is_anonymous


#: Whoever has not authenticated (CDMI without credentials).  Only
#: ``ANONYMOUS@`` and ``EVERYONE@`` ACEs ever match it.
ANONYMOUS_PRINCIPAL = Principal("ANONYMOUS@", frozenset(), is_anonymous=True)


def check_access(
    principal: Principal,
    obj: StoreObject,
    perms: Perm,
    cache: InheritanceCache | None = None,
) -> bool:
    """Whether *principal* holds every bit of *perms* on *obj* (see the module docstring).

    *cache* (one per transaction, see :class:`InheritanceCache`) only makes
    repeated checks under the same containers cheaper.
    """
    if principal.is_admin:
        return True
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


def may_manage_user(principal: Principal, user_name: str) -> bool:
    """Whether *principal* may change *user_name*'s password and keys.

    Everyone manages their own account; administrators manage every account.
    """
    return principal.is_admin or principal.name == user_name


# -- how entries are evaluated -------------------------------------------------


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

    For display (``acl PATH``); :func:`check_access` takes the faster cached path.
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
