#!/usr/bin/env bash
# `make test`: the whole suite on SQLite, then on MariaDB — both always run, and it fails if either failed.
# Usage: scripts/test-both.sh PYTHON MYSQL_URL [pytest args…]
set -uo pipefail
py=$1; mysql_url=$2; shift 2

describe() {  # pytest's exit codes, so "no tests collected" (5) never passes for success
  case $1 in
    0) echo "passed" ;;
    1) echo "FAILED (some tests failed)" ;;
    2) echo "FAILED (interrupted)" ;;
    3) echo "FAILED (internal error)" ;;
    4) echo "FAILED (usage error)" ;;
    5) echo "FAILED (no tests collected)" ;;
    *) echo "FAILED (exit $1)" ;;
  esac
}

echo "== tests on SQLite"
"$py" -m pytest -q -p no:cacheprovider "$@"
sqlite=$?
echo "== tests on MariaDB ($mysql_url)"
MULTIBUZZ_TEST_DATABASE_URL=$mysql_url "$py" -m pytest -q -p no:cacheprovider "$@"
mysql=$?

echo "== make test: SQLite $(describe $sqlite); MariaDB $(describe $mysql)"
[ "$sqlite" -eq 0 ] && [ "$mysql" -eq 0 ]
