"""Build the shared Lambda layer without Docker: pip-installed Linux wheels, cached, plus the ``multibuzz`` package.

Layout of the layer: ``python/`` holds the third-party runtime dependencies (the ``dependencies`` of
pyproject.toml, minus what the Lambda Python runtime already provides) and the ``multibuzz`` package.

* Dependencies are installed with ``pip --platform manylinux... --only-binary=:all: --python-version 3.12``
  into ``.cdk-cache/deps-<key>/``. The key hashes the requirement list, the platform tags, the Python version
  and this module's format version, so a dependency change builds a new directory and anything else reuses
  the cache (the first build needs PyPI; later synths are offline).
* The layer directory ``.cdk-cache/layer-<key>-<code hash>/`` is assembled from the cached dependencies
  (hard links, so it is fast and costs no disk) and a fresh copy of ``layers/shared/multibuzz``.
* ``MULTIBUZZ_CDK_LAYER_DIR`` (or the ``layer_dir`` argument) bypasses all of this with a prepared directory;
  tests use it so they never touch the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_ROOT / "pyproject.toml"
PACKAGE_SRC = REPO_ROOT / "layers" / "shared" / "multibuzz"
CACHE_ROOT = REPO_ROOT / ".cdk-cache"
LAYER_DIR_ENV = "MULTIBUZZ_CDK_LAYER_DIR"

# Bump when the layout or the pip invocation changes, to invalidate every cached build.
BUNDLE_FORMAT = 2
# Provided by the Lambda Python runtime; shipping them would add ~25 MB to every cold start.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
_IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")

Runner = Callable[[Sequence[str]], None]


@dataclass(frozen=True)
class LayerTarget:
    """The Lambda platform the wheels are chosen for."""

    architecture: str = "aarch64"  # "aarch64" (arm64) or "x86_64"
    python_version: str = "3.12"
    # The python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 and manylinux_2_28 wheels fit.
    manylinux: tuple[str, ...] = ("manylinux2014", "manylinux_2_28")
    excluded: frozenset[str] = field(default=RUNTIME_PROVIDED)

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(f"{tag}_{self.architecture}" for tag in self.manylinux)


@dataclass(frozen=True)
class LayerAsset:
    path: Path
    asset_hash: str | None  # None: let CDK fingerprint the directory (small prepared directories)


def canonical_name(requirement: str) -> str:
    """``"ua-parser[regex]>=1.0,<2"`` -> ``"ua-parser"`` (PEP 503 normalised)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def runtime_requirements(pyproject: Path = PYPROJECT, excluded: Iterable[str] = RUNTIME_PROVIDED) -> list[str]:
    """The ``[project].dependencies`` of pyproject.toml, minus the runtime-provided packages."""
    data = tomllib.loads(pyproject.read_text())
    skip = {canonical_name(name) for name in excluded}
    return [req for req in data["project"]["dependencies"] if canonical_name(req) not in skip]


def dependencies_key(requirements: Sequence[str], target: LayerTarget) -> str:
    payload = {
        "format": BUNDLE_FORMAT,
        "requirements": sorted(requirements),
        "platforms": list(target.platforms),
        "python": target.python_version,
        "excluded": sorted(target.excluded),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def pip_command(requirements: Sequence[str], target_dir: Path, target: LayerTarget) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--quiet",  # errors only: no per-index warnings from the host's pip configuration
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files for the build host's Python would be dead weight
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python_version,
        "--target",
        str(target_dir),
    ]
    for platform in target.platforms:
        command += ["--platform", platform]
    return [*command, *requirements]


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True)


def _prune(python_dir: Path, excluded: Iterable[str]) -> None:
    """Drop runtime-provided packages pulled in transitively, console scripts and stray bytecode."""
    for name in excluded:
        module = name.replace("-", "_")
        for path in [python_dir / module, *python_dir.glob(f"{module}-*.dist-info")]:
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(python_dir / "bin", ignore_errors=True)
    for cache in python_dir.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def ensure_dependencies(
    requirements: Sequence[str],
    target: LayerTarget,
    cache_root: Path = CACHE_ROOT,
    runner: Runner = _run,
) -> Path:
    """The cached ``python/`` directory of third-party wheels; built with pip only on a cache miss."""
    final = cache_root / f"deps-{dependencies_key(requirements, target)}"
    if (final / ".complete").is_file():
        return final / "python"
    staging = cache_root / f"{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "python").mkdir(parents=True)
    runner(pip_command(requirements, staging / "python", target))
    _prune(staging / "python", target.excluded)
    (staging / ".complete").write_text(json.dumps({"requirements": list(requirements), "platforms": target.platforms}))
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final / "python"


def tree_hash(root: Path) -> str:
    """Content hash of a source tree (paths and bytes), ignoring bytecode caches."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or path.suffix in (".pyc", ".pyo"):
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def assemble_layer(deps_python: Path, package_src: Path, cache_root: Path = CACHE_ROOT, keep: int = 3) -> LayerAsset:
    """``layer-<deps>-<code>/python/{deps..., multibuzz/}``; reused when neither changed."""
    key = f"{deps_python.parent.name.removeprefix('deps-')}-{tree_hash(package_src)}"
    out = cache_root / f"layer-{key}"
    if not (out / ".complete").is_file():
        staging = cache_root / f"{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(deps_python, staging / "python", copy_function=_link_or_copy)
        shutil.copytree(package_src, staging / "python" / package_src.name, ignore=shutil.ignore_patterns(*_IGNORED))
        (staging / ".complete").write_text(key)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
        _prune_old_layers(cache_root, keep=keep, current=out)
    return LayerAsset(out, key)


def _prune_old_layers(cache_root: Path, keep: int, current: Path) -> None:
    builds = sorted(
        (p for p in cache_root.glob("layer-*") if p.is_dir() and p != current), key=lambda p: p.stat().st_mtime
    )
    for old in builds[: max(0, len(builds) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def layer_asset(
    layer_dir: str | Path | None = None,
    target: LayerTarget | None = None,
    cache_root: Path = CACHE_ROOT,
    runner: Runner = _run,
) -> LayerAsset:
    """The directory to ship as the shared layer. An explicit or ``MULTIBUZZ_CDK_LAYER_DIR`` directory wins."""
    override = layer_dir or os.environ.get(LAYER_DIR_ENV)
    if override:
        path = Path(override).resolve()
        if not (path / "python").is_dir():
            raise ValueError(f"{path} must contain a python/ directory (the layer layout)")
        return LayerAsset(path, None)
    target = target or LayerTarget()
    deps = ensure_dependencies(runtime_requirements(excluded=target.excluded), target, cache_root, runner)
    return assemble_layer(deps, PACKAGE_SRC, cache_root)
