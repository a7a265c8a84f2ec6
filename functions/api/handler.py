"""functions/api: the management and reporting API (FastAPI behind API Gateway, via Mangum)."""

from multibuzz.api.app import create_api_app
from multibuzz.runtime.asgi import LazyAsgiHandler

lambda_handler = LazyAsgiHandler(create_api_app)
