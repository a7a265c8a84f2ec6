"""App-level behaviour without a synth: configuration, topology checks, and what synth may import."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from multibuzz import topology

from infra.cdk import topology_check
from infra.cdk.components.functions import check_consumer, consumer_max_concurrency
from infra.cdk.components.queues import visibility_timeout_seconds
from infra.cdk.config import DEFAULTS, config_from_context

CDK_DIR = Path(__file__).resolve().parents[2] / "infra" / "cdk"


def test_stage_comes_from_context_with_overrides() -> None:
    context = {"stage": "prod", "cloudfront": "false", "nat_gateways": "1", "alarm_email": "ops@example.com"}
    config = config_from_context(context.get)
    assert config.stage == "prod" and config.cloudfront is False and config.nat_gateways == 1
    assert config.alarm_email == "ops@example.com"
    assert config.deletion_protection is DEFAULTS["prod"].deletion_protection
    assert config_from_context({}.get) == DEFAULTS["dev"]


@pytest.mark.parametrize("context", [{"stage": "staging"}, {"stage": "dev", "use_proxy": "maybe"}])
def test_bad_context_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        config_from_context(context.get)


def test_current_topology_is_valid() -> None:
    assert topology_check.problems() == []


def test_topology_check_names_duplicates_and_unknown_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    sync = topology.function("sync")
    broken = dataclasses.replace(sync, schedules=sync.schedules + sync.schedules[:1], publishes=("nowhere",))
    monkeypatch.setattr(topology, "FUNCTIONS", (*topology.FUNCTIONS, broken))
    found = "\n".join(topology_check.problems())
    assert "function 'sync' more than once" in found
    assert f"schedule {sync.schedules[0].name!r} more than once" in found
    assert "'nowhere'" in found


def test_consumer_settings_lambda_would_reject_fail_the_synth() -> None:
    fn = topology.function("attribution")
    with pytest.raises(ValueError, match="batching window"):
        check_consumer(fn, topology.ConsumerSpec("clicks", batch_size=100))
    with pytest.raises(ValueError, match="FIFO"):
        check_consumer(fn, topology.ConsumerSpec("ingest", batch_size=10, max_batching_window_seconds=5))
    with pytest.raises(ValueError, match=r"1\.\.10"):
        check_consumer(fn, topology.ConsumerSpec("ingest", batch_size=11))


def test_reserved_concurrency_is_split_over_queues() -> None:
    spec = topology.FunctionSpec(
        "x",
        "",
        128,
        10,
        consumes=(topology.ConsumerSpec("ingest", 10), topology.ConsumerSpec("clicks", 10)),
        reserved_concurrency=20,
    )
    assert consumer_max_concurrency(spec) == 10
    assert consumer_max_concurrency(dataclasses.replace(spec, reserved_concurrency=3)) == 2  # SQS minimum
    assert consumer_max_concurrency(dataclasses.replace(spec, reserved_concurrency=None)) is None


def test_visibility_timeout_is_raised_to_the_consumer_timeout() -> None:
    short = topology.QueueSpec("clicks", visibility_timeout_seconds=1)
    assert visibility_timeout_seconds(short) == topology.function("attribution").timeout_seconds


def test_synth_code_imports_neither_handlers_nor_database_code() -> None:
    allowed_multibuzz = {"multibuzz", "multibuzz.topology"}
    for path in CDK_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("functions"), (path.name, name)
                assert not name.startswith(("sqlalchemy", "alembic", "pymysql")), (path.name, name)
                if name.startswith("multibuzz"):
                    assert name in allowed_multibuzz, (path.name, name)


def test_cdk_json_repeats_the_apps_feature_flags() -> None:
    import json

    from infra.cdk.app import FEATURE_FLAGS

    cdk_json = json.loads((CDK_DIR.parents[1] / "cdk.json").read_text())
    assert cdk_json["app"].endswith("-m infra.cdk.app")
    assert {k: cdk_json["context"][k] for k in FEATURE_FLAGS} == FEATURE_FLAGS


def test_synth_prunes_only_unreferenced_assets(tmp_path: Path) -> None:
    import json

    from infra.cdk.synth import prune_stale_assets

    (tmp_path / "asset.keep").mkdir()
    (tmp_path / "asset.old").mkdir()
    (tmp_path / "asset.old.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("untouched")
    manifest = {"files": {"h": {"source": {"path": "asset.keep", "packaging": "zip"}}}}
    (tmp_path / "Multibuzz-dev.assets.json").write_text(json.dumps(manifest))
    assert prune_stale_assets(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Multibuzz-dev.assets.json", "asset.keep", "notes.txt"]
