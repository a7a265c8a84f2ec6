"""Layer bundling: requirement selection, cache keys, the pip invocation and cache reuse (pip is faked)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from infra.cdk import layer_bundle as lb


def test_runtime_requirements_come_from_pyproject_without_runtime_provided_sdk() -> None:
    requirements = lb.runtime_requirements()
    names = {lb.canonical_name(r) for r in requirements}
    assert {"pydantic", "sqlalchemy", "alembic", "pymysql", "ua-parser"} <= names
    assert not names & {"boto3", "botocore"}


def test_canonical_name_normalises_extras_and_markers() -> None:
    assert lb.canonical_name("ua-parser[regex]>=1.0,<2") == "ua-parser"
    assert lb.canonical_name("Aws_Lambda.Powertools>=3") == "aws-lambda-powertools"


def test_cache_key_changes_with_requirements_and_platform() -> None:
    arm, x86 = lb.LayerTarget(), lb.LayerTarget(architecture="x86_64")
    base = lb.dependencies_key(["a==1"], arm)
    assert base == lb.dependencies_key(["a==1"], arm)
    assert base != lb.dependencies_key(["a==2"], arm)
    assert base != lb.dependencies_key(["a==1"], x86)


def test_pip_command_targets_lambda_wheels_only(tmp_path: Path) -> None:
    command = lb.pip_command(["pydantic>=2"], tmp_path, lb.LayerTarget())
    joined = " ".join(command)
    assert "--only-binary=:all:" in command
    assert "--platform manylinux2014_aarch64" in joined
    assert "--python-version 3.12" in joined and "--implementation cp" in joined
    assert f"--target {tmp_path}" in joined
    assert command[-1] == "pydantic>=2"


class FakePip:
    def __init__(self) -> None:
        self.calls: list[Sequence[str]] = []

    def __call__(self, command: Sequence[str]) -> None:
        self.calls.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "pydantic").mkdir(parents=True)
        (target / "pydantic" / "__init__.py").write_text("")
        (target / "boto3").mkdir()  # pulled in transitively: must be pruned
        (target / "bin").mkdir()


def test_dependencies_are_built_once_then_served_from_cache(tmp_path: Path) -> None:
    pip = FakePip()
    first = lb.ensure_dependencies(["pydantic"], lb.LayerTarget(), tmp_path, runner=pip)
    second = lb.ensure_dependencies(["pydantic"], lb.LayerTarget(), tmp_path, runner=pip)
    assert first == second and len(pip.calls) == 1
    assert (first / "pydantic" / "__init__.py").is_file()
    assert not (first / "boto3").exists() and not (first / "bin").exists()


def test_failed_build_leaves_no_cache_entry(tmp_path: Path) -> None:
    def broken(command: Sequence[str]) -> None:
        raise RuntimeError("no network")

    with pytest.raises(RuntimeError):
        lb.ensure_dependencies(["pydantic"], lb.LayerTarget(), tmp_path, runner=broken)
    assert not list(tmp_path.glob("deps-*/.complete"))


def test_assembled_layer_has_deps_and_package_and_a_content_hash(tmp_path: Path) -> None:
    deps = lb.ensure_dependencies(["pydantic"], lb.LayerTarget(), tmp_path, runner=FakePip())
    package = tmp_path / "src" / "multibuzz"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    asset = lb.assemble_layer(deps, package, tmp_path)
    assert (asset.path / "python" / "pydantic" / "__init__.py").is_file()
    assert (asset.path / "python" / "multibuzz" / "__init__.py").is_file()
    assert not (asset.path / "python" / "multibuzz" / "__pycache__").exists()
    (package / "__init__.py").write_text("x = 2\n")
    changed = lb.assemble_layer(deps, package, tmp_path)
    assert changed.asset_hash != asset.asset_hash and changed.path != asset.path


def test_prepared_directory_override_skips_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "python").mkdir()
    monkeypatch.setenv(lb.LAYER_DIR_ENV, str(tmp_path))

    def no_pip(command: Sequence[str]) -> None:
        raise AssertionError("pip must not run")

    asset = lb.layer_asset(runner=no_pip)
    assert asset.path == tmp_path.resolve() and asset.asset_hash is None


def test_override_without_python_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="python/"):
        lb.layer_asset(tmp_path)
