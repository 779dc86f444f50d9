"""Restricted attributes: the rules moved to nubo.core.ops.restricted.

Kept so the families whose handlers still import them from here go on working;
import from nubo.core.ops.restricted instead.
"""
from nubo.core.ops.restricted import (  # noqa: F401
    changed_restricted, image_restricted, refuse_path, refuse_restricted, vm_restricted,
    vnet_restricted)
