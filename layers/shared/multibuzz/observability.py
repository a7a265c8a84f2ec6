"""Logger (structured JSON, Powertools) shared by every function. Nothing secret is logged."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger


@cache
def get_logger(service: str = "multibuzz") -> Logger:
    return Logger(service=service)
