"""The one access decision of omsh.

Every read or write by the shell, SFTP and CDMI asks :func:`check_access`
(or :func:`require_access`, which raises).  Nothing else decides.

Permissions are :class:`Perm` flags whose values are the CDMI 1.1.1 ACE mask
bits (the NFSv4 ones), so the CDMI endpoint can carry ``cdmi_acl`` masks
through unchanged.

Policy (DESIGN §5): members of ``admins`` may do anything; everyone else
is decided by the object's ACL and the inheritable ACLs of its ancestors
(:mod:`omsh.store.acl`), default deny.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omsh.errors import PermissionDenied
from omsh.store.acl import decide
from omsh.store.perms import Perm

if TYPE_CHECKING:
    from omsh.store.acl import InheritanceCache
    from omsh.store.model import StoreObject

ADMIN_GROUP = "admins"

__all__ = [
    "ADMIN_GROUP",
    "ANONYMOUS_PRINCIPAL",
    "Perm",
    "Principal",
    "check_access",
    "may_manage_user",
    "require_access",
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
    """Whether *principal* holds every bit of *perms* on *obj*.

    *cache* (one per transaction, see :class:`~omsh.store.acl.InheritanceCache`)
    only makes repeated checks under the same containers cheaper.
    """
    if principal.is_admin:
        return True
    return decide(principal, obj, perms, cache)


def may_manage_user(principal: Principal, user_name: str) -> bool:
    """Whether *principal* may change *user_name*'s password and keys.

    Everyone manages their own account; administrators manage every account.
    """
    return principal.is_admin or principal.name == user_name


def require_access(principal: Principal, obj: StoreObject, perms: Perm, subject: str) -> None:
    """Raise ``PermissionDenied`` about *subject* unless access is granted."""
    if not check_access(principal, obj, perms):
        raise PermissionDenied(subject)
