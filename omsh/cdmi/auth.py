"""HTTP Basic authentication against the store's principals.

Every request may carry credentials, and argon2id is (deliberately) slow,
so a successful verification is remembered for a short while: keyed by an
HMAC of user and password under a random per-process key, together with the
password hash it was checked against.  No clear-text secret is kept, and a
changed password (a different stored hash) or a removed user invalidates the
entry at once.  Failures are never cached and go through the shared,
throttled :class:`~omsh.authn.Authenticator`, so guessing over HTTP slows
down exactly like guessing over SSH.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

from omsh.authn import Authenticator
from omsh.cdmi.protocol import fail
from omsh.store.access import ANONYMOUS_PRINCIPAL, Principal

CACHE_SECONDS = 300.0
CACHE_ENTRIES = 4096


class BasicAuth:
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def _fingerprint(self, user: str, password: str) -> bytes:
        message = (
            user.encode("utf-8", "surrogateescape")
            + b"\0"
            + password.encode("utf-8", "surrogateescape")
        )
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _principal_and_hash(self, user: str) -> tuple[Principal, str | None] | None:
        def find(root) -> tuple[Principal, str | None] | None:
            found = root.principals.users.get(user)
            if found is None:
                return None
            return root.principals.principal(user), found.password_hash

        return self._authenticator.store.read(find)

    async def principal(self, header: str | None, address: str) -> Principal:
        """The caller: a user for good credentials, anonymous for none; 401 otherwise."""
        if header is None:
            return ANONYMOUS_PRINCIPAL
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
        loop = asyncio.get_running_loop()
        executor = self._authenticator.executor
        found = await loop.run_in_executor(executor, self._principal_and_hash, user)
        fingerprint = self._fingerprint(user, password)
        cached = self._verified.get(fingerprint)
        now = time.monotonic()
        if found is not None and cached is not None:
            stored_hash, expires = cached
            if stored_hash == found[1] and now < expires:
                return found[0]
            del self._verified[fingerprint]
        if not await self._authenticator.check_password(user, password, address, "http-basic"):
            fail(401, "wrong user name or password")
        if found is None:  # created between the two reads; look again next time
            fail(401, "wrong user name or password")
        self._verified[fingerprint] = (found[1] or "", now + CACHE_SECONDS)
        while len(self._verified) > CACHE_ENTRIES:
            self._verified.popitem(last=False)
        return found[0]
