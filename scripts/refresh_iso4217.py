"""Rebuild layers/shared/multibuzz/data/iso4217.json: ISO 4217 active currency codes a price can be in.

Source: the ISO 4217 "list one" (current currency and funds), as packaged by Debian's iso-codes
(``/usr/share/iso-codes/json/iso_4217.json``, https://salsa.debian.org/iso-codes-team/iso-codes),
or the SIX list itself (``--six list-one.xml`` from
https://www.six-group.com/dam/download/financial-information/data-center/iso-currrency/lists/list-one.xml).
Codes that are not money a shop charges in (precious metals, bond-market units, SDR, testing, "no
currency") are left out. ``ADJUSTMENTS`` applies ISO amendments published after the packaged list.

    python scripts/refresh_iso4217.py [--six list-one.xml]
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

DEBIAN = Path("/usr/share/iso-codes/json/iso_4217.json")
OUT = Path(__file__).resolve().parent.parent / "layers/shared/multibuzz/data/iso4217.json"
NOT_MONEY = {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
# ISO 4217 amendments after the packaged list (applied only when reading the Debian package).
ADJUSTMENTS = {
    "add": {"ZWG": "Zimbabwe Gold (ISO 4217 amendment 177, in force 2024-06-25)"},
    "remove": {"HRK": "Kuna, withdrawn 2023-01-01 when Croatia adopted the euro"},
}


def from_debian() -> tuple[dict[str, str], str]:
    data = json.loads(DEBIAN.read_text(encoding="utf-8"))
    codes = {row["alpha_3"]: row["name"] for row in data["4217"]}
    for code in ADJUSTMENTS["remove"]:
        codes.pop(code, None)
    codes.update({code: note.split(" (")[0] for code, note in ADJUSTMENTS["add"].items()})
    dated = datetime.fromtimestamp(DEBIAN.stat().st_mtime, UTC).date().isoformat()
    return codes, f"ISO 4217 list one via Debian iso-codes ({DEBIAN}, dated {dated}) + adjustments"


def from_six(path: Path) -> tuple[dict[str, str], str]:
    root = ET.parse(path).getroot()  # noqa: S314 - a file the maintainer downloaded from SIX
    codes = {}
    for entry in root.iter("CcyNtry"):
        code, name = entry.findtext("Ccy"), entry.findtext("CcyNm")
        if code and name:
            codes[code] = name
    return codes, f"ISO 4217 list one, SIX, published {root.get('Pblshd')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--six", type=Path, help="the SIX list-one.xml instead of the Debian package")
    args = parser.parse_args()
    codes, source = from_six(args.six) if args.six else from_debian()
    active = {code: name for code, name in sorted(codes.items()) if code not in NOT_MONEY}
    document = {
        "source": source,
        "generated": datetime.now(UTC).date().isoformat(),
        "excluded_as_not_money": sorted(NOT_MONEY),
        "adjustments": ADJUSTMENTS if not args.six else {},
        "codes": active,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(active)} codes -> {OUT}")


if __name__ == "__main__":
    main()
