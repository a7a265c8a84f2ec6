"""All ORM models; importing this package registers every table on ``Base.metadata``."""

import multibuzz.db.models.influencer  # noqa: F401 - campaigns, influencers, coupons, links, clicks
from multibuzz.db.models.commerce import (
    AdAccount,
    DailyMetaMetrics,
    DailyShopifyMetrics,
    DailySummary,
    FactMetaDaily,
    FactOrder,
    Integration,
    IntegrationSecret,
    LatestKpis,
    MetaInsightRaw,
    Shop,
    ShopifyOrderRaw,
    ShopifyWebhookRaw,
    SyncCursor,
    SyncRun,
)
from multibuzz.db.models.conversions import AttributionCredit, Conversion, ModelFit
from multibuzz.db.models.exports import Export
from multibuzz.db.models.privacy import PrivacyRequest
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
    "AdAccount",
    "ApiKey",
    "AttributionCredit",
    "CommissionRule",
    "Conversion",
    "DailyMetaMetrics",
    "DailyShopifyMetrics",
    "DailySummary",
    "Event",
    "Export",
    "FactMetaDaily",
    "FactOrder",
    "Identity",
    "Integration",
    "IntegrationSecret",
    "Invitation",
    "LatestKpis",
    "LoginThrottle",
    "Membership",
    "MetaInsightRaw",
    "ModelFit",
    "PasswordReset",
    "PrivacyRequest",
    "ProcessedMessage",
    "RateBucket",
    "ReportBucket",
    "ReportRollup",
    "Shop",
    "ShopifyOrderRaw",
    "ShopifyWebhookRaw",
    "SyncCursor",
    "SyncRun",
    "User",
    "VisitSession",
    "Visitor",
]
