"""Statements of the life-cycle's hot path, run straight on the DBAPI cursor.

A VM transition runs half a dozen small statements (read the VM, read its awaited
operation, write the VM and its host...), and SQLAlchemy's execution machinery costs
more per statement than SQLite takes to run it. A ``HotStatement`` is compiled by
SQLAlchemy once per dialect and set of parameter names, then executed on the
connection's own DBAPI cursor, inside the same transaction. Statements whose
parameters need SQLAlchemy's type processing (none of the hot ones: integers and
text) are run the ordinary way.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable


class _Compiled:
    __slots__ = ("sql", "positions", "defaults")

    def __init__(self, sql: str, positions: tuple[str, ...] | None, defaults: dict) -> None:
        self.sql = sql
        self.positions = positions
        self.defaults = defaults


class HotStatement:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled | None] = {}

    def _compile(self, conn: Connection, keys: frozenset[str]) -> _Compiled | None:
        dialect = conn.dialect
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(keys))
        if compiled._bind_processors:  # types needing conversion: not for the fast path
            return None
        positions = tuple(compiled.positiontup) if compiled.positional else None
        return _Compiled(compiled.string, positions, dict(compiled.params))

    def one(self, conn: Connection, params: dict[str, Any]) -> tuple | None:
        """The first row (a plain tuple), or None."""
        cursor = self._execute(conn, params)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def run(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run a change; returns how many rows it touched."""
        cursor = self._execute(conn, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def _execute(self, conn: Connection, params: dict[str, Any]) -> Any:
        key = (conn.dialect.name, frozenset(params))
        try:
            compiled = self._compiled[key]
        except KeyError:
            compiled = self._compiled[key] = self._compile(conn, key[1])
        if compiled is None:
            return _Result(conn.execute(self.statement, params))
        values = {**compiled.defaults, **params} if compiled.defaults else params
        cursor = conn.connection.cursor()
        if compiled.positions is not None:
            cursor.execute(compiled.sql, [values[name] for name in compiled.positions])
        else:
            cursor.execute(compiled.sql, values)
        return cursor


class _Result:
    """An SQLAlchemy result with the little of a cursor that ``one``/``run`` use."""

    def __init__(self, result: Any) -> None:
        self._result = result
        self.rowcount = result.rowcount

    def fetchone(self) -> tuple | None:
        row = self._result.fetchone() if self._result.returns_rows else None
        return None if row is None else tuple(row)

    def close(self) -> None:
        self._result.close()
