"""``/api/v1/docs`` works offline: Swagger UI's assets are served by the API function itself, not a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Api

ASSETS = Path(__file__).resolve().parents[2] / "layers" / "shared" / "multibuzz" / "http" / "swagger_ui"
EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def test_the_docs_page_references_only_local_assets_that_answer(api: Api) -> None:
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    referenced = {u for pair in urls for u in pair if u}
    assert referenced, page.text
    remote = {u for u in referenced if "//" in u}
    assert remote == set(), f"remote assets: {remote}"
    assets = {u for u in referenced if u.startswith("/api/v1/docs/")}
    assert {Path(u).suffix for u in assets} == {".js", ".css", ".png"}
    for url in assets:
        answer = api.client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].split(";")[0] == EXPECTED_TYPES[Path(url).suffix], url
        assert answer.content == (ASSETS / Path(url).name).read_bytes(), url
    assert "/api/v1/openapi.json" in referenced
    assert api.client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/docs/assets/nope.js", "/api/v1/docs/assets/LICENSE", "/api/v1/docs/assets/..%2F..%2Fapp.py"]
)
def test_only_the_listed_assets_are_served(api: Api, path: str) -> None:
    answer = api.client.get(path)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/json")


def test_the_vendored_swagger_ui_keeps_its_licence() -> None:
    assert "Apache License" in (ASSETS / "LICENSE").read_text()
    assert (ASSETS / "NOTICE").is_file()
