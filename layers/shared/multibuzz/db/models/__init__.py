"""All ORM models; importing this package registers every table on ``Base.metadata``."""

import multibuzz.db.models.influencer  # noqa: F401 - campaigns, influencers, coupons, links, clicks
from multibuzz.db.models.conversions import AttributionCredit, Conversion, ModelFit
from multibuzz.db.models.ratelimit import RateBucket
from multibuzz.db.models.reports import CommissionRule, ReportBucket, ReportRollup
from multibuzz.db.models.tenancy import (
    Account,
    ApiKey,
    Invitation,
    LoginThrottle,
    Membership,
    PasswordReset,
    User,
)
from multibuzz.db.models.tracking import Event, Identity, ProcessedMessage, Visitor, VisitSession

__all__ = [
    "Account",
    "ApiKey",
    "AttributionCredit",
    "CommissionRule",
    "Conversion",
    "Event",
    "Identity",
    "Invitation",
    "LoginThrottle",
    "Membership",
    "ModelFit",
    "PasswordReset",
    "ProcessedMessage",
    "RateBucket",
    "ReportBucket",
    "ReportRollup",
    "User",
    "VisitSession",
    "Visitor",
]
