"""functions/events: the ingestion API. Authenticates, validates and enqueues.

Tracking hits (sessions, events, identify) never touch the database on the
request path; conversions read it to resolve the visitor and store the pending
conversion, then enqueue its attribution.
"""

from multibuzz.apps import create_events_app
from multibuzz.runtime.asgi import LazyAsgiHandler

# The ingestion routes that SDKs call once per event are served without the ASGI stack (same endpoint
# functions; see multibuzz.runtime.direct); conversions and everything else go through FastAPI.
DIRECT_ROUTES = (
    "POST /api/v1/events",
    "POST /api/v1/event/{action}",
    "POST /api/v1/sessions",
    "POST /api/v1/identify",
    "GET /api/v1/validate",
)

lambda_handler = LazyAsgiHandler(create_events_app, direct=DIRECT_ROUTES, name="events")
