"""Password hashes, a cache of recent successful checks, and login tokens.

Passwords are stored as argon2id hashes. Every XML-RPC call carries
``user:password``, and a KDF per call would dominate the API's cost, so a
successful check is remembered for a short while under an HMAC of
(user, password, stored hash) keyed by a per-process secret: nothing in
memory lets anyone recover or test a password without that secret, and a
changed password (new stored hash) can never hit an old entry.

Login tokens (one.user.login) are random hex strings like oned's; only their
SHA-256 digests are kept. Nothing here logs or echoes a secret.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

import argon2
from argon2 import exceptions as argon2_errors

# RFC 9106's second recommended profile (argon2-cffi's defaults): 64 MiB, 3 passes.
TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4


def make_hasher(time_cost: int = TIME_COST, memory_cost_kib: int = MEMORY_COST_KIB,
                parallelism: int = PARALLELISM) -> argon2.PasswordHasher:
    """An argon2id hasher; tests pass tiny costs, production keeps the defaults."""
    return argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib,
                                 parallelism=parallelism, hash_len=32, salt_len=16,
                                 type=argon2.Type.ID)


DEFAULT_HASHER = make_hasher()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _is_legacy(stored_hash: str) -> bool:
    # OpenNebula's core driver stores unsalted SHA-1 (old) or SHA-256 hex digests.
    return len(stored_hash) in (40, 64) and all(c in "0123456789abcdef" for c in stored_hash)


def hash_password(password: str, hasher: argon2.PasswordHasher | None = None) -> str:
    """A new argon2id hash (with a random salt) of ``password``."""
    return (hasher or DEFAULT_HASHER).hash(_utf8(password))


def verify_password(stored_hash: str, password: str,
                    hasher: argon2.PasswordHasher | None = None) -> bool:
    """Does ``password`` match ``stored_hash``? Never raises for a bad or odd hash.

    Hashes imported from an OpenNebula database (hex SHA-1/SHA-256 of the
    password) are also accepted; needs_rehash() is then True so the caller
    can upgrade them after a successful login.
    """
    if not stored_hash:
        return False
    if _is_legacy(stored_hash):
        algo = hashlib.sha1 if len(stored_hash) == 40 else hashlib.sha256
        return hmac.compare_digest(_utf8(algo(_utf8(password)).hexdigest()), _utf8(stored_hash))
    try:
        return (hasher or DEFAULT_HASHER).verify(stored_hash, _utf8(password))
    except (argon2_errors.VerificationError, argon2_errors.InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: argon2.PasswordHasher | None = None) -> bool:
    """True when the hash is legacy, unreadable or made with other parameters."""
    if _is_legacy(stored_hash):
        return True
    try:
        return (hasher or DEFAULT_HASHER).check_needs_rehash(stored_hash)
    except (argon2_errors.InvalidHashError, ValueError):
        return True


class CredentialCache:
    """Remembers recent successful password checks so repeated calls skip the KDF.

    Bounded (least recently used entries go first) and time-limited (an entry unused
    for ``ttl`` seconds is dropped); entries
    are keyed by an HMAC so the cache holds no password-derived value that is
    useful without this process's random key. Thread-safe.
    """

    def __init__(self, max_entries: int = 4096, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 hasher: argon2.PasswordHasher | None = None) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._hasher = hasher
        self._secret = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[float, str]] = OrderedDict()
        self._by_user: dict[str, set[bytes]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<CredentialCache entries={len(self)} max={self.max_entries} ttl={self.ttl}>"

    def __len__(self) -> int:
        return len(self._entries)

    def _key(self, username: str, password: str, stored_hash: str) -> bytes:
        mac = hmac.new(self._secret, digestmod=hashlib.sha256)
        for part in (username, password, stored_hash):
            data = _utf8(part)
            mac.update(len(data).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
            mac.update(data)
        return mac.digest()

    def check(self, username: str, password: str, stored_hash: str) -> bool:
        """Was this exact (user, password, hash) verified, or found here, within the TTL?"""
        key = self._key(username, password, stored_hash)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry[0] <= now:
                self._drop(key)
                return False
            # Sliding: a password in use stays verified, so a flood of wrong guesses
            # (which back off the name, nubo.auth.password_guard) never makes its owner re-check.
            self._entries[key] = (now + self.ttl, entry[1])
            self._entries.move_to_end(key)
            return True

    def remember(self, username: str, password: str, stored_hash: str) -> None:
        """Record a successful verification (call only after one)."""
        if self.max_entries <= 0 or self.ttl <= 0:
            return
        key = self._key(username, password, stored_hash)
        expires = self._clock() + self.ttl
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            self._entries[key] = (expires, username)
            self._by_user.setdefault(username, set()).add(key)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))

    def verify(self, username: str, password: str, stored_hash: str) -> bool:
        """check(), else verify_password() and remember a success. Failures are not cached."""
        if self.check(username, password, stored_hash):
            return True
        if verify_password(stored_hash, password, self._hasher):
            self.remember(username, password, stored_hash)
            return True
        return False

    def invalidate_user(self, username: str) -> None:
        """Forget every entry of a user (password changed, user disabled or deleted)."""
        with self._lock:
            for key in self._by_user.pop(username, set()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_user.clear()

    def _drop(self, key: bytes) -> None:
        # Caller holds the lock.
        _, username = self._entries.pop(key)
        keys = self._by_user.get(username)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[username]


# -- login tokens (one.user.login) --------------------------------------------
def new_token() -> str:
    """A fresh login token: 64 lowercase hex chars, the shape of oned's SHA-256 tokens."""
    return secrets.token_hex(32)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256, hex."""
    return hashlib.sha256(_utf8(token)).hexdigest()


def verify_token(token: str, stored_digest: str) -> bool:
    """Constant-time check of a presented token against a stored digest."""
    if not stored_digest:
        return False
    return hmac.compare_digest(_utf8(token_digest(token)), _utf8(stored_digest.lower()))
