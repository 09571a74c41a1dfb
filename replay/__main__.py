"""`python -m replay ACTION ...`: the replay commands without loading the other components."""

from __future__ import annotations

import argparse
import sys

from kprobe.cli import UserError
from replay.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["replay", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"kprobe: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
