"""The running configuration, as the oneadmin group may read it."""
from __future__ import annotations

import math

from nubo.core.ops.call import Call
from nubo.errors import AuthorizationError


def configuration(call: Call) -> list[tuple[str, str]]:
    """(name, value) of what oned.conf would show, in opennebula_configuration.xsd's
    order; secrets are never among them."""
    if not call.session.is_admin:
        raise AuthorizationError(f"User [{call.uid}] : Not authorized to perform ADMIN SYSTEM.")
    cfg = call.cloud.config
    return [
        ("API_LIST_ORDER", cfg.api_list_order.upper()),
        ("DEFAULT_UMASK", cfg.default_umask),
        ("LISTEN_ADDRESS", cfg.host),
        ("MAC_PREFIX", cfg.mac_prefix),
        # whole seconds (xs:integer), a fraction rounded up
        ("MONITORING_INTERVAL_HOST", str(math.ceil(cfg.host_monitoring_interval))),
        ("PORT", str(cfg.port)),
        ("VM_SUBMIT_ON_HOLD", "NO"),
    ]
