"""Restricted attributes at the operations' entry points (nubo.auth.restricted decides).

Every operation that takes a template from a user outside the oneadmin group asks
:func:`refuse_restricted` with the configured list (docs/configuration.md) and the
message oned gives at that entry point ("VM Template includes a restricted attribute
RAW", "Cannot update template. Tried to change restricted attribute: RAW", ...).
"""
from __future__ import annotations

from typing import Sequence

from nubo.auth.restricted import first_restricted, path_refused
from nubo.core.ops.call import Call
from nubo.errors import AuthorizationError
from nubo.model.infra import Datastore
from nubo.template import Template


def vm_restricted(call: Call) -> Sequence[str]:
    return call.cloud.config.vm_restricted_attr


def image_restricted(call: Call) -> Sequence[str]:
    return call.cloud.config.image_restricted_attr


def vnet_restricted(call: Call) -> Sequence[str]:
    return call.cloud.config.vnet_restricted_attr


def refuse_restricted(call: Call, template: Template, restricted: Sequence[str], what: str,
                      base: Template | None = None, *, append: bool = False,
                      oid: int = -1) -> None:
    """AUTHORIZATION "<what> includes a restricted attribute X" for a non-admin caller
    whose template sets (or, with ``base``, changes) a restricted attribute."""
    if call.session.is_admin:
        return
    name = first_restricted(template, restricted, base, append=append)
    if name:
        raise AuthorizationError(f"{what} includes a restricted attribute {name}", oid)


def changed_restricted(call: Call, new: Template, old: Template, restricted: Sequence[str],
                       *, append: bool) -> str | None:
    """For one.*.update: the restricted attribute a non-admin caller changes, if any
    (oned: "Tried to change restricted attribute: X")."""
    if call.session.is_admin:
        return None
    return first_restricted(new, restricted, old, append=append)


def refuse_path(call: Call, path: str, ds: Datastore) -> None:
    """A non-admin's image PATH must lie within the datastore's SAFE_DIRS (or outside its
    RESTRICTED_DIRS), as OpenNebula's datastore drivers check it."""
    if call.session.is_admin or not path:
        return
    safe = ds.template.get("SAFE_DIRS") or ""
    restricted = ds.template.get("RESTRICTED_DIRS")
    if path_refused(path, safe, "/" if restricted is None else restricted):
        raise AuthorizationError(
            f"Template includes a restricted attribute PATH: {path} is not within the "
            f"datastore's SAFE_DIRS ({safe or 'none'})")
