"""functions/web: the web app's pages (server-rendered HTML behind API Gateway, via Mangum)."""

from multibuzz.runtime.asgi import LazyAsgiHandler
from multibuzz.web.app import create_web_app

lambda_handler = LazyAsgiHandler(create_web_app)
