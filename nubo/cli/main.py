"""The ``nubo`` command: ``nubo serve`` runs the core (more nouns come with the CLI issue)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nubo.config import ConfigError, load_config
from nubo.sched import cli as sched_cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nubo", description="nubo, a virtual infrastructure manager with an "
        "OpenNebula-compatible XML-RPC API.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser(
        "serve", help="run the core in the foreground",
        description="Run the nubo core in the foreground: the store, the request manager and "
        "the XML-RPC API. On first start it creates the store and writes the oneadmin "
        "credentials to DATA_DIR/one_auth (and ~/.one/one_auth if absent).",
        epilog="example: nubo serve --data-dir /var/lib/nubo --listen 0.0.0.0:2633")
    s.add_argument("--data-dir", type=Path, help="where the database, logs and one_auth live "
                   "(default: ~/.local/share/nubo)")
    s.add_argument("--listen", metavar="ADDR:PORT", help="address of the XML-RPC API "
                   "(default: 127.0.0.1:2633)")
    s.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration file "
                   "(see docs/configuration.md)")
    sched_cli.add_parser(sub)  # nubo sched: nubo/sched/cli.py
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        try:
            cfg = load_config(args.config, data_dir=args.data_dir, listen=args.listen)
        except ConfigError as e:
            print(f"nubo: {e.message}", file=sys.stderr)
            return 2
        from nubo.core.daemon import serve
        serve(cfg)
        return 0
    if args.command == "sched":
        return sched_cli.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
