"""HTTP Basic authentication against the store's principals.

Every request may carry credentials, and argon2id is (deliberately) slow,
so a successful verification is remembered for a short while: keyed by an
keyed hash (BLAKE2b) of the ``Authorization`` header (user and password, as sent) under a
random per-process key, together with the user and the password hash it was
checked against.  No clear-text secret is kept.

A remembered login costs no store access of its own: the request's
:class:`Caller` carries the user name and that hash, and
:meth:`Caller.principal` checks the hash is still the stored one inside the
transaction that does the request's work.  A changed password or a removed
user therefore takes effect on the very next request (the entry is dropped
and the credentials are verified afresh), with no extra transaction — and
the principal's groups are read in the same snapshot as the ACLs they are
checked against.

Failures are never remembered and go through the shared, throttled
:class:`~omsh.authn.Authenticator`, so guessing over HTTP slows down exactly
like guessing over SSH.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from omsh.authn import Authenticator
from omsh.cdmi.protocol import fail
from omsh.store.access import ANONYMOUS_PRINCIPAL, Principal
from omsh.store.model import StoreRoot

CACHE_SECONDS = 300.0
CACHE_ENTRIES = 4096


class StaleCredentials(Exception):
    """The remembered password hash is no longer the user's: verify again."""


@dataclass(slots=True)
class Caller:
    """Who sent a request: a verified user (with the hash verified) or anonymous."""

    user: str | None = None
    password_hash: str | None = None
    fingerprint: bytes = b""

    def principal(self, root: StoreRoot) -> Principal:
        """The access-check principal, read in the caller's transaction."""
        if self.user is None:
            return ANONYMOUS_PRINCIPAL
        found = root.principals.users.get(self.user)
        if found is None or found.password_hash != self.password_hash:
            raise StaleCredentials(self.user)
        return root.principals.principal(self.user)


ANONYMOUS = Caller()


def _credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        fail(401, "only HTTP Basic authentication is supported")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        fail(401, "malformed Basic credentials")
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        fail(401, "malformed Basic credentials")
    return user, password


class BasicAuth:
    """Turns ``Authorization`` headers into callers, remembering good ones."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[str, str | None, float]] = OrderedDict()

    def _fingerprint(self, header: str) -> bytes:
        """A keyed hash (BLAKE2b MAC) of the credentials as sent: the cache key."""
        return hashlib.blake2b(
            header.encode("utf-8", "surrogateescape"), key=self._key, digest_size=32
        ).digest()

    def _stored_hash(self, user: str) -> tuple[bool, str | None]:
        def find(root: StoreRoot) -> tuple[bool, str | None]:
            found = root.principals.users.get(user)
            return (found is not None, found.password_hash if found is not None else None)

        return self._authenticator.store.read(find)

    def forget(self, caller: Caller) -> None:
        self._verified.pop(caller.fingerprint, None)

    async def caller(self, header: str | None, address: str) -> Caller:
        """Anonymous without credentials, the user for good ones; 401 otherwise.

        Remembered credentials are recognised by the header alone (one keyed
        hash, no decoding); others are decoded and verified.
        """
        if header is None:
            return ANONYMOUS
        fingerprint = self._fingerprint(header)
        cached = self._verified.get(fingerprint)
        if cached is not None:
            user, stored_hash, expires = cached
            if time.monotonic() < expires:
                return Caller(user, stored_hash, fingerprint)
            del self._verified[fingerprint]
        user, password = _credentials(header)
        return await self._verify(user, password, fingerprint, address)

    async def _verify(self, user: str, password: str, fingerprint: bytes, address: str) -> Caller:
        """The full check: argon2 in a worker, throttled and audited on failure.

        The hash read *before* the check is the one remembered, so a password
        changed in between makes the entry stale rather than wrongly valid.
        """
        loop = asyncio.get_running_loop()
        exists, stored_hash = await loop.run_in_executor(
            self._authenticator.executor, self._stored_hash, user
        )
        if not await self._authenticator.check_password(user, password, address, "http-basic"):
            fail(401, "wrong user name or password")
        if not exists:  # created between the two reads; look again next time
            fail(401, "wrong user name or password")
        self._verified[fingerprint] = (user, stored_hash, time.monotonic() + CACHE_SECONDS)
        while len(self._verified) > CACHE_ENTRIES:
            self._verified.popitem(last=False)
        return Caller(user, stored_hash, fingerprint)
