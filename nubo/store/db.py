"""The database: engine creation for SQLite, PostgreSQL and MariaDB, migrations, transactions.

The core is the only writer. Within one core process writes are serialised by one lock
(SQLite allows one writer anyway, and the lock spares it busy waits); reads run
concurrently (SQLite in WAL mode lets readers proceed during a write). Several core
processes may share a PostgreSQL or MariaDB database: there the database itself keeps
their writes apart (pools lock the rows a write transaction reads and check their
version when writing, ids come from a locked counter), and a transaction it refuses
in favour of another raises Conflict, to be tried again.
A transaction that fails because the database is out of reach raises
DatabaseUnavailable, whatever the backend and wherever it failed (nubo.store.outage).
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from nubo.store.outage import Conflict, DatabaseUnavailable, Outage, conflict, unavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
#: conn.info keys of a write transaction: callables run once it has committed, and a
#: scratch dict for its duration (both fresh for each transaction).
AFTER_COMMIT = "nubo.after_commit"
TRANSACTION = "nubo.transaction"
#: conn.info key of a write transaction: the Database it belongs to (its local stamps).
DATABASE = "nubo.database"
#: TRANSACTION's key of the statements run last, just before the commit (before_commit).
BEFORE_COMMIT = "nubo.before_commit"
#: Seconds to wait for a PostgreSQL connection (a server that does not answer is out
#: of reach, not slow), unless the URL says otherwise.
CONNECT_TIMEOUT = 10

T = TypeVar("T")


def on_commit(conn: Connection, fn: Callable[[], None], key: object = None) -> bool:
    """Run ``fn`` once ``conn``'s write transaction (Database.write) has committed; with
    a ``key``, at most once per transaction for that key. False if ``conn`` is not in a
    write transaction: the caller decides (usually, to run it now)."""
    after = conn.info.get(AFTER_COMMIT)
    if after is None:
        return False
    if key is not None:
        scratch = conn.info[TRANSACTION]
        if key in scratch:
            return True
        scratch[key] = True
    after.append(fn)
    return True


def before_commit(conn: Connection, fn: Callable[[Connection], None], key: object) -> bool:
    """Run ``fn(conn)`` as the last work of ``conn``'s write transaction, once per ``key``:
    a row every core process updates (a change stamp) is then locked only while the
    transaction commits, never while it waits for another row. False if ``conn`` is not
    in a write transaction."""
    scratch = conn.info.get(TRANSACTION)
    if scratch is None:
        return False
    last = scratch.setdefault(BEFORE_COMMIT, {})
    last.setdefault(key, fn)
    return True


class LocalStamp:
    """A counter this process's commits move and its waiters block on: the fast path of
    a wake-up (nubo.core.sched_events), held by the Database so that two stores in one
    process (tests, tools) never wake each other's waiters."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.value = 0

    def bump(self) -> None:
        with self._cond:
            self.value += 1
            self._cond.notify_all()

    def wait(self, last: int, timeout: float) -> int:
        """The value once it differs from ``last``, or after ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self.value != last, max(0.0, timeout))
            return self.value


class Database:
    """An engine plus nubo's transaction discipline."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 8) -> None:
        self.url = make_url(url)
        self.backend = self.url.get_backend_name()
        kwargs: dict = {"future": True}
        if self.backend == "sqlite":
            kwargs.update(poolclass=QueuePool, pool_size=pool_size, max_overflow=8,
                          connect_args={"check_same_thread": False, "timeout": 30})
        else:
            kwargs.update(pool_size=pool_size, max_overflow=8, pool_pre_ping=True,
                          pool_recycle=3600)
            if self.backend == "postgresql" and "connect_timeout" not in self.url.query:
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
            if self.backend in ("mysql", "mariadb"):
                # As PostgreSQL's default: a row locked by a read sees what the other
                # core process committed, and so do the reads after it (REPEATABLE READ
                # would keep the snapshot of the transaction's first read).
                kwargs["isolation_level"] = "READ COMMITTED"
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.backend == "sqlite":
            self._configure_sqlite(sqlite_synchronous)
        self._write_lock = threading.RLock()
        self._stamps: dict[str, LocalStamp] = {}
        self._stamps_lock = threading.Lock()
        self.outage = Outage()

    def retrying(self, work: Callable[[], T], what: str) -> T:
        """Run ``work`` (whole transactions) until the database lets it through: for
        what the core cannot ask for again (see nubo.store.outage.Outage.retrying)."""
        return self.outage.retrying(work, what)

    def _configure_sqlite(self, synchronous: str) -> None:
        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            # nubo's transactions emit BEGIN themselves (_transaction): pysqlite's
            # implicit transactions would defer it and break isolation.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._write_lock, self._transaction(write=True) as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("database schema at head (%s)", self.backend)

    def is_empty(self) -> bool:
        return not inspect(self.engine).has_table("pool_control")

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        """A connection in a transaction, committed on exit, rolled back on error.

        On SQLite the BEGIN is sent here rather than from an engine "begin" event: any
        connection event listener puts SQLAlchemy on its slower, event-dispatching
        execution path for every statement, and the core runs hundreds of thousands.
        """
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    if self.backend == "sqlite":
                        conn.exec_driver_sql("BEGIN")
                    yield conn
        except DatabaseUnavailable:
            raise  # from a transaction nested in this one: already noted
        except Exception as e:
            if conflict(e):
                raise Conflict(f"another core process got there first: {e}") from e
            if not unavailable(e):
                raise
            self.outage.down(e, write)
            raise DatabaseUnavailable(f"database unavailable: {e}") from e
        if self.outage.since is not None:
            self.outage.back(write)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (one consistent snapshot per transaction)."""
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction for a change: committed on exit, rolled back on error.

        Callables given to ``on_commit`` run after the commit, still under the write
        lock (nubo.store.write_cache puts its objects back then).
        """
        with self._write_lock:
            after: list[Callable[[], None]] = []
            with self._transaction(write=True) as conn:
                conn.info[AFTER_COMMIT] = after
                conn.info[TRANSACTION] = {}
                conn.info[DATABASE] = self
                try:
                    yield conn
                    for fn in conn.info[TRANSACTION].get(BEFORE_COMMIT, {}).values():
                        fn(conn)
                finally:
                    del conn.info[AFTER_COMMIT], conn.info[TRANSACTION], conn.info[DATABASE]
            for fn in after:
                fn()

    def local_stamp(self, name: str) -> LocalStamp:
        """This process's stamp ``name`` of this store (made on first use)."""
        with self._stamps_lock:
            return self._stamps.setdefault(name, LocalStamp())

    def size_bytes(self) -> int:
        """Size of the database on disk, for the benchmark and /metrics."""
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
                size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
                return int(pages) * int(size)
            if self.backend == "postgresql":
                return int(conn.exec_driver_sql(
                    "SELECT pg_database_size(current_database())").scalar_one())
            return int(conn.exec_driver_sql(
                "SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                "information_schema.tables WHERE table_schema = DATABASE()").scalar_one())

    def close(self) -> None:
        self.outage.stop()
        self.engine.dispose()
