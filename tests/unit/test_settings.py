from pathlib import Path

import pytest
from multibuzz.settings import Settings
from pydantic import ValidationError


def test_embedded_defaults_point_at_the_data_dir() -> None:
    settings = Settings(data_dir=Path("/tmp/x"))
    assert settings.resolved_database_url == "sqlite:////tmp/x/multibuzz.db"
    assert settings.resolved_queue_path == Path("/tmp/x/queue.db")
    assert settings.resolved_object_dir == Path("/tmp/x/objects")
    assert settings.base_url == "http://127.0.0.1:8000"


def test_env_prefix_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIBUZZ_PORT", "9001")
    monkeypatch.setenv("MULTIBUZZ_DATABASE_URL", "mysql+pymysql://u@h/db")
    settings = Settings()
    assert settings.port == 9001
    assert settings.resolved_database_url == "mysql+pymysql://u@h/db"


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(stage="prod")
    text = str(info.value)
    assert "MULTIBUZZ_JWT_SECRET" in text
    assert "MULTIBUZZ_ENCRYPTION_KEY" in text


def test_sqs_backend_needs_every_queue_url() -> None:
    with pytest.raises(ValidationError, match="MULTIBUZZ_CLICKS_QUEUE_URL"):
        Settings(queue_backend="sqs", ingest_queue_url="https://sqs/ingest.fifo")


def test_invalid_port_is_rejected_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)
