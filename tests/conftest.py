"""Shared fixtures. The whole suite runs twice: on SQLite and on MariaDB (MULTIBUZZ_TEST_DATABASE_URL).

- ``engine``: a migrated database (Alembic, not create_all), once per session;
- ``db_clean``: empties every table before a test;
- ``container``: the dependency container the handlers see, pointing at that database
  and a per-test local queue/object folder;
- ``gateway``: the real local gateway (uvicorn) on a free loopback port;
- ``api``: an httpx client against it, plus small helpers to act as users.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from multibuzz.bootstrap import Container, use_container
from multibuzz.db.base import Base
from multibuzz.db.engine import make_engine
from multibuzz.db.migrate import upgrade
from multibuzz.settings import Settings
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare_mysql(url: str) -> None:
    """Create the database if needed and drop every table, so migrations start from nothing."""
    parsed = make_url(url)
    server = make_engine(parsed.set(database="").render_as_string(hide_password=False))
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{parsed.database}` CHARACTER SET utf8mb4"))
    server.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for (name,) in conn.execute(text("SHOW TABLES")).all():
            conn.execute(text(f"DROP TABLE `{name}`"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("MULTIBUZZ_TEST_DATABASE_URL", "")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if make_url(url).get_backend_name() == "mysql":
        _prepare_mysql(url)
    return url


@pytest.fixture(scope="session")
def is_mysql(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "mysql"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=10)
    upgrade(eng)
    yield eng
    eng.dispose()


def _clean(engine: Engine) -> None:
    with engine.begin() as conn:
        mysql = engine.dialect.name in ("mysql", "mariadb")
        if mysql:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if mysql:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture
def db_clean(engine: Engine) -> Engine:
    _clean(engine)
    return engine


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stage": "test",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "queue_backoff_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def container(tmp_path: Path, database_url: str, db_clean: Engine) -> Iterator[Container]:
    c = Container(make_settings(tmp_path, database_url), engine=db_clean)
    use_container(c)
    yield c
    use_container(None)
    c.local_queue.close()


@pytest.fixture(scope="session")
def gateway() -> Iterator[str]:
    import uvicorn

    from infra.local.gateway import LocalGateway

    port = free_port()
    config = uvicorn.Config(LocalGateway(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("local gateway did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Tenant:
    account_id: str
    owner_email: str
    owner_token: str
    api_key: str


class Api:
    """An httpx client on the gateway plus helpers that act through the public API."""

    PASSWORD = "correct horse battery staple"

    def __init__(self, client: httpx.Client, container: Container) -> None:
        self.client = client
        self.container = container

    def auth(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def admin_token(self) -> str:
        from multibuzz.services.tenancy import Tenancy

        with self.container.session() as session:
            tenancy = Tenancy(session, self.container.clock, self.container.ids, self.container.secret_box)
            from multibuzz.db.models import User
            from sqlalchemy import select

            if session.scalar(select(User).where(User.email == "root@multibuzz.test")) is None:
                tenancy.create_user(email="root@multibuzz.test", password=self.PASSWORD, is_platform_admin=True)
                session.commit()
        return self.login("root@multibuzz.test")

    def login(self, email: str, account_id: str | None = None) -> str:
        body: dict[str, Any] = {"email": email, "password": self.PASSWORD}
        if account_id:
            body["account_id"] = account_id
        response = self.client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def tenant(self, name: str) -> Tenant:
        """A new account with an owner (invited by the platform admin, accepted) and an ingest+read API key."""
        admin = self.admin_token()
        created = self.client.post("/api/v1/accounts", json={"name": name}, headers=self.auth(admin))
        assert created.status_code == 201, created.text
        account_id = created.json()["id"]
        admin_in_account = self.login("root@multibuzz.test", account_id)
        email = f"owner@{created.json()['slug']}.test"
        self.invite_and_accept(admin_in_account, {"email": email, "role": "owner"})
        owner_token = self.login(email, account_id)
        key = self.client.post(
            "/api/v1/api-keys", json={"name": "server", "scopes": ["ingest", "read"]}, headers=self.auth(owner_token)
        )
        assert key.status_code == 201, key.text
        return Tenant(account_id, email, owner_token, key.json()["key"])

    def invite_and_accept(self, inviter_token: str, body: dict[str, Any], path: str = "/api/v1/members") -> str:
        """Invite (as ``inviter_token``) and accept as the invitee, setting ``PASSWORD``; returns the user id."""
        invited = self.client.post(path, json=body, headers=self.auth(inviter_token))
        assert invited.status_code == 201, invited.text
        return self.accept(str(invited.json()["token"]))

    def accept(self, invitation_token: str, token: str | None = None) -> str:
        """Accept an invitation: as a new user (password ``PASSWORD``), or as the user of ``token``."""
        body: dict[str, Any] = {"token": invitation_token}
        if token is None:
            body["password"] = self.PASSWORD
        accepted = self.client.post("/api/v1/invitations/accept", json=body, headers=self.auth(token) if token else {})
        assert accepted.status_code == 201, accepted.text
        return str(accepted.json()["user_id"])

    def _ensure_influencer(self, account_id: str, influencer_id: str) -> None:
        """Tests name influencers by id (``inf_1``); one the account lacks is created with that id."""
        from multibuzz.db.models.influencer import Influencer

        with self.container.session() as session:
            if session.get(Influencer, influencer_id) is None:
                now = self.container.clock.now()
                session.add(
                    Influencer(
                        id=influencer_id,
                        account_id=account_id,
                        name=influencer_id,
                        handle=influencer_id.replace("_", "-"),
                        status="active",
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.commit()

    def add_member(self, tenant: Tenant, email: str, role: str, **extra: Any) -> str:
        """Invite ``email`` into the tenant, accept as that (new) user, and return their logged-in token."""
        if role == "influencer" and extra.get("influencer_id"):
            self._ensure_influencer(tenant.account_id, str(extra["influencer_id"]))
        self.invite_and_accept(tenant.owner_token, {"email": email, "role": role, **extra})
        return self.login(email, tenant.account_id)


@pytest.fixture
def api(gateway: str, container: Container) -> Iterator[Api]:
    with httpx.Client(base_url=gateway, timeout=30) as client:
        yield Api(client, container)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode: boto3 talks real HTTP to it (presigned URLs work end to end)."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
