"""The fault-tolerance hook: the VMs of a host in ERROR are recreated elsewhere.

Install it as a state hook on HOST ERROR (see docs/hooks.md)::

    NAME      = "host-error"
    TYPE      = "state"
    RESOURCE  = "HOST"
    STATE     = "ERROR"
    COMMAND   = "/path/to/python -m nubo.hooks.ft"
    ARGUMENTS = "$TEMPLATE --endpoint http://127.0.0.1:2633/RPC2 --fence /path/to/fence"
    TIMEOUT   = 900

As OpenNebula's ft/host_error.rb: it reads the host's XML (base64, as
``$TEMPLATE`` gives it), waits ``--pause`` monitoring cycles (default 2, the
interval from ``one.system.config``) and gives up if the host left ERROR
meanwhile, then FENCES the host (``--fence COMMAND``: it must power the host off;
a non-zero exit means the host may still run its VMs, and nothing is recreated),
optionally disables it, and asks nubo, through the XML-RPC API, to recover each
VM the host lists: ``one.vm.recover(id, 4)`` (delete-recreate: the VM goes back
to PENDING with the same id, to be deployed again) or, with ``--delete``,
``one.vm.recover(id, 3)``. Recreating the VMs of a host that was not fenced can
leave them running twice until the host comes back (nubo then destroys the copies
there, see ``zombie_policy``), so fencing is required unless ``--no-fencing``.
VMs in states listed by ``--skip-states`` are left alone. The credentials are
``--auth FILE``, else $ONE_AUTH, else ``one_auth`` in the current directory (hooks
run in nubo's data_dir, where nubo writes oneadmin's), else ~/.one/one_auth. The
endpoint is ``--endpoint``, else $ONE_XMLRPC, else http://localhost:2633/RPC2.
Exits 0 when every VM was recovered (or the host came back), 1 when some could
not be, 2 on bad input, 3 when the host was not fenced (nothing recovered).
"""
from __future__ import annotations

import argparse
import base64
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from xml.etree import ElementTree

from nubo.lifecycle.states import RETIRED_STATES, VmState

RECREATE, DELETE = 4, 3
DISABLE = 1  # one.host.status
HOST_ERROR = "3"
#: MONITORING_INTERVAL_HOST when one.system.config does not say (nubo's default).
DEFAULT_INTERVAL = 180.0
NOT_FENCED = 3


def _auth(path: str | None) -> str:
    candidates = [path, os.environ.get("ONE_AUTH"), "one_auth",
                  str(Path.home() / ".one" / "one_auth")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text().strip()
    raise SystemExit("no credentials: give --auth FILE or set ONE_AUTH")


def _call(server: xmlrpc.client.ServerProxy, session: str, method: str, *args):
    reply = getattr(server, method)(session, *args)
    if not reply[0]:
        raise RuntimeError(reply[1])
    return reply[1]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nubo.hooks.ft", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", help="the host's XML in base64 ($TEMPLATE)")
    parser.add_argument("--endpoint", default=os.environ.get("ONE_XMLRPC",
                                                             "http://localhost:2633/RPC2"))
    parser.add_argument("--auth", help="file holding user:password")
    parser.add_argument("--delete", action="store_true",
                        help="delete the VMs (recover 3) instead of recreating them (4)")
    parser.add_argument("--disable", action="store_true",
                        help="disable the host first, so nothing is deployed on it again")
    parser.add_argument("--skip-states", default="DONE",
                        help="comma-separated VM STATE numbers or names to leave alone")
    parser.add_argument("-p", "--pause", type=float, default=2.0, metavar="CYCLES",
                        help="monitoring cycles to wait first, giving up if the host "
                        "left ERROR meanwhile (default 2; 0: none)")
    parser.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="seconds to wait first instead of --pause cycles")
    fencing = parser.add_mutually_exclusive_group()
    fencing.add_argument("--fence", metavar="COMMAND",
                         help="power the host off before its VMs are recreated: the "
                         "command (split as a shell would) gets the host's name and id as "
                         "arguments and its XML in base64 on stdin; non-zero: not fenced")
    parser.add_argument("--fence-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="seconds the fence command may take; beyond, it is killed and "
                        "the host counts as not fenced (default 120)")
    fencing.add_argument("-u", "--no-fencing", action="store_true",
                         help="recreate without fencing (the VMs may run twice until the "
                         "host comes back)")
    return parser


