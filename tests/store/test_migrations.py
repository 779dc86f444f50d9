"""The Alembic migrations build exactly the schema the code queries, on every backend."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dbs import BACKENDS, create_database, drop_database
from nubo.store.db import Database
from nubo.store.schema import metadata


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_matches_metadata(backend, tmp_path):
    url = create_database(backend, tmp_path)
    db = Database(url)
    try:
        assert db.is_empty()
        db.migrate()
        db.migrate()  # idempotent
        assert not db.is_empty()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        # Types that differ only by dialect spelling are not drift.
        real = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
        assert real == [], f"schema drift between migrations and nubo/store/schema.py: {real}"
    finally:
        db.close()
        drop_database(backend, url)
