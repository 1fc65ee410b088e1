"""Users, groups and authorized keys, stored in the database.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults follow
RFC 9106's recommendations).  Authorized keys are kept in OpenSSH public-key
form with their SHA256 fingerprint, so ``key rm`` can name a key the way
``ssh-keygen -l`` shows it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from BTrees.OOBTree import OOBTree, OOTreeSet
from persistent import Persistent

from omsh.errors import AlreadyExists, NotFound, OmshError
from omsh.store.access import ADMIN_GROUP, Principal

_hasher = PasswordHasher()
# Verified against when the user is unknown, so a wrong user name costs the
# same time as a wrong password and cannot be told apart by timing.
_DUMMY_HASH = _hasher.hash("omsh: no such user")

_PRINCIPAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
RESERVED_NAMES = frozenset(
    {"OWNER@", "GROUP@", "EVERYONE@", "AUTHENTICATED@", "ANONYMOUS@", "ADMINISTRATOR@"}
)


def validate_principal_name(name: str) -> str:
    if not _PRINCIPAL_NAME.fullmatch(name):
        raise OmshError(
            f"{name!r}: names are 1-32 letters, digits, '_', '.', '-', starting with a letter"
        )
    return name


#: The container holding every user's home.
HOMES = "/home"


def home_path(name: str) -> str:
    """The path of *name*'s home container (``~`` in the shell)."""
    return f"{HOMES}/{name}"


def hash_password(password: str) -> str:
    if not password:
        raise OmshError("empty password")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check; an absent hash is checked against a dummy."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class AuthorizedKey:
    """One OpenSSH public key line, as stored."""

    algorithm: str
    data: str
    comment: str
    fingerprint: str
    added: float

    @property
    def openssh(self) -> str:
        return f"{self.algorithm} {self.data} {self.comment}".rstrip()


def parse_authorized_key(line: str) -> AuthorizedKey:
    """Parse one OpenSSH public key line (``ALGORITHM BASE64 [COMMENT]``).

    The key blob must decode and name the same algorithm it is labelled with;
    the fingerprint is OpenSSH's ``SHA256:`` form.
    """
    fields = line.strip().split(None, 2)
    if len(fields) < 2:
        raise OmshError("not an OpenSSH public key line (ALGORITHM BASE64 [COMMENT])")
    algorithm, data = fields[0], fields[1]
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise OmshError("public key data is not valid base64") from None
    name_length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if name_length <= 0 or blob[4 : 4 + name_length] != algorithm.encode("ascii", "replace"):
        raise OmshError(f"public key data does not match its algorithm {algorithm!r}")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    comment = fields[2].strip() if len(fields) > 2 else ""
    return AuthorizedKey(algorithm, data, comment, f"SHA256:{digest}", time.time())


class User(Persistent):
    def __init__(self, name: str) -> None:
        self.name = name
        self.password_hash: str | None = None
        self.keys: tuple[AuthorizedKey, ...] = ()
        self.created = time.time()

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def add_key(self, key: AuthorizedKey) -> None:
        if any(existing.fingerprint == key.fingerprint for existing in self.keys):
            raise AlreadyExists(key.fingerprint, "key already authorized")
        self.keys = (*self.keys, key)

    def remove_key(self, selector: str) -> AuthorizedKey:
        """Remove the key whose fingerprint, comment or 1-based index is *selector*.

        A selector matching several keys (two keys with one comment) removes
        none: guessing which one was meant could lock the wrong one out.
        """
        matches = [
            key
            for index, key in enumerate(self.keys, start=1)
            if selector in (key.fingerprint, str(index))
            or (key.comment and selector == key.comment)
        ]
        if not matches:
            raise NotFound(selector, "no such key")
        if len(matches) > 1:
            raise OmshError(
                f"matches {len(matches)} keys; name one by fingerprint or index", subject=selector
            )
        self.keys = tuple(key for key in self.keys if key is not matches[0])
        return matches[0]


class Group(Persistent):
    def __init__(self, name: str) -> None:
        self.name = name
        self.members = OOTreeSet()
        self.created = time.time()


class Principals(Persistent):
    """The user and group directory."""

    def __init__(self) -> None:
        self.users: OOBTree = OOBTree()
        self.groups: OOBTree = OOBTree()
        self.groups[ADMIN_GROUP] = Group(ADMIN_GROUP)

    def get_user(self, name: str) -> User:
        user: User | None = self.users.get(name)
        if user is None:
            raise NotFound(name, "no such user")
        return user

    def _check_new_name(self, name: str, kind: str) -> None:
        """Refuse *name* for a new *kind* (``user`` or ``group``) unless it is valid and free.

        Users and groups share one set of names: an ACE may name either
        without saying which (``acl grant PATH staff r``).
        """
        validate_principal_name(name)
        for holder, table in (("user", self.users), ("group", self.groups)):
            if name in table:
                taken = f"{kind} already exists" if holder == kind else f"a {holder} has that name"
                raise AlreadyExists(name, taken)

    def add_user(self, name: str) -> User:
        self._check_new_name(name, "user")
        user = self.users[name] = User(name)
        return user

    def add_group(self, name: str) -> Group:
        self._check_new_name(name, "group")
        group = self.groups[name] = Group(name)
        return group

    def get_group(self, name: str) -> Group:
        group: Group | None = self.groups.get(name)
        if group is None:
            raise NotFound(name, "no such group")
        return group

    def add_member(self, group_name: str, user_name: str) -> None:
        self.get_user(user_name)
        self.get_group(group_name).members.add(user_name)

    def groups_of(self, user_name: str) -> frozenset[str]:
        return frozenset(name for name, group in self.groups.items() if user_name in group.members)

    def principal(self, user_name: str) -> Principal:
        """The access-check snapshot of a user; NotFound if it was removed."""
        self.get_user(user_name)
        return Principal(user_name, self.groups_of(user_name))