def _grace(server: xmlrpc.client.ServerProxy, session: str, args: argparse.Namespace) -> float:
    """Seconds to wait before acting: --wait, else --pause monitoring cycles."""
    if args.wait is not None:
        return args.wait
    if args.pause <= 0:
        return 0.0
    interval = DEFAULT_INTERVAL
    try:
        config = ElementTree.fromstring(_call(server, session, "one.system.config"))
        interval = float(config.findtext("MONITORING_INTERVAL_HOST") or DEFAULT_INTERVAL)
    except Exception as e:  # an older core: its default interval
        print(f"MONITORING_INTERVAL_HOST unknown ({e}): taking {DEFAULT_INTERVAL:g} s")
    return args.pause * interval


def fence(command: str, host: ElementTree.Element, host_id: int, timeout: float) -> bool:
    """Run the fence command; True if it says the host is off (exit 0) in time."""
    argv = [*shlex.split(command), host.findtext("NAME") or "", str(host_id)]
    xml = base64.b64encode(ElementTree.tostring(host)).decode("ascii")
    try:
        done = subprocess.run(argv, input=xml, capture_output=True, text=True,
                              timeout=timeout)
    except OSError as e:
        print(f"host {host_id}: fence command {argv[0]} could not run: {e}", file=sys.stderr)
        return False
    except subprocess.TimeoutExpired:
        print(f"host {host_id}: fence command killed after {timeout:g} s", file=sys.stderr)
        return False
    for stream, text in ((sys.stdout, done.stdout), (sys.stderr, done.stderr)):
        if text.strip():
            print(text.rstrip(), file=stream)
    if done.returncode != 0:
        print(f"host {host_id}: fencing failed (exit {done.returncode})", file=sys.stderr)
        return False
    print(f"host {host_id}: fenced")
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        host = ElementTree.fromstring(base64.b64decode(args.template, validate=True))
        host_id = int(host.findtext("ID"))
    except (ValueError, TypeError, ElementTree.ParseError) as e:
        print(f"unreadable host template: {e}", file=sys.stderr)
        return 2
    if not args.fence and not args.no_fencing:
        print(f"host {host_id}: not fenced, VMs not recreated: fencing is on by default, "
              "give --fence COMMAND (or --no-fencing, accepting VMs running twice until "
              "the host comes back)", file=sys.stderr)
        return NOT_FENCED
    server = xmlrpc.client.ServerProxy(args.endpoint, allow_none=False)
    session = _auth(args.auth)
    grace = _grace(server, session, args)
    if grace > 0:
        print(f"host {host_id}: waiting {grace:g} s before acting")
        time.sleep(grace)
        host = ElementTree.fromstring(_call(server, session, "one.host.info", host_id, False))
        if host.findtext("STATE") != HOST_ERROR:
            print(f"host {host_id} is no longer in ERROR: nothing to do")
            return 0
    if args.fence:
        if not fence(args.fence, host, host_id, args.fence_timeout):
            print(f"host {host_id}: not fenced, VMs not recreated", file=sys.stderr)
            return NOT_FENCED
    else:
        print(f"host {host_id}: WARNING: fencing disabled, its VMs may run twice")
    vm_ids = [int(e.text) for e in host.findall("VMS/ID") if e.text]
    if args.disable:
        _call(server, session, "one.host.status", host_id, DISABLE)
    return _recover(server, session, vm_ids, args)


def _recover(server: xmlrpc.client.ServerProxy, session: str, vm_ids: list[int],
             args: argparse.Namespace) -> int:
    skip = {s.strip().upper() for s in args.skip_states.split(",") if s.strip()}
    names = {str(int(s)): s.name for s in VmState if s not in RETIRED_STATES}
    operation = DELETE if args.delete else RECREATE
    failed = 0
    for vm_id in vm_ids:
        try:
            vm = ElementTree.fromstring(_call(server, session, "one.vm.info", vm_id, False))
            state = vm.findtext("STATE") or ""
            if state in skip or names.get(state) in skip:
                print(f"VM {vm_id}: state {names.get(state, state)}, left alone")
                continue
            _call(server, session, "one.vm.recover", vm_id, operation)
            print(f"VM {vm_id}: {'deleted' if args.delete else 'recreated'}")
        except Exception as e:  # keep going with the other VMs
            failed += 1
            print(f"VM {vm_id}: recover failed: {e}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
