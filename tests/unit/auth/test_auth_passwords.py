"""argon2id hashes, the credential cache (with an injected clock) and login tokens."""
from __future__ import annotations

import hashlib
import re

import pytest

from nubo.auth import passwords
from nubo.auth.passwords import (CredentialCache, hash_password, make_hasher, needs_rehash,
                                 new_token, token_digest, verify_password, verify_token)
from fakeclock import Clock

# Tiny costs keep the suite fast; the production parameters are checked separately.
FAST = make_hasher(time_cost=1, memory_cost_kib=64, parallelism=1)


class CountingHasher:
    """Wraps a hasher and counts the (expensive) verifications."""

    def __init__(self) -> None:
        self.verifications = 0

    def verify(self, stored: str, password: bytes) -> bool:
        self.verifications += 1
        return FAST.verify(stored, password)


def test_hash_is_argon2id_and_salted() -> None:
    h1, h2 = hash_password("s3cret", FAST), hash_password("s3cret", FAST)
    assert h1.startswith("$argon2id$") and h1 != h2
    assert "s3cret" not in h1


def test_verify() -> None:
    h = hash_password("pässwörd", FAST)
    assert verify_password(h, "pässwörd", FAST)
    assert not verify_password(h, "passwort", FAST)
    assert not verify_password(h, "", FAST)


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$v=19$m=64,t=1,p=1$xx$yy"])
def test_verify_never_raises_on_bad_hash(stored: str) -> None:
    assert not verify_password(stored, "x", FAST)


def test_legacy_opennebula_hashes() -> None:
    sha256 = hashlib.sha256(b"opennebula").hexdigest()
    sha1 = hashlib.sha1(b"opennebula").hexdigest()
    assert verify_password(sha256, "opennebula") and verify_password(sha1, "opennebula")
    assert not verify_password(sha256, "other")
    assert needs_rehash(sha256) and needs_rehash(sha1)


def test_needs_rehash() -> None:
    h = hash_password("pw", FAST)
    assert not needs_rehash(h, FAST)
    assert needs_rehash(h)  # default (production) parameters differ
    assert needs_rehash("garbage")


def test_production_parameters() -> None:
    h = passwords.DEFAULT_HASHER
    assert (h.time_cost, h.memory_cost, h.parallelism) == (3, 65536, 4)
    assert h.type.name == "ID"


def test_cache_hit_skips_kdf() -> None:
    counter = CountingHasher()
    cache = CredentialCache(hasher=counter, clock=Clock())  # type: ignore[arg-type]
    stored = hash_password("pw", FAST)
    assert cache.verify("alice", "pw", stored)
    assert cache.verify("alice", "pw", stored)
    assert cache.verify("alice", "pw", stored)
    assert counter.verifications == 1
    assert len(cache) == 1


def test_cache_miss_on_other_password_user_or_hash() -> None:
    counter = CountingHasher()
    cache = CredentialCache(hasher=counter, clock=Clock())  # type: ignore[arg-type]
    stored = hash_password("pw", FAST)
    assert cache.verify("alice", "pw", stored)
    assert not cache.check("alice", "pw2", stored)
    assert not cache.check("bob", "pw", stored)
    assert not cache.check("alice", "pw", hash_password("pw", FAST))  # password changed
    assert not cache.verify("alice", "wrong", stored)
    assert not cache.verify("alice", "wrong", stored)
    assert counter.verifications == 3  # failures are never cached


def test_cache_key_is_unambiguous() -> None:
    cache = CredentialCache(clock=Clock())
    cache.remember("ab", "c", "h")
    assert not cache.check("a", "bc", "h")
    assert not cache.check("ab", "ch", "")


def test_cache_ttl() -> None:
    clock = Clock()
    counter = CountingHasher()
    cache = CredentialCache(ttl=60, hasher=counter, clock=clock)  # type: ignore[arg-type]
    stored = hash_password("pw", FAST)
    cache.verify("alice", "pw", stored)
    clock.now += 59.9
    assert cache.check("alice", "pw", stored)   # in use: valid for another ttl
    clock.now += 59.9
    assert cache.check("alice", "pw", stored)
    clock.now += 60.1                           # unused for a whole ttl
    assert not cache.check("alice", "pw", stored)
    assert len(cache) == 0  # expired entries are dropped when seen
    assert cache.verify("alice", "pw", stored)
    assert counter.verifications == 2


def test_cache_lru_bound() -> None:
    cache = CredentialCache(max_entries=3, clock=Clock())
    for name in "abc":
        cache.remember(name, "pw", "h")
    assert cache.check("a", "pw", "h")  # a becomes most recent
    cache.remember("d", "pw", "h")      # evicts b, the least recently used
    assert len(cache) == 3
    assert not cache.check("b", "pw", "h")
    assert all(cache.check(n, "pw", "h") for n in "acd")


def test_cache_invalidate_user() -> None:
    cache = CredentialCache(clock=Clock())
    cache.remember("alice", "pw", "h1")
    cache.remember("alice", "old", "h0")
    cache.remember("bob", "pw", "h1")
    cache.invalidate_user("alice")
    assert not cache.check("alice", "pw", "h1") and not cache.check("alice", "old", "h0")
    assert cache.check("bob", "pw", "h1")
    cache.invalidate_user("nobody")
    cache.clear()
    assert len(cache) == 0


def test_cache_disabled() -> None:
    cache = CredentialCache(max_entries=0, clock=Clock())
    cache.remember("a", "pw", "h")
    assert len(cache) == 0 and not cache.check("a", "pw", "h")


def test_cache_holds_no_secret_in_clear() -> None:
    cache = CredentialCache(clock=Clock())
    cache.remember("alice", "hunter2", "h")
    assert "hunter2" not in repr(cache)
    assert all(b"hunter2" not in key for key in cache._entries)


def test_two_caches_use_different_keys() -> None:
    a, b = CredentialCache(clock=Clock()), CredentialCache(clock=Clock())
    assert a._key("u", "p", "h") != b._key("u", "p", "h")


def test_tokens() -> None:
    t1, t2 = new_token(), new_token()
    assert re.fullmatch(r"[0-9a-f]{64}", t1) and t1 != t2
    digest = token_digest(t1)
    assert digest == hashlib.sha256(t1.encode()).hexdigest() and digest != t1
    assert verify_token(t1, digest)
    assert verify_token(t1, digest.upper())
    assert not verify_token(t2, digest)
    assert not verify_token(t1, "")
    assert not verify_token(t1, "é" * 64)
