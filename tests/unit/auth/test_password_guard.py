"""The password guard (nubo.auth.password_guard): bounded KDF pool, back-off per user and per
source, the cache of verified passwords first, and a dummy KDF run for unknown users."""
from __future__ import annotations

import hashlib
import logging
import threading

import pytest

from nubo.auth.backoff import BackoffPolicy
from nubo.auth.password_guard import GuardSettings, PasswordGuard
from nubo.auth.passwords import hash_password, make_hasher
from nubo.config import ConfigError, guard_settings, load_config
from fakeclock import Clock

FAST = make_hasher(time_cost=1, memory_cost_kib=64, parallelism=1)
USER = BackoffPolicy(failures=3, window=60.0, delay=10.0, max_delay=40.0)
SOURCE = BackoffPolicy(failures=5, window=60.0, delay=10.0, max_delay=40.0)
STORED = hash_password("right", FAST)


class CountingHasher:
    """FAST, counting the KDF runs (verifications); optionally held inside one."""

    def __init__(self) -> None:
        self.verifications = 0
        self.inside = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def hash(self, password: bytes) -> str:
        return FAST.hash(password)

    def verify(self, stored: str, password: bytes) -> bool:
        self.verifications += 1
        self.inside.set()
        self.release.wait(10)
        return FAST.verify(stored, password)


def guard(workers: int = 1, queue: int = 4) -> tuple[PasswordGuard, CountingHasher, Clock]:
    hasher, clock = CountingHasher(), Clock()
    g = PasswordGuard(GuardSettings(workers, queue, USER, SOURCE),
                      hasher=hasher, clock=clock)  # type: ignore[arg-type]
    g.dummy_hash()                       # made once, up front: not counted below
    return g, hasher, clock


def test_repeated_failures_back_the_user_off_without_kdf_then_it_ends():
    g, hasher, clock = guard()
    for _ in range(USER.failures):
        assert not g.check("alice", "guess", STORED, "10.0.0.1")
    assert hasher.verifications == USER.failures
    # Backed off: even the right password is refused, and no KDF runs.
    assert not g.check("alice", "right", STORED, "10.0.0.2")
    assert not g.check("alice", "guess", STORED, "10.0.0.3")
    assert hasher.verifications == USER.failures
    assert g.stats.refused_backoff == 2 and g.stats.backoffs_user == 1
    assert g.check("bob", "right", hash_password("right", FAST), "10.0.0.1")  # others pass
    clock.now += USER.delay
    assert g.check("alice", "right", STORED, "10.0.0.1")       # the back-off ended


def test_a_verified_password_stays_valid_during_a_back_off():
    g, hasher, clock = guard()
    assert g.check("alice", "right", STORED, "10.0.0.1")
    for i in range(SOURCE.failures):   # alice's back-off first, then other names
        g.check("alice" if i < USER.failures else f"x{i}", "guess", STORED, "10.0.0.1")
    assert g.users.refused_for("alice") > 0 and g.sources.refused_for("10.0.0.1") > 0
    before = hasher.verifications
    for _ in range(100):
        assert g.check("alice", "right", STORED, "10.0.0.1")
    assert hasher.verifications == before                     # from the cache, no KDF
    clock.now += 3600                                          # in use: stays verified
    assert g.check("alice", "right", STORED, "10.0.0.1")


def test_one_source_guessing_many_names_is_backed_off():
    g, hasher, _ = guard()
    for i in range(SOURCE.failures):
        assert not g.check(f"user{i}", "guess", STORED, "10.0.0.9")
    assert g.stats.backoffs_source == 1 and g.stats.backoffs_user == 0
    runs = hasher.verifications
    assert not g.check("alice", "right", STORED, "10.0.0.9")   # refused, no KDF
    assert hasher.verifications == runs
    assert g.check("alice", "right", STORED, "10.0.0.8")       # another source


def test_unknown_users_cost_one_kdf_run_as_known_ones_do():
    g, hasher, _ = guard()
    costs = {}
    for who, stored in (("known", STORED), ("unknown", None), ("no hash", ""),
                        ("legacy", hashlib.sha256(b"right").hexdigest())):
        before = hasher.verifications
        assert not g.check(who, "guess", stored)
        costs[who] = hasher.verifications - before
    assert costs == {"known": 1, "unknown": 1, "no hash": 1, "legacy": 1}
    assert g.stats.kdf_runs == 1 and g.stats.dummy_runs == 3
    assert not g.check("unknown", "right", None)               # never accepted
    assert g.check("legacy", "right", hashlib.sha256(b"right").hexdigest())
    # Unknown names are backed off as known ones are.
    assert not g.check("unknown", "x", None)
    assert g.users.refused_for("unknown") > 0


def test_a_full_pool_refuses_at_once_without_queueing():
    g, hasher, _ = guard(workers=1, queue=0)
    hasher.release.clear()
    first = threading.Thread(target=g.check, args=("alice", "right", STORED))
    first.start()
    assert hasher.inside.wait(10)                              # the only worker is busy
    assert not g.check("bob", "right", STORED)                 # no slot: refused now
    assert g.stats.refused_busy == 1 and hasher.verifications == 1
    hasher.release.set()
    first.join(10)
    assert g.check("bob", "right", STORED)                     # free again


def test_back_offs_are_logged_once_each_not_per_attempt(caplog):
    g, _, clock = guard()
    with caplog.at_level(logging.INFO, logger="nubo.auth"):
        for _ in range(50):
            g.check("alice", "guess", STORED, "10.0.0.1")
            clock.now += 1
    warnings = [r.getMessage() for r in caplog.records]
    assert g.stats.refused_backoff > 30
    assert len(warnings) == g.stats.backoffs_user + g.stats.backoffs_source < 8
    assert all("guess" not in w for w in warnings)             # never the password
    assert "user 'alice'" in warnings[0] and "refused for 10 s" in warnings[0]


def test_settings_come_from_the_configuration(tmp_path):
    conf = tmp_path / "nubo.toml"
    conf.write_text("auth_kdf_workers = 1\nauth_kdf_queue = 0\nauth_user_failures = 7\n"
                    "auth_failure_window = 30\nauth_backoff = 2\nauth_backoff_max = 16\n")
    s = guard_settings(load_config(conf))
    assert (s.workers, s.queue) == (1, 0)
    assert s.user == BackoffPolicy(7, 30.0, 2.0, 16.0)
    assert s.source == BackoffPolicy(20, 30.0, 2.0, 16.0)
    assert guard_settings(load_config(None)) == GuardSettings()   # the documented defaults


def test_a_wrong_setting_is_refused_naming_it(tmp_path):
    conf = tmp_path / "nubo.toml"
    for text, key in (("auth_kdf_workers = 0", "auth_kdf_workers"),
                      ("auth_backoff = 10\nauth_backoff_max = 5", "auth_backoff_max"),
                      ("auth_failure_window = 0", "auth_failure_window")):
        conf.write_text(text + "\n")
        with pytest.raises(ConfigError, match=key):
            load_config(conf)
