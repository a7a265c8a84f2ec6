"""functions/events: the ingestion API. Authenticates, validates and enqueues.

Tracking hits (sessions, events, identify) never touch the database on the
request path; conversions read it to resolve the visitor and store the pending
conversion, then enqueue its attribution.
"""

from multibuzz.apps import create_events_app
from multibuzz.runtime.asgi import LazyAsgiHandler

lambda_handler = LazyAsgiHandler(create_events_app)
