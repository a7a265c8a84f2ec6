"""functions/events: the ingestion API. Authenticates, validates and enqueues; never writes the database."""

from multibuzz.ingest.app import create_ingest_app
from multibuzz.runtime.asgi import LazyAsgiHandler

lambda_handler = LazyAsgiHandler(create_ingest_app)
