"""functions/api: the management and reporting API (FastAPI behind API Gateway, via Mangum)."""

from multibuzz.apps import create_api_app
from multibuzz.runtime.asgi import LazyAsgiHandler

lambda_handler = LazyAsgiHandler(create_api_app)
