"""``python -m infra.local [serve|migrate|seed|replay-clicks]``."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command == "serve":
        from infra.local.serve import main as serve

        return serve()
    if command == "prepare":
        from infra.local.serve import prepare

        prepare()
        return 0
    print(f"unknown command {command!r}; use serve or prepare", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
