"""The ingestion API application (mbuzz v1 wire format)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from multibuzz.http.app import create_app
from multibuzz.http.deps import KeyAuth

router = APIRouter(prefix="/api/v1", tags=["ingestion"])


@router.get("/validate", summary="Check an API key")
def validate_key(principal: KeyAuth) -> dict[str, object]:
    return {"valid": True, "account_id": principal.account_id, "environment": principal.environment}


def ingest_routers() -> list[APIRouter]:
    return [router]


def create_ingest_app() -> FastAPI:
    app = create_app("Multibuzz ingestion")
    for r in ingest_routers():
        app.include_router(r)
    return app
