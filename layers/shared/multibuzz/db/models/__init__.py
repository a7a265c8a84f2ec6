"""All ORM models; importing this package registers every table on ``Base.metadata``."""

from multibuzz.db.models.tenancy import Account, ApiKey, Membership, User

__all__ = ["Account", "ApiKey", "Membership", "User"]
