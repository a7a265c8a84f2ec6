from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.helpers import WebClient


@pytest.fixture
def web(gateway: str) -> Iterator[WebClient]:
    client = WebClient(gateway)
    yield client
    client.close()


@pytest.fixture
def web2(gateway: str) -> Iterator[WebClient]:
    client = WebClient(gateway)
    yield client
    client.close()
