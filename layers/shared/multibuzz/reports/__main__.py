"""``python -m multibuzz.reports rebuild --account acc_… --from 2026-01-01 --to 2026-03-31`` recomputes the
rollups of those local days from raw rows; ``python -m multibuzz.reports refresh`` rebuilds every stale day."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from multibuzz.bootstrap import get_container
from multibuzz.reports.maintain import rebuild, refresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m multibuzz.reports")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("rebuild", help="recompute the rollups of a range of local days from raw rows")
    build.add_argument("--account", required=True)
    build.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    build.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    commands.add_parser("refresh", help="rebuild every stale (account, day)")
    args = parser.parse_args(argv)
    container = get_container()
    now = container.clock.now()
    if args.command == "rebuild":
        if args.first > args.last:
            parser.error("--from must not be after --to")
        done = rebuild(container.session_factory, now, args.account, args.first, args.last)
    else:
        done = refresh(container.session_factory, now)
    print(f"{done} day(s) rebuilt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
