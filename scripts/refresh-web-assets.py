#!/usr/bin/env python3
"""Refresh the web app's third-party assets from their npm packages (no Node build step needed to serve).

Each asset is one file taken from a pinned npm package with ``npm pack`` (the registry's own client),
copied into ``layers/shared/multibuzz/web/static/vendor/`` with its licence, and recorded in
``manifest.json`` (package, version, licence, source path, sha256). Change a version in ``ASSETS`` and run:

    python scripts/refresh-web-assets.py           # fetch, copy, rewrite the manifest
    python scripts/refresh-web-assets.py --check   # verify the files against the manifest (no network)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "layers/shared/multibuzz/web/static/vendor"

# (npm package, version, file inside the package, file name under vendor/, licence file inside the package)
ASSETS: tuple[tuple[str, str, str, str, str], ...] = (
    ("htmx.org", "4.0.1", "dist/htmx.min.js", "htmx.min.js", "LICENSE"),
    ("chart.js", "4.6.1", "dist/chart.umd.min.js", "chart.umd.min.js", "LICENSE.md"),
    ("@picocss/pico", "2.1.1", "css/pico.min.css", "pico.min.css", "LICENSE.md"),
    ("axe-core", "4.14.1", "axe.min.js", "axe.min.js", "LICENSE"),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_json(tar: tarfile.TarFile) -> dict[str, object]:
    member = tar.extractfile("package/package.json")
    assert member is not None
    return dict(json.loads(member.read()))


def refresh() -> None:
    manifest: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package, version, inner, name, licence_file in ASSETS:
            npm = shutil.which("npm") or "npm"
            spec = f"{package}@{version}"  # pinned names from ASSETS above, not user input
            out = subprocess.run([npm, "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True, text=True)  # noqa: S603
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                meta = package_json(tar)
                data = tar.extractfile(f"package/{inner}")
                licence = tar.extractfile(f"package/{licence_file}")
                assert data is not None and licence is not None
                (VENDOR / name).write_bytes(data.read())
                licence_name = f"{name}.LICENSE.txt"
                (VENDOR / licence_name).write_bytes(licence.read())
            manifest[name] = {
                "package": package,
                "version": str(meta["version"]),
                "license": str(meta.get("license", "")),
                "source": f"https://registry.npmjs.org/{package}/-/{tarball.name}#package/{inner}",
                "license_file": licence_name,
                "sha256": sha256(VENDOR / name),
            }
            print(f"{name}: {package}@{meta['version']} ({meta.get('license')}) {manifest[name]['sha256'][:12]}")
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def check() -> int:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    bad = [name for name, entry in manifest.items() if sha256(VENDOR / name) != entry["sha256"]]
    for name in bad:
        print(f"{name}: sha256 differs from the manifest", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify the vendored files against the manifest")
    args = parser.parse_args()
    sys.exit(check() if args.check else refresh())
