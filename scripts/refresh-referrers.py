#!/usr/bin/env python3
"""Regenerate ``layers/shared/multibuzz/data/referrers_public.json`` from Matomo's public lists.

Source: https://github.com/matomo-org/searchengine-and-social-list (CC0-1.0: public-domain data),
files ``SearchEngines.yml`` and ``AIAssistants.yml`` (-> category ``search``; AI answer engines are
search for us, as in referrers.json) and ``Socials.yml`` (-> ``social``).

Where the YAML comes from (one of):
  --git-dir DIR   a git directory of that repository (e.g. a bare mirror); HEAD is read, and the
                  commit and its date are taken from it;
  --dir DIR       a folder holding the three files; give --commit and --date yourself;
  --url BASE      a base URL the three files are under, e.g.
                  https://raw.githubusercontent.com/matomo-org/searchengine-and-social-list/<commit>/
                  (give --commit and --date; --commit defaults to a 40-hex part of the URL).

How the lists become host patterns (the matching rules are in multibuzz.domain.channels):
  * a leading ``www.`` is dropped; ``brand.{}`` (any TLD) -> ``brand.*``; ``{}.host`` (any
    country subdomain) -> ``host`` (our lookup walks up the labels, so subdomains match anyway);
  * ``android-app//<package>/...`` -> the package name (how app referrers reach us);
  * entries restricted to a path (``apollo.lv/portal/search/``) are skipped: the table matches hosts
    only and the rest of such a portal is not a search engine; non-ASCII hosts become IDNA;
  * a host the hand-curated ``referrers.json`` already classifies (exactly, by a ``brand.*``
    wildcard, or by a parent host) is left out: the curated table wins, so the generated file never
    changes what a curated host means (tests/unit/test_channels.py checks it);
  * a host listed twice keeps its first entry (search lists before socials, names in sorted order).

Output is deterministic (sorted, no timestamps): the same inputs give the same bytes.
``--check`` compares instead of writing and exits 1 when the file is out of date.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from multibuzz.domain.channels import _build_table, lookup_in  # noqa: E402

DATA = ROOT / "layers" / "shared" / "multibuzz" / "data"
REPOSITORY = "matomo-org/searchengine-and-social-list"
FILES = (("SearchEngines.yml", "search"), ("AIAssistants.yml", "search"), ("Socials.yml", "social"))
_HOST_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*(?:\.\*)?$")
_SHA_RE = re.compile(r"\b[0-9a-f]{40}\b")


def pattern_of(url: str) -> str | None:
    """Our host pattern for one Matomo URL entry, or None when it can't be one."""
    text = str(url).strip().lower()
    if text.startswith("android-app//"):
        text = text[len("android-app//") :].split("/", 1)[0]
    elif "/" in text:
        return None  # path-restricted entry (see the module docstring)
    labels = text.split(".")
    while labels and labels[0] == "{}":
        labels.pop(0)
    if "{}" in labels[:-1]:
        labels = labels[labels.index("{}") + 1 :]  # images.{}.ask.com -> ask.com
    if labels and labels[-1] == "{}":
        labels[-1] = "*"
    if labels and labels[0] == "www":
        labels.pop(0)
    text = ".".join(labels)
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not text or text == "*" or not _HOST_RE.match(text) or "." not in text:
        return None
    return text


