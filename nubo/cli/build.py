"""Templates built from command-line options (``onevm create --cpu 1 --memory 512``).

The options are OpenNebula's; they are added to (and override) the template
file when both are given. Pure apart from reading the file.
"""
from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from nubo.cli.error_output import UsageError
from nubo.cli.verbs import Arg, arg, flag

if TYPE_CHECKING:
    from nubo.template import Template

_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([MGT]?)B?\s*\Z", re.I)


def memory_mb(text: str, what: str = "--memory") -> str:
    """``"512"``, ``"512M"``, ``"2G"`` -> megabytes as OpenNebula's MEMORY (and SIZE) want."""
    m = _MEMORY.match(text)
    if not m:
        raise UsageError(f"{what}: '{text}' is not a size (e.g. 512, 512M, 2G)")
    mb = float(m.group(1)) * {"": 1, "M": 1, "G": 1024, "T": 1024 ** 2}[m.group(2).upper()]
    if mb <= 0 or mb != int(mb):
        raise UsageError(f"{what}: '{text}' is not a whole, positive number of megabytes")
    return str(int(mb))


def _number(text: str, what: str, whole: bool = False) -> str:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise UsageError(f"{what}: '{text}' is not a positive {'integer' if whole else 'number'}")
    return text.strip()


def _refs(text: str, by_id: str, by_name: str) -> list[dict[str, str]]:
    """``--disk 3,ubuntu,alice[db]`` -> one vector per image: id, name, or owner[name]."""
    out = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            raise UsageError(f"empty item in '{text}'")
        m = re.fullmatch(r"([^\[\]]+)\[([^\[\]]+)\]", item)
        if item.isdigit():
            out.append({by_id: item})
        elif m:
            out.append({by_name: m.group(2), f"{by_name}_UNAME": m.group(1)})
        else:
            out.append({by_name: item})
    return out


FILE = arg("file", nargs="?", metavar="FILE", help="template file ('-' for stdin)")
DESCRIPTION = arg("--description", help="a description")

VM_OPTIONS: tuple[Arg, ...] = (
    arg("--name", help="the VM's (or template's) name"),
    arg("--cpu", help="physical CPUs (may be a fraction, e.g. 0.5)"),
    arg("--vcpu", help="virtual CPUs the guest sees"),
    arg("--memory", help="memory: 512 (MB), 512M, 2G"),
    arg("--disk", help="images to attach, by id or name: 3,ubuntu"),
    arg("--nic", help="virtual networks to connect, by id or name: 0,private"),
    DESCRIPTION,
)


def parse_file(path: str | None, file_text: str | None) -> "Template":
    """A template file's attributes (empty without a file); syntax errors name line and column."""
    from nubo.template import Template, TemplateSyntaxError, parse_str_or_xml
    if file_text is None:
        return Template()
    try:
        return parse_str_or_xml(file_text)
    except TemplateSyntaxError as e:
        raise UsageError(f"{path or '-'}: {e.message}") from None


def vm_template(args: argparse.Namespace, file_text: str | None) -> str:
    """The template text: the file's, with the options set on top."""
    from nubo.template import VectorAttribute
    tmpl = parse_file(getattr(args, "file", None), file_text)
    given = {k: getattr(args, k, None) for k in ("name", "description", "cpu", "vcpu", "memory",
                                                 "disk", "nic")}
    singles = {"NAME": given["name"], "DESCRIPTION": given["description"],
               "CPU": given["cpu"] and _number(given["cpu"], "--cpu"),
               "VCPU": given["vcpu"] and _number(given["vcpu"], "--vcpu", whole=True),
               "MEMORY": given["memory"] and memory_mb(given["memory"])}
    for name, value in singles.items():
        if value:
            tmpl.set(name, value)
    for option, vector, by_id, by_name in (("disk", "DISK", "IMAGE_ID", "IMAGE"),
                                           ("nic", "NIC", "NETWORK_ID", "NETWORK")):
        for values in _refs(given[option], by_id, by_name) if given[option] else []:
            tmpl.add(VectorAttribute(vector, values))
    if len(tmpl) == 0:
        raise UsageError("nothing to create: give a template FILE or options "
                         "(--name, --cpu, --memory, --disk, --nic)")
    return tmpl.render()


def schedule_time(text: str) -> str:
    """``--schedule``: an epoch, ``+SECONDS`` (after the VM's start), or a local
    ``YYYY-MM-DD HH:MM[:SS]``; as SCHED_ACTION's TIME takes it."""
    import time
    value = text.strip()
    if re.fullmatch(r"\+?\d+", value):
        return value
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return str(int(time.mktime(time.strptime(value, fmt))))
        except ValueError:
            continue
    raise UsageError(f"--schedule: '{text}' is not a time (an epoch, +SECONDS, or "
                     "YYYY-MM-DD HH:MM)")


HOLD = flag("--hold", help="create it on hold: the scheduler leaves it alone until released")
