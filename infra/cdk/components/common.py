"""Small helpers shared by the components."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

_RETENTION: tuple[tuple[int, logs.RetentionDays], ...] = (
    (1, logs.RetentionDays.ONE_DAY),
    (3, logs.RetentionDays.THREE_DAYS),
    (7, logs.RetentionDays.ONE_WEEK),
    (14, logs.RetentionDays.TWO_WEEKS),
    (30, logs.RetentionDays.ONE_MONTH),
    (90, logs.RetentionDays.THREE_MONTHS),
    (180, logs.RetentionDays.SIX_MONTHS),
    (365, logs.RetentionDays.ONE_YEAR),
)


def retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least ``days`` days."""
    return next((value for limit, value in _RETENTION if limit >= days), _RETENTION[-1][1])


def camel(name: str) -> str:
    """``"model-refit"`` -> ``"ModelRefit"`` (construct ids)."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
