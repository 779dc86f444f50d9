"""Hooks (OpenNebula's one.hook.*): what runs, on which event, and their execution records.

A hook's body is hook.xsd's HOOK: ID, NAME, TYPE (``api`` or ``state``), LOCK and a
TEMPLATE whose elements hook.xsd fixes (ARGUMENTS, ARGUMENTS_STDIN, CALL, COMMAND,
LCM_STATE, REMOTE, RESOURCE, STATE, in that order). TIMEOUT is read from the
template and stored beside the body (hook.xsd has no place for it); other
attributes are dropped. The HOOKLOG is added by one.hook.info only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Container

from nubo.errors import ApiError
from nubo.lifecycle.states import LcmState, VmState
from nubo.model.parts import Lock
from nubo.model.xmlobj import escape
from nubo.template import SingleAttribute, Template

TEMPLATE_ORDER = ("ARGUMENTS", "ARGUMENTS_STDIN", "CALL", "COMMAND", "LCM_STATE", "REMOTE",
                  "RESOURCE", "STATE")
HOST_STATES = {"INIT": 0, "MONITORING_MONITORED": 1, "MONITORED": 2, "ERROR": 3,
               "DISABLED": 4, "MONITORING_ERROR": 5, "MONITORING_INIT": 6,
               "MONITORING_DISABLED": 7, "OFFLINE": 8}
DEFAULT_TIMEOUT = 60


@dataclass
class Hook:
    id: int
    name: str
    type: str
    lock: Lock | None
    template: Template = field(default_factory=Template)

    TAG = "HOOK"


@dataclass(frozen=True)
class HookSpec:
    """A hook's template checked and normalised: what the hook manager matches and runs."""

    type: str          # "api" | "state"
    command: str
    arguments: str
    arguments_stdin: str
    call: str          # api hooks
    resource: str      # state hooks: VM | HOST
    state: str
    lcm_state: str
    timeout: int
    template: Template  # the TEMPLATE to store, in hook.xsd's order
    remote: bool = False  # state hooks: run on the host (the VM's, or the host itself)


def _get(t: Template, name: str) -> str:
    value = t.get(name)
    return value.strip() if isinstance(value, str) else ""


def check(name: str, hook_type: str, template: Template,
          api_calls: Container[str]) -> HookSpec:
    """Validate a hook template (oned's messages where it has them); raise ApiError.

    ``api_calls``: the methods an API hook may name, as the front that serves them
    knows them (the model knows no front)."""
    hook_type = hook_type.strip().lower()
    if hook_type not in ("api", "state"):
        raise ApiError(f"Invalid hook type: {hook_type or '(none)'}; use api or state")
    command = _get(template, "COMMAND")
    if not command:
        raise ApiError("No COMMAND for Hook")
    remote = _get(template, "REMOTE").upper()
    if remote not in ("", "YES", "NO", "TRUE", "FALSE"):
        raise ApiError(f"Invalid REMOTE: {remote}; use YES or NO")
    on_host = remote in ("YES", "TRUE")
    if on_host and hook_type != "state":
        raise ApiError("REMOTE applies to STATE hooks only: an API hook runs on the front-end")
    try:
        timeout = int(_get(template, "TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        raise ApiError("Invalid TIMEOUT: it must be a number of seconds") from None
    if timeout <= 0:
        raise ApiError("Invalid TIMEOUT: it must be a positive number of seconds")
    call = resource = state = lcm = ""
    if hook_type == "api":
        call = _get(template, "CALL")
        if not call:
            raise ApiError("API hooks require a CALL attribute")
        if call not in api_calls:
            raise ApiError(f"API call does not exist or cannot be hooked: {call}")
    else:
        resource = _get(template, "RESOURCE").upper()
        state = _get(template, "STATE").upper()
        lcm = _get(template, "LCM_STATE").upper()
        if resource == "VM":
            if state in LcmState.__members__ and state not in VmState.__members__:
                state, lcm = "ACTIVE", state  # STATE = RUNNING means ACTIVE/RUNNING
            if state not in VmState.__members__:
                raise ApiError(f"Invalid STATE for a VM hook: {state or '(none)'}")
            if lcm and lcm not in LcmState.__members__:
                raise ApiError(f"Invalid LCM_STATE for a VM hook: {lcm}")
            if state == "ACTIVE" and not lcm:
                raise ApiError("A VM hook on STATE ACTIVE needs an LCM_STATE")
            if state != "ACTIVE":
                lcm = ""
        elif resource == "HOST":
            if state not in HOST_STATES:
                raise ApiError(f"Invalid STATE for a HOST hook: {state or '(none)'}")
            lcm = ""
        else:
            raise ApiError(f"Invalid RESOURCE for a state hook: {resource or '(none)'}; "
                           "use VM or HOST")
    values = {"ARGUMENTS": _get(template, "ARGUMENTS"),
              "ARGUMENTS_STDIN": _get(template, "ARGUMENTS_STDIN"),
              "CALL": call, "COMMAND": command, "LCM_STATE": lcm,
              "REMOTE": ("YES" if on_host else "NO") if remote else "", "RESOURCE": resource,
              "STATE": state}
    stored = Template([SingleAttribute(k, values[k]) for k in TEMPLATE_ORDER if values[k]])
    return HookSpec(hook_type, command, values["ARGUMENTS"], values["ARGUMENTS_STDIN"], call,
                    resource, state, lcm, timeout, stored, on_host)


def spec_of(hook: Hook, timeout: int) -> HookSpec:
    """The spec of a stored hook (its template was checked when stored)."""
    t = hook.template
    return HookSpec(hook.type, _get(t, "COMMAND"), _get(t, "ARGUMENTS"),
                    _get(t, "ARGUMENTS_STDIN"), _get(t, "CALL"), _get(t, "RESOURCE"),
                    _get(t, "STATE"), _get(t, "LCM_STATE"), timeout or DEFAULT_TIMEOUT, t,
                    _get(t, "REMOTE").upper() in ("YES", "TRUE"))


def execution_record(hook_id: int, exec_id: int, timestamp: int, arguments: str, command: str,
                     stdout: str, stderr: str, code: int, retry: bool,
                     remote_host: str = "") -> str:
    """A HOOK_EXECUTION_RECORD as hook.xsd's HOOKLOG holds it."""
    return ("<HOOK_EXECUTION_RECORD>"
            f"<HOOK_ID>{hook_id}</HOOK_ID><EXECUTION_ID>{exec_id}</EXECUTION_ID>"
            f"<TIMESTAMP>{timestamp}</TIMESTAMP><ARGUMENTS>{escape(arguments)}</ARGUMENTS>"
            f"<EXECUTION_RESULT><COMMAND>{escape(command)}</COMMAND>"
            f"<STDOUT>{escape(stdout)}</STDOUT><STDERR>{escape(stderr)}</STDERR>"
            f"<CODE>{code}</CODE></EXECUTION_RESULT>"
            + (f"<REMOTE_HOST>{escape(remote_host)}</REMOTE_HOST>" if remote_host else "")
            + ("<RETRY>yes</RETRY>" if retry else "")
            + "</HOOK_EXECUTION_RECORD>")
