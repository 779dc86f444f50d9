"""How ``pytest -n`` deals the tests to its workers (tests/conftest.py wires it in).

xdist's ``load`` hands out tests one by one or in chunks, so the tests of one file
land on several workers and each starts the file's module-scoped server again; its
``loadgroup`` does the same for every test without a group. Here a unit of work is
a whole file (its tests on one database backend: pytest collects all the tests on
SQLite first, then PostgreSQL, then MariaDB, so that each worker starts and stops
its session server of each backend once), or a whole group of files (the
real-guest tests, marked ``xdist_group``), dealt in collection order: module
fixtures start once, and the groups, collected first, start first.
"""
from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

from dbs import BACKENDS


class FilesAndGroups(LoadScopeScheduling):
    """Each test file (per backend) is one unit of work, each ``xdist_group`` another."""

    def __init__(self, config, log=None) -> None:  # noqa: ANN001 (xdist's types)
        # In collection order, not xdist's largest-first: the groups must start first.
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        # Under --dist loadgroup xdist appends "@<group>" to a grouped test's id.
        if nodeid.rfind("@") > nodeid.rfind("]"):
            return nodeid.rsplit("@", 1)[1]
        path, _, name = nodeid.partition("::")
        params = name[name.find("[") + 1:name.rfind("]")].split("-") if "[" in name else []
        backend = next((b for b in BACKENDS if b in params), "")
        return f"{path}[{backend}]" if backend else path
