"""The one access decision of omsh.

Every read or write by the shell, SFTP and CDMI asks :func:`check_access`
(or :func:`require_access`, which raises).  Nothing else decides.

Permissions are :class:`Perm` flags whose values are the CDMI 1.1.1 ACE mask
bits (the NFSv4 ones), so the CDMI endpoint can carry ``cdmi_acl`` masks
through unchanged.

Current policy (the ACL engine of DESIGN §5 replaces the body of
:func:`check_access`, not its callers): administrators may do anything; the
owner of an object may do anything to it; any other authenticated user may
read it and its metadata and ACL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omsh.errors import PermissionDenied

if TYPE_CHECKING:
    from omsh.store.model import StoreObject

ADMIN_GROUP = "admins"


class Perm(enum.IntFlag):
    """CDMI ACE mask bits (CDMI 1.1.1 §16.1.5)."""

    NONE = 0
    READ = 0x00000001  # READ_OBJECT / LIST_CONTAINER
    WRITE = 0x00000002  # WRITE_OBJECT / ADD_OBJECT
    APPEND = 0x00000004  # APPEND_DATA / ADD_SUBCONTAINER
    READ_METADATA = 0x00000008
    WRITE_METADATA = 0x00000010
    EXECUTE = 0x00000020
    DELETE_CHILD = 0x00000040  # DELETE_OBJECT / DELETE_SUBCONTAINER
    READ_ATTRIBUTES = 0x00000080
    WRITE_ATTRIBUTES = 0x00000100
    WRITE_RETENTION = 0x00000200
    WRITE_RETENTION_HOLD = 0x00000400
    DELETE = 0x00010000
    READ_ACL = 0x00020000
    WRITE_ACL = 0x00040000
    WRITE_OWNER = 0x00080000
    SYNCHRONIZE = 0x00100000

    @classmethod
    def all(cls) -> Perm:
        value = cls.NONE
        for member in cls:
            value |= member
        return value


READ_ONLY = Perm.READ | Perm.READ_METADATA | Perm.READ_ATTRIBUTES | Perm.READ_ACL


@dataclass(frozen=True)
class Principal:
    """Who is asking: a snapshot of a user taken for one command.

    Built afresh from the store for every command, so removing a user or a
    group membership takes effect on that user's very next command.
    """

    name: str
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def check_access(principal: Principal, obj: StoreObject, perms: Perm) -> bool:
    """Whether *principal* holds every bit of *perms* on *obj*."""
    if principal.is_admin or obj.owner == principal.name:
        return True
    return not perms & ~READ_ONLY


def may_manage_user(principal: Principal, user_name: str) -> bool:
    """Whether *principal* may change *user_name*'s password and keys.

    Everyone manages their own account; administrators manage every account.
    """
    return principal.is_admin or principal.name == user_name


def require_access(principal: Principal, obj: StoreObject, perms: Perm, subject: str) -> None:
    """Raise ``PermissionDenied`` about *subject* unless access is granted."""
    if not check_access(principal, obj, perms):
        raise PermissionDenied(subject)
