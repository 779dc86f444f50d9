"""One cloud: its database, object pools, ACL rules and the authentication of sessions.

The request manager holds one Cloud and asks it who a session is and whether
that requester may act; everything else it does through the pools inside
transactions the Cloud hands out. The managers that act on the cloud (life-cycle,
host monitor, hooks, scheduled actions) belong to the core that composed it
(nubo.core.composition), given at construction: an operation reads them here
(``call.cloud.lifecycle``), nothing sets them from outside.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from sqlalchemy import Connection, bindparam, func, select

from nubo.auth import passwords
from nubo.auth.acl import AclRule
from nubo.auth.authorize import AclIndex, Requester
from nubo.auth.password_guard import PasswordGuard
from nubo.config import Config, guard_settings
from nubo.core.pool_set import Pools, make_pools
from nubo.errors import AuthenticationError
from nubo.model import xmlobj
from nubo.store import schema
from nubo.store.db import Database

if TYPE_CHECKING:
    from nubo.core.image_manager import ImageManager
    from nubo.core.lcm import LifeCycleManager
    from nubo.core.monitor import HostMonitor
    from nubo.core.sched_timer import ScheduledActionTimer
    from nubo.hooks.hook_manager import HookManager

log = logging.getLogger(__name__)

ONEADMIN_GROUP = 0
_DENIED = "User couldn't be authenticated, aborting call."

#: How long (seconds) an authenticated session is reused without checking its secret
#: again, as long as the user's row (its version) is unchanged.
SESSION_TTL = 3.0
_SESSION_CACHE_MAX = 4096

_u = schema.user_pool
_Q_USER_FULL = select(_u.c.oid, _u.c.version, _u.c.password_hash, _u.c.enabled,
                      _u.c.body).where(_u.c.name == bindparam("name"))
_Q_USER_STAMP = select(_u.c.oid, _u.c.version, _u.c.enabled).where(
    _u.c.name == bindparam("name"))


@dataclass(frozen=True)
class Session:
    """An authenticated requester, with the names messages and bodies need."""

    requester: Requester
    uname: str
    gname: str

    @property
    def uid(self) -> int:
        return self.requester.uid

    @property
    def gid(self) -> int:
        return self.requester.gid

    @property
    def is_admin(self) -> bool:
        return self.requester.uid == 0 or ONEADMIN_GROUP in self.requester.group_ids


#: oneadmin (user 0 of group 0): the core acting on its own, e.g. bootstrapping the cloud.
ONEADMIN = Session(Requester(uid=0, gid=0, group_ids=frozenset({0})), "oneadmin", "oneadmin")


class Services(Protocol):
    """What a composed core (nubo.core.composition.Core) lends its cloud; each is None
    where that core runs none (e.g. no host monitoring)."""

    @property
    def lifecycle(self) -> LifeCycleManager | None: ...

    @property
    def monitor(self) -> HostMonitor | None: ...

    @property
    def hooks(self) -> HookManager | None: ...

    @property
    def sched_timer(self) -> ScheduledActionTimer | None: ...

    @property
    def images(self) -> ImageManager | None: ...


@dataclass
class Cloud:
    db: Database
    config: Config
    pools: Pools = field(default_factory=make_pools)
    clock: Callable[[], float] = time.time
    credentials: passwords.CredentialCache = field(default_factory=passwords.CredentialCache)
    # Password checks: their KDF pool and back-off (nubo.auth.password_guard); made from the
    # configuration, around ``credentials``, unless given.
    guard: PasswordGuard | None = None
    # The core that composed this cloud and runs its managers (``nubo serve``); None for
    # a bare cloud (bootstrap tools, tests), which has no manager at all.
    services: Services | None = None

    def __post_init__(self) -> None:
        if self.guard is None:
            self.guard = PasswordGuard(guard_settings(self.config), cache=self.credentials)
        self._acl_lock = threading.Lock()
        self._acl_index: AclIndex | None = None
        self._acl_stamp: tuple = ()
        # Authenticated sessions: HMAC of the session string (never the secret) ->
        # (user oid, row version, token expiration or None, valid until, Session).
        self._session_key = os.urandom(32)
        self._sessions: dict[bytes, tuple[int, int, int | None, float, Session]] = {}

    def now(self) -> int:
        return int(self.clock())

    # the core's managers, read-only -----------------------------------------------
    @property
    def lifecycle(self) -> LifeCycleManager | None:
        """The life-cycle manager; VM actions need it."""
        return None if self.services is None else self.services.lifecycle

    @property
    def monitor(self) -> HostMonitor | None:
        """The host monitor while it runs: a new or re-enabled host is then probed at
        once rather than at the next round (HostMonitor.probe)."""
        return None if self.services is None else self.services.monitor

    @property
    def hooks(self) -> HookManager | None:
        """The hook manager: one.hook.* tell it of changes, API calls reach it."""
        return None if self.services is None else self.services.hooks

    @property
    def images(self) -> ImageManager | None:
        """The image manager: images' DS driver work (copies, removals), sent once
        committed; None on a bare cloud, whose images have no file to wait for."""
        return None if self.services is None else self.services.images

    @property
    def sched_timer(self) -> ScheduledActionTimer | None:
        """The timer of VMs' scheduled actions, told when a schedule changes."""
        return None if self.services is None else self.services.sched_timer

    # ACL rules --------------------------------------------------------------
    def acl_index(self) -> AclIndex:
        """The ACL rules, indexed; reloaded only after a rule changes.

        Rule ids are never reused, so (count, highest id) changes with every
        committed change of the rule set: checking it costs one tiny query and
        can't miss a change committed after an earlier invalidation.
        """
        t = schema.acl
        with self.db.read() as conn:
            stamp = tuple(conn.execute(select(func.count(), func.max(t.c.oid))).one())
            with self._acl_lock:
                if self._acl_index is None or stamp != self._acl_stamp:
                    self._acl_index = AclIndex(load_acl_rules(conn))
                    self._acl_stamp = stamp
                return self._acl_index

    # sessions ---------------------------------------------------------------
    def authenticate(self, session: str, source: str | None = None) -> Session:
        """Check ``user:password`` or ``user:token``; the secret is never logged.

        A session authenticated in the last few seconds is taken again without its
        secret checked (one small query), as long as the user's row is unchanged:
        every change of the user (enable, password, tokens, groups) bumps its version.
        A password goes to the guard (nubo.auth.password_guard) with ``source``, the client's
        address: it backs off guessing and costs an unknown user what a known one costs.
        """
        name, sep, secret = session.partition(":")
        if not sep or not name:
            raise AuthenticationError(_DENIED)
        key = hmac.new(self._session_key, session.encode("utf-8", "surrogatepass"),
                       hashlib.sha256).digest()
        cached = self._sessions.get(key)
        if cached is not None:
            oid, version, expiration, until, sess = cached
            if time.monotonic() < until and (expiration is None or expiration < 0
                                             or expiration > self.now()):
                with self.db.read() as conn:
                    row = conn.execute(_Q_USER_STAMP, {"name": name}).first()
                if row is None or not row.enabled:
                    self._sessions.pop(key, None)
                    raise AuthenticationError(_DENIED)
                if row.oid == oid and row.version == version:
                    return sess
            self._sessions.pop(key, None)
        with self.db.read() as conn:
            row = conn.execute(_Q_USER_FULL, {"name": name}).first()
            known = row is not None and bool(row.enabled)
            token = self._token(conn, row.oid, secret) if known else None
        # The KDF runs outside the transaction: no database connection waits for it.
        if token is not None:
            egid, expiration = token
        elif self.guard.check(name, secret, row.password_hash if known else None, source):
            egid, expiration = None, None
        else:
            raise AuthenticationError(_DENIED)
        u = xmlobj.parse(self.pools.users.cls, row.body)
        gid = egid if egid is not None and egid >= 0 else u.gid
        groups = frozenset(u.groups) if egid is None or egid < 0 else frozenset({egid})
        gname = u.gname if gid == u.gid else self._group_name(gid)
        sess = Session(Requester(uid=u.id, gid=gid, group_ids=groups), uname=u.name,
                       gname=gname)
        if gid == u.gid:  # a group name read elsewhere may change without the user's row
            if len(self._sessions) >= _SESSION_CACHE_MAX:
                self._sessions.clear()
            self._sessions[key] = (row.oid, row.version, expiration,
                                   time.monotonic() + SESSION_TTL, sess)
        return sess

    def _token(self, conn: Connection, uid: int, secret: str) -> tuple[int, int] | None:
        """The effective group and expiration of the user's live login token ``secret``,
        else None. Looked up before the password: one indexed query, no KDF."""
        digest = passwords.token_digest(secret)
        tok = conn.execute(select(schema.user_token.c.expiration, schema.user_token.c.egid)
                           .where(schema.user_token.c.digest == digest,
                                  schema.user_token.c.uid == uid)).first()
        if tok is not None and (tok.expiration < 0 or tok.expiration > self.now()):
            return tok.egid, tok.expiration
        return None

    def _group_name(self, gid: int) -> str:
        with self.db.read() as conn:
            return conn.execute(select(schema.group_pool.c.name)
                                .where(schema.group_pool.c.oid == gid)).scalar() or ""


def load_acl_rules(conn: Connection) -> list[AclRule]:
    t = schema.acl
    return [AclRule(r.oid, r.user, r.resource, r.rights, r.zone)
            for r in conn.execute(select(t).order_by(t.c.oid))]
