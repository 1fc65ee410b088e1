"""Authentication shared by every front end: passwords, keys, throttling.

SSH and CDMI both ask an :class:`Authenticator`, so a password guessed
wrongly over HTTP slows down the next SSH attempt from the same address too.

Throttling keeps two failure records, one per client address and one per
user name.  After a few free failures each further one doubles the delay
before the *next* answer from that address or for that user, up to a cap;
records fade after a quiet period.  The per-user cap is kept low so that an
attacker hammering one account from one address slows that account down but
never locks its owner out for good from elsewhere; the per-address cap is
high so the attacker's own address crawls.

Unknown users cost the same argon2 verification as known ones, and every
failure gets the same answer, so nothing tells an attacker which names exist.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from omsh.store.database import Store
from omsh.store.principals import verify_password

log = logging.getLogger(__name__)

FREE_FAILURES = 3
BASE_DELAY = 0.25
ADDRESS_DELAY_CAP = 30.0
USER_DELAY_CAP = 2.0
FORGET_AFTER = 15 * 60.0
MAX_TRACKED = 100_000


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    """Failure counts per address and per user, and the delay they earn."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_address: dict[str, _Failures] = {}
        self._by_user: dict[str, _Failures] = {}

    def _record(self, table: dict[str, _Failures], key: str) -> _Failures:
        now = self._clock()
        entry = table.get(key)
        if entry is None or now - entry.last > FORGET_AFTER:
            if len(table) >= MAX_TRACKED:
                table.clear()  # bounded memory under a flood of distinct keys
            entry = table[key] = _Failures()
        return entry

    @staticmethod
    def _delay(entry: _Failures | None, cap: float, now: float) -> float:
        if entry is None or now - entry.last > FORGET_AFTER or entry.count < FREE_FAILURES:
            return 0.0
        return min(cap, BASE_DELAY * 2 ** (entry.count - FREE_FAILURES))

    def delay(self, address: str, user: str) -> float:
        """Seconds to wait before answering an attempt from *address* for *user*."""
        now = self._clock()
        return max(
            self._delay(self._by_address.get(address), ADDRESS_DELAY_CAP, now),
            self._delay(self._by_user.get(user), USER_DELAY_CAP, now),
        )

    def failed(self, address: str, user: str) -> None:
        now = self._clock()
        for table, key in ((self._by_address, address), (self._by_user, user)):
            entry = self._record(table, key)
            entry.count += 1
            entry.last = now

    def succeeded(self, address: str, user: str) -> None:
        self._by_address.pop(address, None)
        self._by_user.pop(user, None)


class Authenticator:
    """Checks credentials against the store's principals, throttled."""

    def __init__(self, store: Store, executor: Executor | None = None) -> None:
        self.store = store
        self.executor = executor
        self.throttle = LoginThrottle()

    def _password_hash(self, user: str) -> str | None:
        def find(root) -> str | None:
            found = root.principals.users.get(user)
            return found.password_hash if found is not None else None

        return self.store.read(find)

    def _check_password(self, user: str, password: str) -> bool:
        return verify_password(self._password_hash(user), password)

    async def check_password(self, user: str, password: str, address: str) -> bool:
        """Verify a password (argon2 in a worker thread), with throttling."""
        await asyncio.sleep(self.throttle.delay(address, user))
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self.executor, self._check_password, user, password)
        self._conclude(ok, address, user, "password")
        return ok

    def authorized_fingerprints(self, user: str) -> frozenset[str]:
        def find(root) -> frozenset[str]:
            found = root.principals.users.get(user)
            if found is None:
                return frozenset()
            return frozenset(key.fingerprint for key in found.keys)

        return self.store.read(find)

    async def check_key(self, user: str, fingerprint: str, address: str) -> bool:
        """Whether *fingerprint* is one of *user*'s keys (the signature is the
        SSH layer's job).  Offering an unknown key is not a failed login:
        clients routinely try several keys first."""
        await asyncio.sleep(self.throttle.delay(address, user))
        loop = asyncio.get_running_loop()
        keys = await loop.run_in_executor(self.executor, self.authorized_fingerprints, user)
        return fingerprint in keys

    def _conclude(self, ok: bool, address: str, user: str, method: str) -> None:
        if ok:
            self.throttle.succeeded(address, user)
            log.info("login ok: user=%r address=%s method=%s", user, address, method)
        else:
            self.throttle.failed(address, user)
            log.warning("login failed: user=%r address=%s method=%s", user, address, method)

    def key_login_succeeded(self, user: str, address: str) -> None:
        self._conclude(True, address, user, "publickey")
