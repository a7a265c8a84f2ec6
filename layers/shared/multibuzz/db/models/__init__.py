"""All ORM models; importing this package registers every table on ``Base.metadata``."""

from multibuzz.db.models.conversions import AttributionCredit, Conversion, ModelFit
from multibuzz.db.models.tenancy import Account, ApiKey, Membership, User
from multibuzz.db.models.tracking import Event, Identity, ProcessedMessage, Visitor, VisitSession

__all__ = [
    "Account",
    "AttributionCredit",
    "Conversion",
    "ModelFit",
    "ApiKey",
    "Event",
    "Identity",
    "Membership",
    "ProcessedMessage",
    "User",
    "VisitSession",
    "Visitor",
]
