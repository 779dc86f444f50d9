"""Throw-away databases on the three backends nubo supports.

SQLite is a file in a temporary directory; PostgreSQL and MariaDB are the
servers running on this machine (127.0.0.1:5432 trust auth, 127.0.0.1:3306
root without password), each test run getting its own database.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from nubo.store.db import Database

BACKENDS = ("sqlite", "postgresql", "mariadb")

PG_ADMIN = os.environ.get("NUBO_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MY_ADMIN = os.environ.get("NUBO_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/")


def create_database(backend: str, tmp: Path) -> str:
    """Create an empty database and return its SQLAlchemy URL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'nubo.db'}"
    name = f"nubo_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN if backend == "postgresql" else MY_ADMIN
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
        if backend == "postgresql":
            # Commits without waiting for the WAL's fsync (SQLite's is off in the test
            # servers too): only a crash of PostgreSQL itself loses them, which no
            # test causes. MariaDB has no such setting per database or session.
            conn.execute(text(f"ALTER DATABASE {name} SET synchronous_commit = off"))
    engine.dispose()
    if backend == "postgresql":
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    return f"{MY_ADMIN.rstrip('/')}/{name}?charset=utf8mb4"


def drop_database(backend: str, url: str) -> None:
    if backend == "sqlite":
        return
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = PG_ADMIN if backend == "postgresql" else MY_ADMIN
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if backend == "postgresql":
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    engine.dispose()


def migrate_to(db: Database, revision: str) -> None:
    """Run the migrations up to ``revision`` (a test stores rows as that schema had them)."""
    _alembic(db, "upgrade", revision)


def migrate_down(db: Database, revision: str) -> None:
    """Undo the migrations after ``revision``."""
    _alembic(db, "downgrade", revision)


def _alembic(db: Database, verb: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from nubo.store.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)