def entries(category: str, document: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(category, name, url) of a Matomo YAML document (search configs or flat url lists)."""
    for name in sorted(document, key=lambda n: (str(n).casefold(), str(n))):
        for item in document[name] or ():
            urls = item.get("urls", ()) if isinstance(item, dict) else (item,)
            for url in urls:
                yield category, str(name), str(url)


def generate(read: Callable[[str], str], commit: str, date: str, curated: Mapping[str, Any]) -> dict[str, Any]:
    table = _build_table(curated)
    hosts: dict[str, dict[str, set[str]]] = {}
    seen: set[str] = set()
    skipped = {"path_or_invalid": 0, "curated": 0, "duplicate": 0}
    for filename, category in FILES:
        document = yaml.safe_load(read(filename)) or {}
        for cat, name, url in entries(category, document):
            pattern = pattern_of(url)
            if pattern is None:
                skipped["path_or_invalid"] += 1
                continue
            probe = pattern[:-2] + ".com" if pattern.endswith(".*") else pattern
            if pattern in table.hosts or lookup_in(table, probe) is not None:
                skipped["curated"] += 1
                continue
            if pattern in seen:
                skipped["duplicate"] += 1
                continue
            seen.add(pattern)
            hosts.setdefault(cat, {}).setdefault(name, set()).add(pattern)
    return {
        "_doc": [
            "GENERATED by scripts/refresh-referrers.py - do not edit; edit referrers.json (curated, wins) instead.",
            "Referrer hosts from Matomo's searchengine-and-social-list, loaded below the curated table by",
            "multibuzz.domain.channels: category -> display name -> host patterns (same syntax as referrers.json).",
        ],
        "source": {
            "repository": f"https://github.com/{REPOSITORY}",
            "commit": commit,
            "commit_date": date,
            "licence": "CC0-1.0 (public domain dedication)",
            "files": [name for name, _ in FILES],
        },
        "counts": {
            "hosts": len(seen),
            **{f"skipped_{k}": v for k, v in skipped.items()},
        },
        "hosts": {
            cat: {name: sorted(patterns) for name, patterns in sorted(names.items())}
            for cat, names in sorted(hosts.items())
        },
    }


def render(document: Mapping[str, Any]) -> str:
    """JSON with one line per name, so refreshes diff readably."""
    head = {k: v for k, v in document.items() if k != "hosts"}
    text = json.dumps(head, indent=2, ensure_ascii=False)[:-2] + ',\n  "hosts": {\n'
    categories = []
    for cat, names in document["hosts"].items():
        lines = [
            f"    {json.dumps(name, ensure_ascii=False)}: {json.dumps(patterns)}" for name, patterns in names.items()
        ]
        categories.append(f"    {json.dumps(cat)}: {{\n" + ",\n".join("  " + line for line in lines) + "\n    }")
    return text + ",\n".join(categories) + "\n  }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--git-dir", type=Path)
    where.add_argument("--dir", type=Path)
    where.add_argument("--url")
    parser.add_argument("--commit")
    parser.add_argument("--date")
    parser.add_argument("--output", type=Path, default=DATA / "referrers_public.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if --output differs from what would be written")
    args = parser.parse_args(argv)

    read: Callable[[str], str]
    commit: str | None
    date: str | None
    if args.git_dir is not None:
        git = ["git", f"--git-dir={args.git_dir}"]

        def read(name: str) -> str:
            shown = subprocess.run([*git, "show", f"HEAD:{name}"], capture_output=True, text=True, check=True)  # noqa: S603
            return shown.stdout

        log = subprocess.run([*git, "log", "-1", "--format=%H %cI"], capture_output=True, text=True, check=True)  # noqa: S603
        commit, date = log.stdout.split()
    elif args.dir is not None:
        directory: Path = args.dir

        def read(name: str) -> str:
            return (directory / name).read_text(encoding="utf-8")

        commit, date = args.commit, args.date
    else:
        base = args.url.rstrip("/") + "/"

        def read(name: str) -> str:
            with urllib.request.urlopen(base + name, timeout=30) as response:  # noqa: S310 - a URL the user gave
                return str(response.read().decode("utf-8"))

        found = _SHA_RE.search(args.url)
        commit, date = args.commit or (found.group() if found else None), args.date
    commit, date = args.commit or commit, args.date or date
    if not commit or not date:
        parser.error("--commit and --date are required unless --git-dir gives them")

    curated = json.loads((DATA / "referrers.json").read_text(encoding="utf-8"))
    text = render(generate(read, commit, date, curated))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run scripts/refresh-referrers.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {json.loads(text)['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
