"""What the store's tests share: an empty database on each backend."""
from __future__ import annotations

import pytest

from dbs import BACKENDS, create_database, drop_database
from nubo.store.db import Database


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    url = create_database(request.param, tmp_path)
    database = Database(url, sqlite_synchronous="OFF")  # as the test servers' (server.py)
    yield database
    database.close()
    drop_database(request.param, url)
