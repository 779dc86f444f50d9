"""Restricted attributes: the rules are the core's (nubo.core.ops.restricted); the API's
family modules that still import them from here get them from there."""
from nubo.core.ops.restricted import (changed_restricted, image_restricted, refuse_path,
                                      refuse_restricted, vm_restricted, vnet_restricted)

__all__ = ["changed_restricted", "image_restricted", "refuse_path", "refuse_restricted",
           "vm_restricted", "vnet_restricted"]
