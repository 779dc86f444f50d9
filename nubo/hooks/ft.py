"""The fault-tolerance hook: the VMs of a host in ERROR are recreated elsewhere.

Install it as a state hook on HOST ERROR (see docs/hooks.md)::

    NAME      = "host-error"
    TYPE      = "state"
    RESOURCE  = "HOST"
    STATE     = "ERROR"
    COMMAND   = "/path/to/python -m nubo.hooks.ft"
    ARGUMENTS = "$TEMPLATE --endpoint http://127.0.0.1:2633/RPC2"
    TIMEOUT   = 120

It reads the host's XML (base64, as ``$TEMPLATE`` gives it), optionally disables
the host first, and asks nubo, through the XML-RPC API, to recover each VM the
host lists: ``one.vm.recover(id, 4)`` (delete-recreate: the VM goes back to
PENDING with the same id, to be deployed again) or, with ``--delete``,
``one.vm.recover(id, 3)``. VMs in states listed by ``--skip-states`` are left
alone. The credentials are ``--auth FILE``, else $ONE_AUTH, else ``one_auth`` in
the current directory (hooks run in nubo's data_dir, where nubo writes
oneadmin's), else ~/.one/one_auth. The endpoint is ``--endpoint``, else
$ONE_XMLRPC, else http://localhost:2633/RPC2. Exits 0 when every VM was
recovered, 1 when some could not be, 2 on bad input.
"""
from __future__ import annotations

import argparse
import base64
import os
import sys
import time
import xmlrpc.client
from pathlib import Path
from xml.etree import ElementTree

RECREATE, DELETE = 4, 3
DISABLE = 1  # one.host.status


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


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds to wait first (and skip if the host recovered)")
    args = parser.parse_args(argv)
    try:
        host = ElementTree.fromstring(base64.b64decode(args.template, validate=True))
        host_id = int(host.findtext("ID"))
    except (ValueError, TypeError, ElementTree.ParseError) as e:
        print(f"unreadable host template: {e}", file=sys.stderr)
        return 2
    vm_ids = [int(e.text) for e in host.findall("VMS/ID") if e.text]
    server = xmlrpc.client.ServerProxy(args.endpoint, allow_none=False)
    session = _auth(args.auth)
    if args.wait > 0:
        time.sleep(args.wait)
        current = ElementTree.fromstring(_call(server, session, "one.host.info", host_id, False))
        if current.findtext("STATE") != "3":
            print(f"host {host_id} is no longer in ERROR: nothing to do")
            return 0
        vm_ids = [int(e.text) for e in current.findall("VMS/ID") if e.text]
    if args.disable:
        _call(server, session, "one.host.status", host_id, DISABLE)
    skip = {s.strip().upper() for s in args.skip_states.split(",") if s.strip()}
    names = {"0": "INIT", "1": "PENDING", "2": "HOLD", "3": "ACTIVE", "4": "STOPPED",
             "5": "SUSPENDED", "6": "DONE", "8": "POWEROFF", "9": "UNDEPLOYED"}
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
