"""one.system.version and one.system.config (nubo.core.ops.system)."""
from __future__ import annotations

from nubo.api.method_table import api
from nubo.core.ops.call import Call
from nubo.core.ops.system import configuration
from nubo.model.xmlobj import escape

# The OpenNebula API release nubo answers as; clients compare against it.
ONE_VERSION = "7.0.0"


@api("one.system.version")
def system_version(call: Call) -> str:
    return ONE_VERSION


@api("one.system.config")
def system_config(call: Call) -> str:
    """The running configuration in oned.conf's XML shape (secrets never included)."""
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in configuration(call))
    return f"<OPENNEBULA_CONFIGURATION>{body}</OPENNEBULA_CONFIGURATION>"
