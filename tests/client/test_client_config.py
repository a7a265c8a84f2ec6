"""configure(): arguments or MULTIBUZZ_* variables; a malformed setting fails at configure time."""

from __future__ import annotations

import logging

import multibuzz_client as multibuzz
import pytest
from multibuzz_client import Client, ConfigurationError

from tests.client.conftest import KEY


def test_arguments_configure_the_default_client() -> None:
    client = multibuzz.configure(api_key=KEY, api_url="https://track.example.com/", timeout=2, debug=True)
    assert multibuzz.get_client() is client
    assert client.config.base == "https://track.example.com/api/v1"
    assert (client.config.timeout, client.config.debug, client.config.enabled) == (2, True, True)


def test_the_environment_configures_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIBUZZ_API_KEY", KEY)
    monkeypatch.setenv("MULTIBUZZ_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MULTIBUZZ_TIMEOUT", "1.5")
    monkeypatch.setenv("MULTIBUZZ_SIGNING_SECRET", "whsec_x")
    monkeypatch.setenv("MULTIBUZZ_SYNC", "true")
    config = multibuzz.configure().config
    assert (config.api_key, config.api_url, config.timeout, config.signing_secret, config.sync) == (
        KEY,
        "http://127.0.0.1:9",
        1.5,
        "whsec_x",
        True,
    )
    assert multibuzz.configure(api_url="http://127.0.0.1:10").config.api_url == "http://127.0.0.1:10", "arguments win"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key": "sk_live_short"}, "api_key is malformed"),
        ({"api_key": "pk_live_" + "a" * 40}, "api_key is malformed"),
        ({"api_key": ""}, "api_key is required"),
        ({"api_url": "track.example.com"}, "api_url must be an http(s) URL"),
        ({"api_url": "ftp://track.example.com"}, "api_url must be an http(s) URL"),
        ({"timeout": 0}, "timeout"),
        ({"batch_size": 1001}, "batch_size must be between 1 and 1000"),
        ({"senders": 0}, "senders must be between 1 and 16"),
        ({"excluded_paths": ["admin"]}, "excluded_paths must start with /"),
        ({"cookie_domain": "bad domain"}, "cookie_domain"),
        ({"funnel_detector": "not callable"}, "funnel_detector must be callable"),
        ({"colour": "blue"}, "unknown option(s): colour"),
    ],
)
def test_a_malformed_setting_is_a_clear_error_at_configure_time(
    options: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULTIBUZZ_API_KEY", raising=False)
    arguments = {"api_key": KEY, "api_url": "http://127.0.0.1:9", **options}
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        multibuzz.configure(**arguments)


def test_disabled_needs_no_key_and_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MULTIBUZZ_API_KEY", raising=False)
    monkeypatch.delenv("MULTIBUZZ_API_URL", raising=False)
    client = Client(enabled=False)
    assert client.track("signup", visitor_id="v" * 64) is None
    assert client.stats()["queued"] == 0


def test_calls_before_configure_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "multibuzz_client"):
        assert multibuzz.track("signup", {"plan": "pro"}, visitor_id="v" * 64) is None
    assert "before multibuzz_client.configure()" in caplog.text
