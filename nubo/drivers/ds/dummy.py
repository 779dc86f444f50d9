"""DS_MAD ``dummy``: no file anywhere, answers as OpenNebula's dummy datastore driver
(images "made" at once of the SIZE asked, default 1024 MB; capacity DUMMY_TOTAL_MB of
the datastore's template, default 1 TB)."""
from __future__ import annotations

from nubo.drivers.ds.action_data import ActionData

DEFAULT_SIZE_MB = 1024
DEFAULT_TOTAL_MB = 1024 * 1024


def _number(text: str, default: int) -> int:
    try:
        return int(float(text))
    except ValueError:
        return default


def made(data: ActionData, oid: int, stop: object = None) -> str:
    """Made at once: nothing to stop."""
    fmt = data.image_attr("FORMAT") or "raw"
    return f"dummy_path/{oid} {fmt} {_number(data.image_attr('SIZE'), DEFAULT_SIZE_MB)}"


def stat(data: ActionData, oid: int) -> str:
    return str(_number(data.image_attr("SIZE"), DEFAULT_SIZE_MB))


def monitor(data: ActionData, oid: int) -> str:
    total = _number(data.ds_attr("DUMMY_TOTAL_MB"), DEFAULT_TOTAL_MB)
    used = min(total, _number(data.ds_attr("DUMMY_USED_MB"), 0))
    return f"USED_MB={used}\nTOTAL_MB={total}\nFREE_MB={total - used}\n"


def nothing(data: ActionData, oid: int) -> str:
    return ""


ACTIONS = {"CP": made, "MKFS": made, "CLONE": made, "STAT": stat, "MONITOR": monitor,
           "RM": nothing, "SNAP_REVERT": nothing, "SNAP_DELETE": nothing,
           "SNAP_FLATTEN": nothing}
