"""`kprobe`: one command line in front of every component.

Each component owns its subcommands in its own `cli` module, which exposes
`register(subparsers)`; this file only lists them, so the CLI reads like the
data path: capture -> processor -> explain -> serve -> replay -> dashboards.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMPONENT_CLIS: tuple[str, ...] = ("collector_receiver.cli", "causal_processor.cli", "causal_processor.causal.cli", "causal_processor.api.cli", "replay.cli", "dashboards.cli", "testbed.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kprobe",
        description="Flight recorder and debugger for distributed financial systems.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMPONENT_CLIS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except UserError as e:
        print(f"kprobe: {e}", file=sys.stderr)
        return 2


class UserError(Exception):
    """An error the user can fix (missing privilege, bad input); printed as one line."""


if __name__ == "__main__":
    sys.exit(main())
