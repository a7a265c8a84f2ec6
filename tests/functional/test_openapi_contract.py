"""The published OpenAPI document is the truth, checked by schemathesis over real HTTP.

Every operation of ``GET /api/v1/openapi.json`` (enumerated from the app, so a new route is covered
without editing this file) is called through the real local gateway with generated requests — valid
and invalid ones, bounded and derandomized — once with a user's JWT (the platform admin acting in a
tenant account) and once with the tenant's API key. Every answer must be documented: no 5xx (a 501 of
a route documented as not implemented aside), a documented status code, content type, headers and a
body that matches the documented schema.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from multibuzz.apps import create_api_app
from multibuzz.bootstrap import Container, use_container
from multibuzz.commerce.fakes.meta import FakeMeta
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from tests.conftest import Api, _clean, make_settings

MAX_EXAMPLES = int(os.environ.get("MULTIBUZZ_CONTRACT_EXAMPLES", "8"))
CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations() -> list[str]:
    document = create_api_app().openapi()
    return [
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item if method in METHODS
    ]


OPERATIONS = _operations()
# Answers seen, by (credential, status); written to $MULTIBUZZ_CONTRACT_STATS (JSON) when set.
STATS: Counter[str] = Counter()


@dataclass
class Contract:
    base_url: str
    document: dict[str, Any]
    schema: Any
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def contract(
    gateway: str, engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Contract]:
    _clean(engine)
    meta = FakeMeta()  # third parties the routes call answer from their fakes (no internet here)
    meta_url = meta.serve()
    container = Container(
        make_settings(
            tmp_path_factory.mktemp("contract"),
            database_url,
            api_key_rate_limit_per_minute=1_000_000,
            meta_graph_url=meta_url,
        ),
        engine=engine,
    )
    use_container(container)
    try:
        with httpx.Client(base_url=gateway, timeout=30) as client:
            api = Api(client, container)
            tenant = api.tenant("Contract Shop")
            admin_in_account = api.login("root@multibuzz.test", tenant.account_id)
            published = client.get("/api/v1/openapi.json")
            assert published.status_code == 200, published.text
            document = published.json()
        yield Contract(
            base_url=gateway,
            document=document,
            schema=schemathesis.openapi.from_dict(document),
            headers={"jwt": api.auth(admin_in_account), "api_key": api.auth(tenant.api_key)},
        )
    finally:
        if os.environ.get("MULTIBUZZ_CONTRACT_STATS"):
            Path(os.environ["MULTIBUZZ_CONTRACT_STATS"]).write_text(json.dumps(dict(sorted(STATS.items())), indent=1))
        use_container(None)
        container.local_queue.close()
        meta.close()
        _clean(engine)


def test_the_published_document_is_the_apps(contract: Contract) -> None:
    """The enumeration above is of the document the gateway publishes."""
    published = [f"{m.upper()} {p}" for p, item in contract.document["paths"].items() for m in item if m in METHODS]
    assert published == OPERATIONS


def _documented_5xx(contract: Contract, method: str, path: str) -> set[int]:
    responses = contract.document["paths"][path][method.lower()]["responses"]
    return {int(code) for code in responses if code.isdigit() and int(code) == 501}


@pytest.mark.parametrize("credential", ["jwt", "api_key"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_answer_is_documented(contract: Contract, label: str, credential: str) -> None:
    method, path = label.split(" ", 1)
    operation = contract.schema[path][method]
    headers = contract.headers[credential]
    allowed_5xx = _documented_5xx(contract, method, path)
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=contract.base_url, headers=headers, timeout=30)
        STATS[f"{credential} {response.status_code}"] += 1
        assert response.status_code < 500 or response.status_code in allowed_5xx, (
            f"{response.status_code} from {case.as_curl_command(headers=headers)}\n{response.text[:500]}"
        )
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


def test_operations_cover_every_route_of_every_http_function() -> None:
    from multibuzz import topology
    from multibuzz.http.allow import template_regex

    documented = [(label.split(" ", 1)[0], template_regex(label.split(" ", 1)[1])) for label in OPERATIONS]
    for key, function in topology.all_routes():
        method, template = key.split(" ", 1)
        if method in ("ANY", "HEAD") or function == "web":  # the web app's HTML pages are not API operations
            continue
        concrete = template.replace("{proxy+}", "x").replace("{topic+}", "orders")
        concrete = concrete.replace("{", "").replace("}", "")
        assert any(m == method and rx.match(concrete) for m, rx in documented), f"{key} ({function}) undocumented"


def test_405_allow_lists_every_method_the_path_accepts(contract: Contract) -> None:
    """Across functions: POST /api/v1/events is the events function's, GET the api function's."""
    from multibuzz.http.allow import template_regex

    templates = [
        (path, template_regex(path), {m.upper() for m in item if m in METHODS})
        for path, item in contract.document["paths"].items()
    ]
    with httpx.Client(base_url=contract.base_url, timeout=30) as client:
        for template, _, _ in templates:
            path = template.replace("{", "x").replace("}", "")
            accepted = set().union(*(methods for _, regex, methods in templates if regex.match(path)))
            expected = accepted | ({"HEAD"} if path.startswith("/r/") else set())  # the redirect's HEAD route
            for method in ("GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"):
                if method in expected:
                    continue
                response = client.request(method, path, headers=contract.headers["jwt"])
                assert response.status_code == 405, (method, path, response.status_code, response.text)
                assert set(response.headers["allow"].split(", ")) == expected, (method, path)
                if method != "HEAD":
                    assert response.json()["error"] == "method_not_allowed"


def test_unknown_paths_stay_404(contract: Contract) -> None:
    with httpx.Client(base_url=contract.base_url, timeout=30) as client:
        for method, path in (("GET", "/api/v1/nothing-here"), ("POST", "/api/v1/nothing/here"), ("GET", "/nowhere")):
            response = client.request(method, path, headers=contract.headers["jwt"])
            assert response.status_code == 404, (method, path)
            assert "allow" not in response.headers
