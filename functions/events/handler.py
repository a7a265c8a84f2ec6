"""functions/events: the ingestion API. Authenticates, validates and enqueues.

Tracking hits (sessions, events, identify) never touch the database on the
request path; conversions read it to resolve the visitor and store the pending
conversion, then enqueue its attribution.
"""

from fastapi import FastAPI

from multibuzz.conversions.http import router as conversions_router
from multibuzz.ingest.app import create_ingest_app
from multibuzz.runtime.asgi import LazyAsgiHandler


def create_events_app() -> FastAPI:
    app = create_ingest_app()
    app.include_router(conversions_router)
    return app


lambda_handler = LazyAsgiHandler(create_events_app)
