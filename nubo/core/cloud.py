"""One cloud: its database, object pools, ACL rules and the authentication of sessions.

The request manager holds one Cloud and asks it who a session is and whether
that requester may act; everything else it does through the pools inside
transactions the Cloud hands out.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Connection, func, select

from nubo.auth import passwords
from nubo.auth.acl import AclRule
from nubo.auth.authorize import AclIndex, Requester
from nubo.config import Config
from nubo.core.pools import Pools, make_pools
from nubo.errors import AuthenticationError
from nubo.model import xmlobj
from nubo.store import schema
from nubo.store.db import Database

if TYPE_CHECKING:
    from nubo.core.lcm import LifeCycleManager

log = logging.getLogger(__name__)

ONEADMIN_GROUP = 0


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


@dataclass
class Cloud:
    db: Database
    config: Config
    pools: Pools = field(default_factory=make_pools)
    clock: Callable[[], float] = time.time
    credentials: passwords.CredentialCache = field(default_factory=passwords.CredentialCache)
    # The life-cycle manager, when the core runs one (``nubo serve``); VM actions need it.
    lifecycle: LifeCycleManager | None = None

    def __post_init__(self) -> None:
        self._acl_lock = threading.Lock()
        self._acl_index: AclIndex | None = None
        self._acl_stamp: tuple = ()

    def now(self) -> int:
        return int(self.clock())

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
    def authenticate(self, session: str) -> Session:
        """Check ``user:password`` or ``user:token``; the secret is never logged."""
        name, sep, secret = session.partition(":")
        if not sep or not name:
            raise AuthenticationError("User couldn't be authenticated, aborting call.")
        with self.db.read() as conn:
            row = conn.execute(
                select(schema.user_pool.c.oid, schema.user_pool.c.password_hash,
                       schema.user_pool.c.enabled, schema.user_pool.c.body)
                .where(schema.user_pool.c.name == name)).first()
            if row is None or not row.enabled:
                raise AuthenticationError("User couldn't be authenticated, aborting call.")
            egid = self._check_secret(conn, row.oid, name, secret, row.password_hash)
        u = xmlobj.parse(self.pools.users.cls, row.body)
        gid = egid if egid is not None and egid >= 0 else u.gid
        groups = frozenset(u.groups) if egid is None or egid < 0 else frozenset({egid})
        gname = u.gname if gid == u.gid else self._group_name(gid)
        return Session(Requester(uid=u.id, gid=gid, group_ids=groups), uname=u.name, gname=gname)

    def _check_secret(self, conn: Connection, uid: int, name: str, secret: str,
                      stored: str) -> int | None:
        """Return None for a password login, or the token's effective group.

        The token is looked up first: it is one indexed query, while a wrong
        password costs a full KDF run (failures are never cached).
        """
        digest = passwords.token_digest(secret)
        tok = conn.execute(select(schema.user_token.c.expiration, schema.user_token.c.egid)
                           .where(schema.user_token.c.digest == digest,
                                  schema.user_token.c.uid == uid)).first()
        if tok is not None and (tok.expiration < 0 or tok.expiration > self.now()):
            return tok.egid
        if stored and self.credentials.verify(name, secret, stored):
            return None
        raise AuthenticationError("User couldn't be authenticated, aborting call.")

    def _group_name(self, gid: int) -> str:
        with self.db.read() as conn:
            return conn.execute(select(schema.group_pool.c.name)
                                .where(schema.group_pool.c.oid == gid)).scalar() or ""


def load_acl_rules(conn: Connection) -> list[AclRule]:
    t = schema.acl
    return [AclRule(r.oid, r.user, r.resource, r.rights, r.zone)
            for r in conn.execute(select(t).order_by(t.c.oid))]
