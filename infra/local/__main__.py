"""``python -m infra.local [serve|prepare|ship-clicks|replay-clicks]``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


def main(argv: list[str]) -> int:
    from pydantic import ValidationError

    try:
        return run(argv)
    except ValidationError as exc:  # the settings: one clear line, no traceback
        print(f"multibuzz: invalid configuration: {configuration_problems(exc)}", file=sys.stderr)
        return 2


def configuration_problems(exc: ValidationError) -> str:
    """``MULTIBUZZ_PORT: Input should be …; …`` — the variables and what is wrong, never their values."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        location = "_".join(str(part) for part in error["loc"]).upper()
        problems.append(f"MULTIBUZZ_{location}: {message}" if location else message)
    return "; ".join(problems)


def run(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command == "serve":
        from infra.local.serve import main as serve

        return serve()
    if command == "prepare":
        from infra.local.serve import prepare

        prepare()
        return 0
    if command == "replay-clicks":
        return replay_clicks(argv[1:])
    if command == "ship-clicks":
        from infra.local.shipper import main as ship

        return ship(argv[1:])
    print(f"unknown command {command!r}; use serve, prepare, ship-clicks or replay-clicks", file=sys.stderr)
    return 2


def replay_clicks(args: list[str]) -> int:
    """Ship the click journal, then drain the click spool, into the clicks queue. ``--from FILE`` first
    imports spooled lines (spool JSONL, or exported ``click_spooled`` log lines from Lambda)."""
    from multibuzz.bootstrap import get_container
    from multibuzz.redirect.journal import JournalShipper
    from multibuzz.redirect.service import default_spool, journal_directory
    from multibuzz.redirect.spool import import_lines

    container = get_container()
    spool = default_spool(container)
    if args[:1] == ["--from"] and len(args) == 2:
        with open(args[1], encoding="utf-8") as handle:
            spool.append(import_lines(handle))
    elif args:
        print("usage: python -m infra.local replay-clicks [--from FILE]", file=sys.stderr)
        return 2
    shipped = JournalShipper(journal_directory(container)).ship(container.queue)
    report = spool.drain(container.queue)
    print(
        f"journal: shipped {shipped.sent} clicks, {shipped.pending_bytes} bytes still waiting,"
        f" {shipped.rejected} unreadable; spool: replayed {report.sent} clicks, {report.kept} still spooled,"
        f" {report.rejected} unreadable",
        flush=True,
    )
    return 0 if report.kept == 0 and shipped.queue_error is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
