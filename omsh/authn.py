"""Authentication shared by every front end: passwords, keys, throttling, audit.

SSH and CDMI both ask an :class:`Authenticator`, so a password guessed
wrongly over HTTP slows down the next SSH attempt from the same address too.

Throttling keeps two failure records, one per client address and one per
user name.  After a few free failures each further one doubles the delay
before the *next* answer from that address or for that user, up to a cap;
records fade after a quiet period.  The per-user cap is kept low so that an
attacker hammering one account from one address slows that account down but
never locks its owner out for good from elsewhere; the per-address cap is
high so the attacker's own address crawls.  Answers to one throttled address
are also spaced out one delay apart, so opening many connections at once does
not multiply its rate.  A successful login forgives the account, not the
address: otherwise anyone with an account of their own could wipe their
address's record between guesses at someone else's password.

At most :data:`MAX_VERIFICATIONS` argon2 checks run at once: each takes tens
of MiB and a worker thread for a noticeable time, so a flood of password
attempts queues here instead of exhausting memory and the workers that run
everyone's commands.  Key logins need no argon2 and never wait for it.

Unknown users cost the same argon2 verification as known ones, every failure
gets the same answer, and each one is written to the audit trail the same way
(its own trail, see :mod:`omsh.store.audit`), so nothing tells an attacker
which names exist.  No password is ever logged or recorded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from omsh.store.database import Store
from omsh.store.model import StoreRoot
from omsh.store.principals import verify_password

log = logging.getLogger(__name__)

FREE_FAILURES = 3
BASE_DELAY = 0.25
ADDRESS_DELAY_CAP = 30.0
USER_DELAY_CAP = 2.0
FORGET_AFTER = 15 * 60.0
MAX_TRACKED = 100_000
MAX_VERIFICATIONS = min(8, max(2, os.cpu_count() or 2))
#: Who the audit trail names as the actor of a failed login.
UNAUTHENTICATED = "ANONYMOUS@"


@dataclass(frozen=True)
class ThrottlePolicy:
    """How hard failed logins are slowed down (``omsh serve --auth-delay…``)."""

    #: Failures that cost nothing, for typos.
    free_failures: int = FREE_FAILURES
    #: The first delay; it doubles with every further failure.
    base_delay: float = BASE_DELAY
    address_cap: float = ADDRESS_DELAY_CAP
    user_cap: float = USER_DELAY_CAP
    forget_after: float = FORGET_AFTER


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    #: When the latest answer promised to this address goes out.
    next_answer: float = 0.0


class LoginThrottle:
    """Failure counts per address and per user, and the delay they earn."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        policy: ThrottlePolicy | None = None,
    ) -> None:
        self._clock = clock
        self.policy = policy or ThrottlePolicy()
        self._by_address: dict[str, _Failures] = {}
        self._by_user: dict[str, _Failures] = {}

    def _record(self, table: dict[str, _Failures], key: str) -> _Failures:
        now = self._clock()
        entry = table.get(key)
        if entry is None or now - entry.last > self.policy.forget_after:
            if len(table) >= MAX_TRACKED:
                table.clear()  # bounded memory under a flood of distinct keys
            entry = table[key] = _Failures()
        return entry

    def _delay(self, entry: _Failures | None, cap: float, now: float) -> float:
        policy = self.policy
        if entry is None or now - entry.last > policy.forget_after:
            return 0.0
        if entry.count < policy.free_failures:
            return 0.0
        return min(cap, policy.base_delay * 2.0 ** (entry.count - policy.free_failures))

    def delay(self, address: str, user: str) -> float:
        """Seconds to wait before answering an attempt from *address* for *user*."""
        now = self._clock()
        return max(
            self._delay(self._by_address.get(address), self.policy.address_cap, now),
            self._delay(self._by_user.get(user), self.policy.user_cap, now),
        )

    def reserve(self, address: str, user: str) -> float:
        """Like :meth:`delay`, but queued: concurrent attempts from one
        throttled address are answered one delay apart, not all at once.

        The per-user delay is not queued, so a flood of attempts on an
        account from many addresses never pushes its owner's login back.
        """
        now = self._clock()
        wait = 0.0
        entry = self._by_address.get(address)
        address_delay = self._delay(entry, self.policy.address_cap, now)
        if entry is not None and address_delay > 0:
            entry.next_answer = max(now, entry.next_answer) + address_delay
            wait = entry.next_answer - now
        return max(wait, self._delay(self._by_user.get(user), self.policy.user_cap, now))

    def failed(self, address: str, user: str) -> None:
        now = self._clock()
        for table, key in ((self._by_address, address), (self._by_user, user)):
            entry = self._record(table, key)
            entry.count += 1
            entry.last = now

    def succeeded(self, address: str, user: str) -> None:
        """The account's owner proved who they are: forgive the account.

        The address keeps its record until it fades, so a login to one
        account cannot be used to reset the backoff of guesses at another.
        """
        self._by_user.pop(user, None)


