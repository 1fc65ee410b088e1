"""Login throttling and credential checks (unit level, no network)."""

from __future__ import annotations

import asyncio

import pytest

from omsh.authn import (
    ADDRESS_DELAY_CAP,
    FORGET_AFTER,
    FREE_FAILURES,
    USER_DELAY_CAP,
    Authenticator,
    LoginThrottle,
    ThrottlePolicy,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_failures_are_free_then_delay_doubles():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES):
        assert throttle.delay("10.0.0.1", "alice") == 0
        throttle.failed("10.0.0.1", "alice")
    first = throttle.delay("10.0.0.1", "alice")
    throttle.failed("10.0.0.1", "alice")
    assert first > 0
    assert throttle.delay("10.0.0.1", "alice") == pytest.approx(first * 2)


def test_address_delay_grows_to_its_cap_but_user_delay_stays_small():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(50):
        throttle.failed("10.0.0.66", "alice")
    assert throttle.delay("10.0.0.66", "alice") == ADDRESS_DELAY_CAP
    # The real alice, elsewhere, is slowed by at most the per-user cap.
    assert throttle.delay("10.0.0.7", "alice") == USER_DELAY_CAP
    assert throttle.delay("10.0.0.7", "bob") == 0


def test_failures_are_forgotten_after_a_quiet_period():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(10):
        throttle.failed("10.0.0.1", "alice")
    clock.now += FORGET_AFTER + 1
    assert throttle.delay("10.0.0.1", "alice") == 0


def test_success_forgives_the_account_but_not_the_address():
    throttle = LoginThrottle(FakeClock())
    for _ in range(10):
        throttle.failed("10.0.0.1", "alice")
    throttle.succeeded("10.0.0.1", "alice")
    assert throttle.delay("10.0.0.9", "alice") == 0
    # Logging in to an account of one's own does not reset the backoff of
    # the guesses made from that address at someone else's.
    assert throttle.delay("10.0.0.1", "bob") == ADDRESS_DELAY_CAP


def test_concurrent_attempts_from_one_address_are_answered_one_delay_apart():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for n in range(FREE_FAILURES + 2):
        throttle.failed("10.0.0.66", f"user{n}")
    one = throttle.delay("10.0.0.66", "x")
    assert one > 0
    assert [throttle.reserve("10.0.0.66", "x") for _ in range(3)] == [one, 2 * one, 3 * one]
    clock.now += 10 * one  # the queue has drained: back to one delay
    assert throttle.reserve("10.0.0.66", "x") == one
    # Not queued per user: many addresses hammering alice never push her back.
    for address in range(20):
        throttle.failed(f"10.1.0.{address}", "alice")
    assert {throttle.reserve("10.0.0.7", "alice") for _ in range(5)} == {USER_DELAY_CAP}


def test_policy_sets_the_delays():
    policy = ThrottlePolicy(free_failures=1, base_delay=0.01, address_cap=0.05, user_cap=0.02)
    throttle = LoginThrottle(FakeClock(), policy)
    assert throttle.delay("10.0.0.1", "alice") == 0
    throttle.failed("10.0.0.1", "alice")
    assert throttle.delay("10.0.0.1", "alice") == 0.01
    for _ in range(10):
        throttle.failed("10.0.0.1", "alice")
    assert throttle.delay("10.0.0.1", "bob") == 0.05
    assert throttle.delay("10.0.0.2", "alice") == 0.02


def test_passwords_are_checked_against_argon2id_hashes(store):
    auth = Authenticator(store)

    def stored_hash(root) -> str:
        return root.principals.users["alice"].password_hash

    assert store.read(stored_hash).startswith("$argon2id$")
    assert asyncio.run(auth.check_password("alice", "alice-secret", "127.0.0.1"))
    assert not asyncio.run(auth.check_password("alice", "wrong", "127.0.0.1"))
    assert not asyncio.run(auth.check_password("nobody", "alice-secret", "127.0.0.1"))
    # A removed password hash never matches anything.
    assert not asyncio.run(auth.check_password("nobody", "", "127.0.0.1"))


