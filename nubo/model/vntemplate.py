"""Virtual network templates (one.vntemplate.*): a network's template kept for users to
instantiate, as oned's VNTEMPLATE (vntemplate.xsd: ID ... REGTIME, TEMPLATE).

Its body has the shape of a VM template's, so it reuses that dataclass with its own tag.
"""
from __future__ import annotations

from dataclasses import dataclass

from nubo.model.resources import VmTemplate


@dataclass
class VnTemplate(VmTemplate):
    TAG = "VNTEMPLATE"
