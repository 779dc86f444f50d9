"""The restricted-attribute checks, now the core's (``nubo.core.ops.restricted``)."""
from nubo.core.ops.restricted import (changed_restricted, image_restricted,  # noqa: F401
                                      refuse_path, refuse_restricted, vm_restricted,
                                      vnet_restricted)
