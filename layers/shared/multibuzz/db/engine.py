"""Engine and session factories. One SQLAlchemy URL selects SQLite or MySQL/Aurora."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine

    kwargs: dict[str, Any] = {
        "echo": echo,
        "pool_pre_ping": True,
        "pool_recycle": 280,  # below Aurora/RDS Proxy idle limits
        "pool_size": pool_size,
        "max_overflow": pool_size,
    }
    if parsed.get_backend_name() == "mysql":
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        url = parsed.set(query=query).render_as_string(hide_password=False)
        kwargs["isolation_level"] = "READ COMMITTED"
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def url_from_secret(secret_string: str, host: str | None, database: str) -> str:
    """Build a MySQL URL from a Secrets Manager RDS secret (username/password/host/port)."""
    secret = json.loads(secret_string)
    user = quote_plus(secret["username"])
    password = quote_plus(secret["password"])
    target = host or secret["host"]
    port = secret.get("port", 3306)
    name = secret.get("dbname", database)
    return f"mysql+pymysql://{user}:{password}@{target}:{port}/{name}?charset=utf8mb4"
