"""The one Lambda layer: the ``multibuzz`` package and its third-party runtime dependencies under ``python/``."""

from __future__ import annotations

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.cdk.layer_bundle import LayerAsset

RUNTIME = lambda_.Runtime.PYTHON_3_12
# arm64 (Graviton2): 20% cheaper per GB-second than x86_64 and as fast or faster for this pure-Python and
# Rust/C-extension workload; every dependency ships manylinux aarch64 wheels.
ARCHITECTURE = lambda_.Architecture.ARM_64


class SharedLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, asset: LayerAsset) -> None:
        super().__init__(scope, construct_id)
        if asset.asset_hash:
            # The bundle's own key (dependency set + package content) avoids fingerprinting ~60 MB per synth.
            code = lambda_.Code.from_asset(
                str(asset.path), asset_hash=asset.asset_hash, asset_hash_type=AssetHashType.CUSTOM
            )
        else:
            code = lambda_.Code.from_asset(str(asset.path), exclude=["__pycache__", "*.pyc", ".complete"])
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="multibuzz shared package and its runtime dependencies",
        )
