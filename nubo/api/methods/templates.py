"""one.template.* and one.templatepool.info: VM templates, and VMs instantiated from them.

The rules are the VM template operations' (nubo.core.ops.templates); each method
binds its arguments, calls one and answers the template's (or new VM's) id.
"""
from __future__ import annotations

from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_lock, register_pool,
                                      register_rename, register_update)
from nubo.api.method_table import Bool, Int, Str, api
from nubo.core.ops import templates as ops
from nubo.core.ops.common import parse_template
from nubo.core.ops.call import Call
from nubo.core.ops.expressions import validate_update  # scheduler
from nubo.core.ops.restricted_checks import vm_restricted
from nubo.core.ops.templates import TEMPLATE
from nubo.model.limits import VM_NUMBERS


@api("one.template.allocate", Str("template"))
def template_allocate(call: Call, text: str) -> int:
    return ops.allocate_template(call, parse_template(text))


@api("one.template.clone", Int("id"), Str("name"), Bool("recursive", False))
def template_clone(call: Call, tid: int, name: str, recursive: bool) -> int:
    return ops.clone_template(call, tid, name, recursive)


@api("one.template.delete", Int("id"), Bool("recursive", False))
def template_delete(call: Call, tid: int, recursive: bool) -> int:
    ops.delete_template(call, tid, recursive)
    return tid


@api("one.template.instantiate", Int("id"), Str("name", ""), Bool("hold", False),
     Str("extra_template", ""), Bool("persistent", False))
def template_instantiate(call: Call, tid: int, name: str, hold: bool, extra_text: str,
                         persistent: bool) -> int:
    extra = parse_template(extra_text) if extra_text.strip() else None
    return ops.instantiate_template(call, tid, name, hold, extra, persistent)


register_info("template", TEMPLATE, extended=True)
register_update("template", TEMPLATE, validate=validate_update,  # scheduler
                restricted=lambda call, _tmpl: vm_restricted(call), numbers=VM_NUMBERS)
register_rename("template", TEMPLATE)
register_chown("template", TEMPLATE)
register_chmod("template", TEMPLATE, recursive=True, then=ops.chmod_images)
register_lock("template", TEMPLATE)
register_pool("templatepool", TEMPLATE, "VMTEMPLATE_POOL", filtered=True)
