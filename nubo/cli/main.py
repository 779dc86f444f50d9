"""The ``nubo`` command and OpenNebula's one* commands: parse, run one verb, map errors.

Errors go to stderr with the exit codes of :mod:`nubo.cli.error_output`; data goes
to stdout. ``nubo serve`` runs the core; every other command is an API client.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nubo.cli.context import Context
from nubo.cli.error_output import USAGE, CliError
from nubo.cli.nouns import REGISTRY, by_classic, entry
from nubo.cli.argparsers import classic_parser, top_parser
from nubo.cli.verbs import Verb, arg


def _serve(_ctx: Context, args: argparse.Namespace) -> int:
    from nubo.config import ConfigError, load_config
    try:
        cfg = load_config(args.config, data_dir=args.data_dir, listen=args.listen,
                          kvm_host="localhost" if args.with_kvm else None,
                          kvm_driver="yes" if args.with_kvm else None)
    except ConfigError as e:
        print(f"nubo: {e.message}", file=sys.stderr)
        return USAGE
    if args.with_kvm:
        from nubo.config import kvm_available
        if not kvm_available():
            print("nubo: --with-kvm needs libvirt-python (pip install 'nubo[kvm]')",
                  file=sys.stderr)
            return USAGE
    from nubo.serve import serve
    serve(cfg)
    return 0


SERVE = Verb(
    "serve", "run the core in the foreground",
    "{cmd} serve --data-dir /var/lib/nubo --listen 0.0.0.0:2633", _serve,
    (arg("--data-dir", type=Path, help="where the database, logs and one_auth live "
         "(default: ~/.local/share/nubo)"),
     arg("--listen", metavar="ADDR:PORT", help="address of the XML-RPC API "
         "(default: 127.0.0.1:2633)"),
     arg("--config", type=Path, metavar="FILE", help="TOML configuration file "
         "(see docs/configuration.md)"),
     arg("--with-kvm", action="store_true", help="also run real VMs: a host 'localhost' "
         "on the kvm drivers (libvirt), created if missing; the dummy host stays")),
    connects=False)


def _extra_verbs() -> list[Verb]:
    from nubo.cli.completion import COMPLETION
    from nubo.cli.top import TOP
    return [SERVE, TOP, COMPLETION]


def run(parser: argparse.ArgumentParser, argv: list[str] | None, prog: str,
        classic: bool = False) -> int:
    args = parser.parse_args(argv)
    ctx = Context(args, classic=classic)
    try:
        return args.run(ctx, args) or 0
    except CliError as e:
        sys.stdout.flush()
        print(f"{prog}: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `nubo vm list | head`: the reader has gone, nothing to say
        sys.stderr.close()
        return 0


_VALUED = frozenset({"--endpoint", "--user", "--password"})


def chosen_noun(argv: list[str]) -> str | None:
    """The noun of a command line (the first word that is not an option or its value)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    found = entry(chosen_noun(argv) or "")
    nouns = [e.load() if e is found else e for e in REGISTRY]
    return run(top_parser(nouns, _extra_verbs(), sched=found is None), argv, "nubo")


def classic(argv: list[str] | None = None, name: str | None = None) -> int:
    """Entry point of onevm, onehost...: the noun comes from the command's name."""
    name = name or Path(sys.argv[0]).name
    return run(classic_parser(by_classic(name)), argv, name, classic=True)


if __name__ == "__main__":
    sys.exit(main())
