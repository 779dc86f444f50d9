"""A datastore's room: its figures from the DS driver's MONITOR, and the check oned makes
before an image is allocated or cloned into it (Datastore::get_avail_mb).

The figures come from the real filesystem of the datastore's BASE_PATH (the ``fs`` DS
driver's statvfs); LIMIT_MB in the datastore's template caps what images may take of
it, and DATASTORE_CAPACITY_CHECK = "NO" turns the check off for that datastore.
"""
from __future__ import annotations

from nubo.core.cloud import Cloud
from nubo.errors import ActionError
from nubo.model.infra import Datastore
from nubo.model.limits import figure
from nubo.template import Template

NOT_ENOUGH = "Not enough space in datastore"


def read_figures(figures: Template) -> tuple[int, int, int] | None:
    """(TOTAL_MB, FREE_MB, USED_MB) of a MONITOR answer; None if they are not numbers."""
    try:
        return tuple(figure(figures.get(k) or 0)  # type: ignore[return-value]
                     for k in ("TOTAL_MB", "FREE_MB", "USED_MB"))
    except (TypeError, ValueError):
        return None


def store_figures(cloud: Cloud, oid: int, figures: tuple[int, int, int]) -> None:
    """Keep a datastore's new figures (no write when they did not change)."""
    total, free, used = figures
    with cloud.db.write() as conn:
        ds = cloud.pools.datastores.find(conn, oid)
        if ds is None or (ds.total_mb, ds.free_mb, ds.used_mb) == (total, free, used):
            return
        ds.total_mb, ds.free_mb, ds.used_mb = total, free, used
        cloud.pools.datastores.update(conn, ds)


def available_mb(ds: Datastore) -> tuple[bool, int]:
    """(check it?, MB images may still take): FREE_MB, less if LIMIT_MB leaves less."""
    avail = ds.free_mb
    limit = (ds.template.get("LIMIT_MB") or "").strip()
    if limit:
        try:
            avail = min(avail, int(float(limit)) - ds.used_mb)
        except ValueError:
            pass
    check = (ds.template.get("DATASTORE_CAPACITY_CHECK") or "YES").strip().upper() != "NO"
    # Never monitored (its driver could not say): nothing known to check against.
    return check and ds.total_mb > 0, avail


def refuse_if_full(ds: Datastore, size_mb: int, oid: int = -1) -> None:
    """ACTION "Not enough space in datastore" when an image of size_mb does not fit."""
    check, avail = available_mb(ds)
    if check and size_mb > avail:
        raise ActionError(NOT_ENOUGH, oid)
