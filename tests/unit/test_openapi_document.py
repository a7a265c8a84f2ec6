"""The OpenAPI document carries the code's own models and constraints (issue #10, defect 12)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args

import pytest
from multibuzz.api.schemas import EMAIL_PATTERN, _email
from multibuzz.apps import create_api_app
from multibuzz.conversions.request import Problems, parse_conversion
from multibuzz.conversions.schema import ConversionEnvelope, ConversionIn
from multibuzz.domain.attribution import MODELS
from multibuzz.domain.attribution.types import ModelName
from multibuzz.http.params import CURSOR_PATTERN
from multibuzz.services.pagination import encode_cursor
from pydantic import ValidationError

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_api_app().openapi()


def body_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    return dict(operation["requestBody"]["content"]["application/json"]["schema"])


def refs(schema: dict[str, Any]) -> list[str]:
    options = schema.get("anyOf", [schema])
    return [option["$ref"].rsplit("/", 1)[1] for option in options]


def test_ingestion_bodies_are_the_validating_models(document: dict[str, Any]) -> None:
    assert refs(body_schema(document, "post", "/api/v1/sessions")) == ["SessionBody"]
    assert refs(body_schema(document, "post", "/api/v1/events")) == ["EventBatchIn", "UnifiedEventIn", "EventIn"]
    assert refs(body_schema(document, "post", "/api/v1/event/{action}")) == ["UnifiedEventIn"]
    assert refs(body_schema(document, "post", "/api/v1/identify")) == ["IdentifyIn"]
    assert refs(body_schema(document, "post", "/api/v1/conversions")) == ["ConversionIn", "ConversionEnvelope"]
    schemas = document["components"]["schemas"]
    assert schemas["SessionBody"]["required"] == ["session"]
    assert "visitor_id" in schemas["SessionIn"]["required"]
    assert schemas["EventIn"]["properties"]["event_type"]["maxLength"] == 64
    assert schemas["EventBatchIn"]["properties"]["events"]["maxItems"] == 1000
    assert set(schemas["UnifiedEventIn"]["properties"]["action"]["enum"]) == {
        "purchase",
        "add_to_cart",
        "signup",
        "drop_off",
        "custom",
    }


def test_status_codes_are_the_ones_answered(document: dict[str, Any]) -> None:
    events = document["paths"]["/api/v1/events"]["post"]["responses"]
    assert "202" in events and "200" not in events
    for code in ("400", "401", "403", "413", "422", "429", "503"):
        assert code in events, code
    conversions = document["paths"]["/api/v1/conversions"]["post"]["responses"]
    assert {"201", "202"} <= set(conversions)
    assert {"401", "403", "404", "409", "422"} <= set(document["paths"]["/api/v1/members"]["post"]["responses"])


def test_every_error_is_documented_with_the_error_body(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if int(code) < 400 or "application/json" not in response.get("content", {}):
                    continue
                schema = response["content"]["application/json"].get("schema", {})
                text = str(schema)
                if int(code) == 501 or path == "/api/health-lite":  # not built yet; the health probe's own shape
                    continue
                assert "ErrorBody" in text or "EventsRejectedOut" in text, (method, path, code, schema)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error", "message"]
    assert error["properties"]["errors"]["items"]["$ref"].endswith("/FieldProblem")


def test_security_schemes_and_per_operation_security(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerJWT"]["scheme"] == "bearer"
    assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-API-KEY"}

    def security(method: str, path: str) -> set[str]:
        return {name for requirement in document["paths"][path][method].get("security", []) for name in requirement}

    assert security("post", "/api/v1/events") == {"ApiKeyBearer", "ApiKeyHeader"}
    assert security("get", "/api/v1/members") == {"BearerJWT"}
    assert security("get", "/api/v1/conversions/{conversion_id}") >= {"BearerJWT", "ApiKeyBearer"}
    assert security("post", "/api/v1/auth/login") == set()
    assert security("get", "/api/health-lite") == set()


def test_the_model_parameter_is_the_enum_of_the_ten_models(document: dict[str, Any]) -> None:
    assert get_args(ModelName) == MODELS
    for path in ("/api/v1/attributions", "/api/v1/analytics/recurring"):
        (model,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "model"]
        schema = model["schema"]
        enum = schema.get("enum") or next(o["enum"] for o in schema["anyOf"] if "enum" in o)
        assert tuple(enum) == MODELS


def test_cursors_carry_their_format(document: dict[str, Any]) -> None:
    cursors = [
        p["schema"]
        for item in document["paths"].values()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["name"] == "cursor"
    ]
    assert len(cursors) >= 7
    for schema in cursors:
        option = next(o for o in schema.get("anyOf", [schema]) if o.get("type") == "string")
        assert option["pattern"] == CURSOR_PATTERN and option["maxLength"] == 200
    assert re.fullmatch(CURSOR_PATTERN, encode_cursor("cmp_06h34j5tfb263js3k16xgz77xw"))


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("ann@example.com", True),
        ("ann@localhost", True),
        (" Ann@Example.COM ", True),
        ("ann", False),
        ("ann@", False),
        ("@example.com", False),
        ("ann@example.", False),
        ("ann@.com", False),
        ("a b@example.com", False),
        ("ann@exa@mple.com", False),
        ("ann\x1c@example.com", False),  # whitespace to Python, not to a JSON Schema (ECMA-262) \s
        ("ann@exa\u2028mple.com", False),
    ],
)
def test_the_email_pattern_is_the_validators_rule(document: dict[str, Any], email: str, valid: bool) -> None:
    login = document["components"]["schemas"]["LoginIn"]["properties"]["email"]
    assert login["pattern"] == EMAIL_PATTERN
    try:
        _email(email.strip())
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is valid
    assert bool(re.search(EMAIL_PATTERN, email)) is valid


CONVERSIONS: list[dict[str, Any]] = [
    {"conversion_type": "purchase", "visitor_id": "v1"},
    {"conversion_type": "purchase", "user_id": "u1", "revenue": "49.90", "currency": "eur"},
    {"conversion_type": "signup", "event_id": "e1", "revenue": 10, "is_acquisition": True},
    {"conversion_type": "purchase", "visitor_id": "v1", "timestamp": "2026-01-30T10:00:00Z", "lookback_days": 365},
    {"conversion_type": "purchase", "visitor_id": "v1", "occurred_at": 1769700000},
    {"conversion_type": "purchase", "visitor_id": "v1", "properties": {"order_id": "A-1"}},
    {"visitor_id": "v1"},
    {"conversion_type": "purchase"},
    {"conversion_type": "x" * 65, "visitor_id": "v1"},
    {"conversion_type": "purchase", "visitor_id": "v" * 129},
    {"conversion_type": "purchase", "visitor_id": "v1", "revenue": "abc"},
    {"conversion_type": "purchase", "visitor_id": "v1", "revenue": str(Decimal("1e13"))},
    {"conversion_type": "purchase", "visitor_id": "v1", "currency": "EURO"},
    {"conversion_type": "purchase", "visitor_id": "v1", "properties": [1]},
    {"conversion_type": "purchase", "visitor_id": "v1", "is_acquisition": "yes"},
    {"conversion_type": "purchase", "visitor_id": "v1", "lookback_days": 0},
    {"conversion_type": "purchase", "visitor_id": "v1", "lookback_days": 366},
    {"conversion_type": "purchase", "visitor_id": "v1", "timestamp": "yesterday"},
]


@pytest.mark.parametrize("body", CONVERSIONS)
def test_the_conversion_model_states_the_parsers_rules(body: dict[str, Any]) -> None:
    """``ConversionIn`` (documentation) and ``parse_conversion`` (validation) accept the same bodies."""
    from jsonschema import Draft202012Validator, FormatChecker

    accepted = not isinstance(parse_conversion(body, now=NOW, idempotency_header=None), Problems)
    try:
        ConversionIn.model_validate(body)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    schema = ConversionIn.model_json_schema()
    schema_accepts = Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(body)
    assert (model_accepts and schema_accepts) is accepted, (accepted, model_accepts, schema_accepts)
    wrapped = {"conversion": body}
    wrapped_accepted = not isinstance(parse_conversion(wrapped, now=NOW, idempotency_header=None), Problems)
    assert wrapped_accepted is accepted
    envelope = Draft202012Validator(ConversionEnvelope.model_json_schema(), format_checker=FormatChecker())
    assert envelope.is_valid(wrapped) is (model_accepts and schema_accepts)


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(document)
    operation_ids = [op.get("operationId") for item in document["paths"].values() for op in item.values()]
    assert None not in operation_ids and len(set(operation_ids)) == len(operation_ids)


# Operations anyone may call. A new operation without credentials must be added here on purpose; if it does
# take credentials, teach multibuzz.http.openapi._credentials its dependency.
PUBLIC_PREFIXES = (
    "/api/v1/auth/",
    "/api/health-lite",
    "/r/",
    "/webhooks/",
    "/api/v1/integrations/shopify/callback",  # Shopify's query HMAC and our signed state are the credential
)


def test_every_operation_declares_its_credentials(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            secured = bool(operation.get("security"))
            assert secured or path.startswith(PUBLIC_PREFIXES), f"{method.upper()} {path} declares no credential"
            if secured:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
