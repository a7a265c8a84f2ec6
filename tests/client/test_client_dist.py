"""The client is a distribution of its own: sdist + wheel, typed, standard library only, no server import."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
PY310 = next(iter(sorted(Path("/root/.pyenv/versions").glob("3.10*/bin/python3.10"))), None) or (
    shutil.which("/usr/bin/python3.10") or shutil.which("/usr/local/bin/python3.10")
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("src") / "python"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def test_python_m_build_makes_a_typed_wheel_and_an_sdist(dist: Path) -> None:
    (wheel,) = dist.glob("multibuzz_client-*-py3-none-any.whl")
    (sdist,) = [*dist.glob("multibuzz_client-*.tar.gz"), *dist.glob("multibuzz-client-*.tar.gz")]
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("__init__", "config", "sender", "transport", "web", "wsgi", "asgi", "flask", "django", "fastapi"):
        assert f"multibuzz_client/{module}.py" in names
    assert "multibuzz_client/py.typed" in names
    assert not any(n.startswith("multibuzz/") for n in names), "never the server package"
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Name: multibuzz-client" in metadata and "Requires-Python: >=3.10" in metadata
    assert "Requires-Dist" not in metadata.split("Provides-Extra")[0], "standard library only"
    with tarfile.open(sdist) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    assert {"README.md", "CHANGELOG.md", "pyproject.toml", "src/multibuzz_client/py.typed"} <= members


def test_the_client_never_imports_the_server_package() -> None:
    for path in (CLIENT / "src" / "multibuzz_client").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "multibuzz" or n.startswith("multibuzz.") for n in names), path


@pytest.mark.slow
@pytest.mark.skipif(PY310 is None, reason="no Python 3.10 interpreter on this machine")
def test_the_wheel_works_on_python_3_10(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    subprocess.run([str(PY310), "-m", "venv", str(tmp_path / "venv")], check=True, timeout=120)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], check=True, timeout=120
    )
    smoke = """
import multibuzz_client as mb
from multibuzz_client.wsgi import MultibuzzWSGIMiddleware
client = mb.Client(api_key="sk_test_" + "a" * 40, api_url="http://127.0.0.1:9", flush_at_exit=False, max_retries=0)
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"hi"]
seen = []
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "shop.example", "wsgi.url_scheme": "http"}
b"".join(MultibuzzWSGIMiddleware(app, client)(environ, lambda s, h, e=None: seen.extend(h)))
assert sum(1 for k, _ in seen if k == "Set-Cookie") == 2, seen
print(mb.__version__)
"""
    done = subprocess.run([str(python), "-c", smoke], check=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0.1.0"