class Authenticator:
    """Checks credentials against the store's principals, throttled and audited."""

    def __init__(
        self, store: Store, executor: Executor | None = None, policy: ThrottlePolicy | None = None
    ) -> None:
        self.store = store
        self.executor = executor
        self.throttle = LoginThrottle(policy=policy)
        self._verifications = asyncio.Semaphore(MAX_VERIFICATIONS)
        #: One-time keys handed to this process's own front ends: (user, fingerprint) -> expiry.
        self._one_time_keys: dict[tuple[str, str], float] = {}

    def grant_one_time_key(self, user: str, fingerprint: str, ttl: float = 30.0) -> None:
        """Let *user* log in with the key of *fingerprint* until it is revoked or *ttl* ends.

        The web terminal (:mod:`omsh.web.terminal`) has checked the user's
        browser session and opens an SSH session on their behalf with a key
        pair it has just made (and revokes it once logged in): no secret of
        the user's is kept or sent.
        """
        now = time.monotonic()
        self._one_time_keys = {k: t for k, t in self._one_time_keys.items() if t > now}
        self._one_time_keys[(user, fingerprint)] = now + ttl

    def revoke_one_time_key(self, user: str, fingerprint: str) -> None:
        self._one_time_keys.pop((user, fingerprint), None)

    def _one_time_key(self, user: str, fingerprint: str) -> bool:
        expiry = self._one_time_keys.get((user, fingerprint))
        return expiry is not None and expiry > time.monotonic()

    def _password_hash(self, user: str) -> str | None:
        def find(root: StoreRoot) -> str | None:
            found = root.principals.users.get(user)
            return found.password_hash if found is not None else None

        return self.store.read(find)

    def _check_password(self, user: str, password: str) -> bool:
        return verify_password(self._password_hash(user), password)

    async def check_password(
        self, user: str, password: str, address: str, method: str = "password"
    ) -> bool:
        """Verify a password (argon2 in a worker thread), throttled.

        A failure is counted, logged and audited before it is answered.
        *method* names the way the password came (``keyboard-interactive``).
        """
        await asyncio.sleep(self.throttle.reserve(address, user))
        loop = asyncio.get_running_loop()
        async with self._verifications:
            ok = await loop.run_in_executor(self.executor, self._check_password, user, password)
        if ok:
            self.throttle.succeeded(address, user)
        else:
            self.throttle.failed(address, user)
            log.warning("login failed: user=%r address=%s method=%s", user, address, method)
            await self._audit(UNAUTHENTICATED, "login-failed", user, address, method)
        return ok

    def authorized_fingerprints(self, user: str) -> frozenset[str]:
        def find(root: StoreRoot) -> frozenset[str]:
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
        if self._one_time_key(user, fingerprint):
            return True
        loop = asyncio.get_running_loop()
        keys = await loop.run_in_executor(self.executor, self.authorized_fingerprints, user)
        return fingerprint in keys

    async def login_succeeded(self, user: str, address: str, method: str) -> None:
        """A front end opened a session for *user*: forgive the account, audit it."""
        self.throttle.succeeded(address, user)
        log.info("login: user=%r address=%s method=%s", user, address, method)
        await self._audit(user, "login", user, address, method)

    async def _audit(self, actor: str, action: str, user: str, address: str, method: str) -> None:
        """Record a login event in a worker thread (never on the event loop).

        A store that cannot be written does not stop a login; it is logged.
        """
        detail = f"address={address} method={method}"
        anonymous = actor == UNAUTHENTICATED

        def record(root: StoreRoot) -> None:
            root.audit.record(actor, action, user, detail, anonymous=anonymous)

        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, self.store.run, record)
        except Exception:
            log.exception("could not audit %s of %r", action, user)
