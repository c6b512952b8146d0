"""The ``flagai-lite`` command: a small argparse dispatcher over command groups.

Each group lives beside its package and exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (returning the exit code). Add a group by appending its module to ``_GROUPS``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from flagai_lite.errors import FlagAILiteError

_GROUPS = ("flagai_lite.hub.cli",)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(prog="flagai-lite", description="flagai_lite command line")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in _GROUPS:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flagai-lite`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except FlagAILiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
