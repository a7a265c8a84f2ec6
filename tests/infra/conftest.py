"""Synthesize the app once per session (dev and prod stacks, no network) and share the templates."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.cdk.layer_bundle import PACKAGE_SRC


@dataclass
class Synthesized:
    app: Any
    stacks: dict[str, Any]  # stage -> MultibuzzStack
    templates: dict[str, dict[str, Any]]  # stage -> CloudFormation template
    template_files: dict[str, Path]


@pytest.fixture(scope="session")
def prepared_layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small stand-in for the real layer: just the multibuzz package, no third-party wheels."""
    root = tmp_path_factory.mktemp("layer")
    shutil.copytree(PACKAGE_SRC, root / "python" / "multibuzz", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


@pytest.fixture(scope="session")
def synthesized(prepared_layer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from infra.cdk.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    # nag checks run as a validation plugin: synth raises if any finding is left unacknowledged.
    app, stacks = build_app(outdir=str(outdir), layer_dir=prepared_layer_dir, stages=("dev", "prod"))
    assembly = app.synth()
    by_stage = {stack.config.stage: stack for stack in stacks}
    templates = {}
    files = {}
    for stage, stack in by_stage.items():
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        templates[stage] = artifact.template
        files[stage] = Path(artifact.template_full_path)
    return Synthesized(app, by_stage, templates, files)


@pytest.fixture(scope="session", params=["dev", "prod"])
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized, stage: str) -> dict[str, Any]:
    return synthesized.templates[stage]
