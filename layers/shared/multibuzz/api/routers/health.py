from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from multibuzz.http.deps import ContainerDep
from multibuzz.observability import get_logger

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    db: str = Field(description="ok, or error with a reason")
    reason: str | None = None


@router.get(
    "/api/health-lite",
    summary="Database round trip",
    response_model=None,
    responses={200: {"model": HealthOut}, 503: {"model": HealthOut, "description": "the database is unreachable"}},
)
def health_lite(container: ContainerDep) -> JSONResponse:
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
    except (SQLAlchemyError, OSError) as exc:
        get_logger().warning("health check failed", extra={"error_type": type(exc).__name__})
        return JSONResponse({"db": "error", "reason": f"database unreachable ({type(exc).__name__})"}, 503)
    return JSONResponse({"db": "ok"})
