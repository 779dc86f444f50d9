"""one.system.version and one.system.config."""
from __future__ import annotations

import math

from nubo.api.registry import api
from nubo.core.ops.context import Call
from nubo.errors import AuthorizationError
from nubo.model.xmlobj import escape

# The OpenNebula API release nubo answers as; clients compare against it.
ONE_VERSION = "7.0.0"


@api("one.system.version")
def system_version(call: Call) -> str:
    return ONE_VERSION


@api("one.system.config")
def system_config(call: Call) -> str:
    """The running configuration in oned.conf's XML shape (secrets never included)."""
    if not call.session.is_admin:
        raise AuthorizationError(f"User [{call.uid}] : Not authorized to perform ADMIN SYSTEM.")
    cfg = call.cloud.config
    # Elements in the order of opennebula_configuration.xsd.
    items = [
        ("API_LIST_ORDER", cfg.api_list_order.upper()),
        ("DEFAULT_UMASK", cfg.default_umask),
        ("LISTEN_ADDRESS", cfg.host),
        ("MAC_PREFIX", "02:00"),
        # whole seconds (xs:integer), a fraction rounded up
        ("MONITORING_INTERVAL_HOST", str(math.ceil(cfg.host_monitoring_interval))),
        ("PORT", str(cfg.port)),
        ("VM_SUBMIT_ON_HOLD", "NO"),
    ]
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in items)
    return f"<OPENNEBULA_CONFIGURATION>{body}</OPENNEBULA_CONFIGURATION>"
