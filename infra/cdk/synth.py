"""``python -m infra.cdk.synth [--stage dev|prod] [--out cdk.out]``: synthesize offline, no CDK CLI needed.

The CloudFormation templates land in ``<out>/Multibuzz-<stage>.template.json``; the first run builds the
layer's dependency cache (needs PyPI), later runs reuse ``.cdk-cache/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", action="append", choices=("dev", "prod"), help="repeatable; default dev")
    parser.add_argument("--out", default="cdk.out", help="cloud assembly directory (default cdk.out)")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    started = time.monotonic()
    from aws_cdk.cx_api import CloudAssembly

    from infra.cdk.app import build_app

    context = dict(item.split("=", 1) for item in args.context)
    _, stacks = build_app(context, outdir=args.out, stages=tuple(args.stage or ("dev",)))
    assembly: CloudAssembly = stacks[0].node.root.synth()  # type: ignore[attr-defined]
    for stack in stacks:
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        problems = [m for m in artifact.messages if m.level.value == "error"]
        for message in problems:
            print(f"error {message.id}: {message.entry.data}", file=sys.stderr)
        print(f"{stack.stack_name}: {assembly.directory}/{artifact.template_file}")
        if problems:
            return 1
    removed = prune_stale_assets(Path(assembly.directory))
    print(
        f"synthesized in {time.monotonic() - started:.1f}s" + (f" (removed {removed} stale assets)" if removed else "")
    )
    return 0


def prune_stale_assets(outdir: Path) -> int:
    """Each layer change stages a new ~100 MB copy; drop the asset.* entries no manifest references any more."""
    referenced: set[str] = set()
    for manifest in outdir.glob("*.assets.json"):
        for kind in ("files", "dockerImages"):
            for entry in json.loads(manifest.read_text()).get(kind, {}).values():
                referenced.add(str(entry.get("source", {}).get("path", "")))
    removed = 0
    for stale in outdir.glob("asset.*"):
        if stale.name not in referenced:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
            removed += 1
    return removed


if __name__ == "__main__":
    raise SystemExit(main())
