"""CDK entry point: ``cdk synth -c stage=prod`` (via cdk.json) or ``python -m infra.cdk.app``.

Context keys: ``stage`` (dev|prod, default dev) and the overrides in ``infra.cdk.config``; the layer can be
replaced by a prepared directory with ``MULTIBUZZ_CDK_LAYER_DIR``.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from infra.cdk import nag
from infra.cdk.config import StageConfig, config_from_context
from infra.cdk.layer_bundle import layer_asset
from infra.cdk.stack import MultibuzzStack

# Feature flags this app relies on (cdk.json repeats them for the CLI; CLI/cdk.json values win).
FEATURE_FLAGS: dict[str, Any] = {
    # The migrator's version hash includes its layer: new shared code re-runs the migration trigger.
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/aws-lambda:recognizeVersionProps": True,
    # Server access logs are delivered through a bucket policy, not ACLs.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-rds:databaseProxyUniqueResourceName": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
}


def stack_name(config: StageConfig) -> str:
    return f"Multibuzz-{config.stage}"


def build_app(
    context: dict[str, Any] | None = None,
    *,
    outdir: str | None = None,
    layer_dir: str | Path | None = None,
    stages: tuple[str, ...] | None = None,
    nag_checks: bool = True,
) -> tuple[App, list[MultibuzzStack]]:
    """One stack per requested stage (default: the ``stage`` context value, else dev)."""
    app = App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    if nag_checks:
        nag.enable(app)
    asset = layer_asset(layer_dir)
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    requested = stages or (str(app.node.try_get_context("stage") or "dev"),)
    stacks = []
    for stage in requested:
        config = config_from_context(
            lambda key, stage=stage: stage if key == "stage" else app.node.try_get_context(key)
        )
        stacks.append(MultibuzzStack(app, stack_name(config), config=config, layer=asset, env=env))
    return app, stacks


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
