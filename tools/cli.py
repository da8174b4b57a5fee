"""fingerpos command line: one console script, sub-commands registered from modules.

Each sub-command lives in its own module exposing `register(subparsers)`;
the module list below is the only place that names them, so `--help` lists
exactly the commands that exist.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that add sub-commands, in the order --help shows them.
COMMAND_MODULES: list[str] = [
    "fingerpos.tools.cmd_protocol",
    "fingerpos.tools.cmd_device",
    "fingerpos.tools.cmd_release",
    "fingerpos.tools.cmd_broker",
    "fingerpos.tools.cmd_bench",
    "fingerpos.tools.cmd_serve",
    "fingerpos.tools.cmd_migrate",
    "fingerpos.tools.cmd_user",
    "fingerpos.tools.cmd_screenshots",
    "fingerpos.tools.cmd_demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fingerpos",
        description="fingerpos: fingerprint point-of-sale terminals and their cloud.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
