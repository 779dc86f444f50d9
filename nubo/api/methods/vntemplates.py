"""one.vntemplate.* and one.vntemplatepool.info: virtual network templates.

The rules are the operations' (nubo.core.ops.vntemplates); each method binds its
arguments, calls one and answers the template's (or the new network's) id.
"""
from __future__ import annotations

from nubo.api.methods.generic import register_standard
from nubo.api.method_table import Int, Str, api
from nubo.core.ops import vntemplates as ops
from nubo.core.ops.call import Call
from nubo.core.ops.common import parse_template
from nubo.core.ops.vntemplates import VNTEMPLATE
from nubo.model.limits import VNET_NUMBERS


@api("one.vntemplate.allocate", Str("template"))
def vntemplate_allocate(call: Call, text: str) -> int:
    return ops.allocate_vntemplate(call, parse_template(text))


@api("one.vntemplate.clone", Int("id"), Str("name"))
def vntemplate_clone(call: Call, tid: int, name: str) -> int:
    return ops.clone_vntemplate(call, tid, name)


@api("one.vntemplate.delete", Int("id"))
def vntemplate_delete(call: Call, tid: int) -> int:
    return ops.delete_vntemplate(call, tid)


@api("one.vntemplate.instantiate", Int("id"), Str("name", ""), Str("extra_template", ""))
def vntemplate_instantiate(call: Call, tid: int, name: str, extra_text: str) -> int:
    extra = parse_template(extra_text) if extra_text.strip() else None
    return ops.instantiate_vntemplate(call, tid, name, extra)


register_standard("vntemplate", VNTEMPLATE, pool_root="VNTEMPLATE_POOL", numbers=VNET_NUMBERS)
