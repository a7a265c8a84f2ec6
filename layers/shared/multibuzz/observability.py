"""Logger (structured JSON, Powertools) shared by every function. Nothing secret is logged.

Every line of a request carries its ``correlation_id`` (the API Gateway request id, or the one that came
with the queued message): see multibuzz.telemetry.correlation.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger

from multibuzz.telemetry.correlation import CorrelationFilter


@cache
def get_logger(service: str = "multibuzz") -> Logger:
    logger = Logger(service=service)
    logger.addFilter(CorrelationFilter())
    return logger