def test_a_one_time_key_logs_in_only_its_user_until_revoked_or_expired(store, monkeypatch):
    auth = Authenticator(store)
    auth.grant_one_time_key("alice", "SHA256:made-for-this-login")
    assert asyncio.run(auth.check_key("alice", "SHA256:made-for-this-login", "127.0.0.1"))
    assert not asyncio.run(auth.check_key("bob", "SHA256:made-for-this-login", "127.0.0.1"))
    auth.revoke_one_time_key("alice", "SHA256:made-for-this-login")
    assert not asyncio.run(auth.check_key("alice", "SHA256:made-for-this-login", "127.0.0.1"))
    auth.grant_one_time_key("alice", "SHA256:short-lived", ttl=-1)  # already expired
    assert not asyncio.run(auth.check_key("alice", "SHA256:short-lived", "127.0.0.1"))


def audit_trail(store) -> list[tuple[str, str, str, str]]:
    return store.read(
        lambda root: [(e.actor, e.action, e.target, e.detail) for e in root.audit.events()]
    )


def test_failed_logins_are_audited_alike_for_known_and_unknown_users(store):
    auth = Authenticator(store)
    assert not asyncio.run(auth.check_password("alice", "guess-1", "10.0.0.5"))
    assert not asyncio.run(
        auth.check_password("nobody", "guess-2", "10.0.0.5", "keyboard-interactive")
    )
    assert audit_trail(store) == [
        ("ANONYMOUS@", "login-failed", "alice", "address=10.0.0.5 method=password"),
        ("ANONYMOUS@", "login-failed", "nobody", "address=10.0.0.5 method=keyboard-interactive"),
    ]
    assert "guess" not in repr(audit_trail(store))


def test_failed_logins_have_their_own_trail(store, monkeypatch):
    """A flood of failed logins never pushes out what authenticated people did."""
    from omsh.store import audit

    monkeypatch.setattr(audit, "MAX_ANONYMOUS_EVENTS", 5)
    monkeypatch.setattr(audit, "TRIM_BATCH", 2)
    store.run(lambda root: root.audit.record("admin", "user-add", "alice"))
    auth = Authenticator(store, policy=ThrottlePolicy(free_failures=1000))
    for attempt in range(20):
        asyncio.run(auth.check_password("alice", f"guess-{attempt}", "10.0.0.5"))
    trail = audit_trail(store)
    assert trail[0] == ("admin", "user-add", "alice", "")
    assert 5 <= len(trail) - 1 <= 7


def test_logins_are_audited_with_their_method(store):
    auth = Authenticator(store)
    asyncio.run(auth.login_succeeded("alice", "10.0.0.5", "publickey"))
    assert audit_trail(store) == [("alice", "login", "alice", "address=10.0.0.5 method=publickey")]


def test_an_audit_that_cannot_be_written_does_not_stop_a_login(store, monkeypatch, caplog):
    auth = Authenticator(store)

    def broken(work, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "run", broken)
    asyncio.run(auth.login_succeeded("alice", "10.0.0.5", "password"))
    assert "could not audit login" in caplog.text


def test_unknown_users_cost_an_argon2_verification_too(store, monkeypatch):
    from omsh.store import principals

    checked: list[str] = []
    real = principals._hasher

    class Counting:
        def verify(self, password_hash: str, password: str) -> bool:
            checked.append(password_hash)
            return real.verify(password_hash, password)

    monkeypatch.setattr(principals, "_hasher", Counting())
    auth = Authenticator(store)
    for user in ("alice", "nobody"):
        assert not asyncio.run(auth.check_password(user, "wrong", "10.0.0.5"))
    assert len(checked) == 2
    assert all(h.startswith("$argon2id$") for h in checked)
    assert checked[1] == principals._DUMMY_HASH


def test_password_checks_run_a_bounded_number_at_once(store, monkeypatch):
    """A flood of attempts queues for argon2 instead of taking every worker."""
    import threading
    import time

    from omsh import authn

    monkeypatch.setattr(authn, "MAX_VERIFICATIONS", 2)
    auth = Authenticator(store, policy=ThrottlePolicy(free_failures=1000))
    running, peak, lock = 0, 0, threading.Lock()

    def slow_check(user: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(auth, "_check_password", slow_check)

    async def flood() -> None:
        await asyncio.gather(*(auth.check_password("alice", "x", "10.0.0.5") for _ in range(8)))

    asyncio.run(flood())
    assert peak == 2
