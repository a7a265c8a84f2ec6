"""How many hosts of an independent referrer database the channel classifier gets right.

    .venv/bin/python bench/bench_referrer_coverage.py --referers-yml PATH [--baseline-json PATH]

PATH is Snowplow's ``resources/referers.yml`` (github.com/snowplow-referer-parser/referer-parser;
GPL-3.0, so it is read here, never copied into the repository). Every host of its ``search``,
``social`` and ``email`` sections is classified as a referrer-only touch
(``https://<host>/`` landing on a shop) and counted right when the channel is organic_search,
organic_social or email respectively. ``--baseline-json`` scores another curated ``referrers.json``
alone (e.g. ``git show <old commit>:layers/shared/multibuzz/data/referrers.json``) for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from multibuzz.domain import channels  # noqa: E402
from multibuzz.domain.touch import extract_touch, normalise_host  # noqa: E402

EXPECTED = {"search": "organic_search", "social": "organic_social", "email": "email"}
CATEGORY = {"search": "search", "social": "social", "email": "email"}


def hosts_of(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for section in EXPECTED:
        for entry in data.get(section, {}).values():
            for domain in entry.get("domains", ()):
                host = str(domain).split("/", 1)[0]
                if host:
                    out.append((section, host))
    return sorted(set(out))


def score_classifier(items: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str, str]]]:
    right, wrong = 0, []
    for section, host in items:
        got = channels.classify(extract_touch("https://shop.example/", f"https://{host}/"))
        if got == EXPECTED[section]:
            right += 1
        else:
            wrong.append((section, host, got))
    return right, wrong


def score_table(items: list[tuple[str, str]], table: object) -> int:
    right = 0
    for section, host in items:
        normalised = normalise_host(host)
        match = channels.lookup_in(table, normalised) if normalised else None  # type: ignore[arg-type]
        right += match is not None and match.category == CATEGORY[section]
    return right


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referers-yml", type=Path, required=True)
    parser.add_argument("--baseline-json", type=Path)
    parser.add_argument("--show-misses", type=int, default=20)
    args = parser.parse_args()
    items = hosts_of(args.referers_yml)
    right, wrong = score_classifier(items)
    per = {s: sum(1 for x in items if x[0] == s) for s in EXPECTED}
    print(f"hosts: {len(items)} {per}")
    print(f"classified right now: {right}/{len(items)} = {right / len(items):.1%}")
    for section in EXPECTED:
        ok = per[section] - sum(1 for w in wrong if w[0] == section)
        print(f"  {section}: {ok}/{per[section]} = {ok / per[section]:.1%}")
    if args.baseline_json:
        table = channels._build_table(json.loads(args.baseline_json.read_text(encoding="utf-8")))
        base = score_table(items, table)
        print(f"baseline table alone: {base}/{len(items)} = {base / len(items):.1%}")
    for section, host, got in wrong[: args.show_misses]:
        print(f"  miss: {section} {host} -> {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
