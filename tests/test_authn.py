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


def test_success_clears_the_records():
    throttle = LoginThrottle(FakeClock())
    for _ in range(10):
        throttle.failed("10.0.0.1", "alice")
    throttle.succeeded("10.0.0.1", "alice")
    assert throttle.delay("10.0.0.1", "alice") == 0


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
