"""The deploy-time migrator: migrates an empty database, bootstraps the first admin once, refuses bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from multibuzz.bootstrap import Container, use_container
from multibuzz.db.engine import make_engine
from multibuzz.db.migrate import current_heads
from multibuzz.runtime import migrator
from multibuzz.settings import Settings
from sqlalchemy import inspect, text


@pytest.fixture
def fresh_container(tmp_path: Path) -> Iterator[Container]:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    container = Container(Settings(stage="test", data_dir=tmp_path, database_url=url), engine=make_engine(url))
    use_container(container)
    yield container
    use_container(None)
    container.engine.dispose()


def test_default_event_migrates_an_empty_database(fresh_container: Container) -> None:
    result = migrator.lambda_handler({}, None)
    assert result["action"] == "migrate"
    assert result["heads"] == list(current_heads())
    tables = set(inspect(fresh_container.engine).get_table_names())
    assert {"accounts", "users", "api_keys", "alembic_version"} <= tables


def test_bootstrap_admin_creates_admin_account_and_key_once(fresh_container: Container) -> None:
    event = {"action": "bootstrap_admin", "email": " Ops@Example.com ", "account_name": "Acme Shop"}
    first = migrator.lambda_handler(event, None)
    assert first["admin_created"] is True
    assert first["admin_email"] == "ops@example.com"
    assert first["admin_password"] and first["api_key"].startswith("sk_live_")

    second = migrator.lambda_handler(event, None)
    assert second["admin_created"] is False
    assert second["admin_password"] is None and second["api_key"] is None
    assert second["account_id"] == first["account_id"]
    with fresh_container.engine.connect() as conn:
        assert conn.execute(text("select count(*) from users")).scalar() == 1
        assert conn.execute(text("select count(*) from api_keys")).scalar() == 1
        assert conn.execute(text("select is_platform_admin from users")).scalar()


def test_bootstrap_admin_can_reset_the_password(fresh_container: Container) -> None:
    first = migrator.lambda_handler({"action": "bootstrap_admin", "email": "ops@example.com"}, None)
    reset = migrator.lambda_handler(
        {"action": "bootstrap_admin", "email": "ops@example.com", "reset_password": True}, None
    )
    assert reset["admin_password"] and reset["admin_password"] != first["admin_password"]
    assert "api_key" in reset and reset["api_key"] is None  # no account named: no key


@pytest.mark.parametrize("event", [{"action": "drop_everything"}, {"action": "bootstrap_admin", "email": "nope"}])
def test_bad_events_are_refused(fresh_container: Container, event: dict[str, str]) -> None:
    with pytest.raises(migrator.MigratorError):
        migrator.lambda_handler(event, None)
