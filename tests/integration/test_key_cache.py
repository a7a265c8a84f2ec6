"""API-key authentication through the key cache: no database round trip while fresh, and the revocation bound.

A change made by another process (another Lambda environment) is simulated by a plain SQL UPDATE, which
the ORM of this process never sees; a change made through the ORM here empties the caches at commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from multibuzz.auth.key_cache import KeyCache
from multibuzz.bootstrap import Container
from multibuzz.db.models import Account, ApiKey
from multibuzz.errors import AuthenticationError
from multibuzz.http.deps import authenticate_api_key
from multibuzz.services.context import Actor, KeyPrincipal
from multibuzz.services.tenancy import Tenancy
from sqlalchemy import event, update

TTL = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def seeded(container: Container) -> tuple[str, str, str]:
    """An account with one live key: (account id, key id, plaintext)."""
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account = tenancy.create_account(None, "Cached")
        actor = Actor("usr_admin", "admin@x.test", True, account.id, None)
        key, plaintext, _ = tenancy.create_api_key(actor, account.id, name="server")
        session.commit()
        return account.id, key.id, plaintext


@pytest.fixture
def clock(container: Container) -> FakeClock:
    fake = FakeClock()
    container.__dict__["key_cache"] = KeyCache(TTL, now=fake)
    return fake


@pytest.fixture
def statements(container: Container) -> Iterator[Callable[[], int]]:
    """How many SQL statements the engine has executed so far."""
    count = [0]

    def seen(*_: object) -> None:
        count[0] += 1

    event.listen(container.engine, "before_cursor_execute", seen)
    yield lambda: count[0]
    event.remove(container.engine, "before_cursor_execute", seen)


def test_a_fresh_key_is_answered_without_the_database(
    container: Container, clock: FakeClock, statements: Callable[[], int]
) -> None:
    account_id, key_id, plaintext = seeded(container)
    first = authenticate_api_key(container, plaintext)
    before = statements()
    again = [authenticate_api_key(container, plaintext) for _ in range(50)]
    assert statements() == before, "cache hits run no SQL"
    assert all(p == first for p in again)
    assert isinstance(first, KeyPrincipal) and (first.account_id, first.api_key_id) == (account_id, key_id)
    clock.now += TTL
    authenticate_api_key(container, plaintext)
    assert statements() > before, "an expired entry is checked against the database again"


def test_unknown_keys_are_never_cached(container: Container, clock: FakeClock) -> None:
    seeded(container)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            authenticate_api_key(container, "sk_live_" + "x" * 40)
    assert len(container.key_cache) == 0


def test_revocation_elsewhere_takes_effect_within_the_ttl(container: Container, clock: FakeClock) -> None:
    _, key_id, plaintext = seeded(container)
    authenticate_api_key(container, plaintext)
    with container.engine.begin() as conn:  # another instance revokes it: this process's ORM never hears
        conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=container.clock.now()))
    clock.now += TTL - 0.001
    assert authenticate_api_key(container, plaintext).api_key_id == key_id, "stale at most TTL seconds"
    clock.now += 0.001
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate_api_key(container, plaintext)


def test_deactivation_elsewhere_takes_effect_within_the_ttl(container: Container, clock: FakeClock) -> None:
    account_id, _, plaintext = seeded(container)
    authenticate_api_key(container, plaintext)
    with container.engine.begin() as conn:
        conn.execute(update(Account).where(Account.id == account_id).values(status="deactivated"))
    clock.now += TTL
    with pytest.raises(AuthenticationError, match="deactivated"):
        authenticate_api_key(container, plaintext)


def test_changes_committed_in_this_process_take_effect_at_once(container: Container, clock: FakeClock) -> None:
    account_id, key_id, plaintext = seeded(container)
    actor = Actor("usr_admin", "admin@x.test", True, account_id, None)
    assert authenticate_api_key(container, plaintext).account_settings.get("require_signature") is None
    with container.session() as session:
        Tenancy(session, container.clock, container.ids, container.secret_box).update_account_settings(
            actor, account_id, {"require_signature": True}
        )
        session.commit()
    assert authenticate_api_key(container, plaintext).account_settings["require_signature"] is True

    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        _, new_plaintext, _ = tenancy.rotate_api_key(actor, account_id, key_id)
        session.commit()
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate_api_key(container, plaintext)
    assert authenticate_api_key(container, new_plaintext).account_id == account_id


def test_a_rolled_back_change_keeps_the_cache(container: Container, clock: FakeClock) -> None:
    _, key_id, plaintext = seeded(container)
    authenticate_api_key(container, plaintext)
    with container.session() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        key.revoked_at = container.clock.now()
        session.flush()
        session.rollback()
    assert len(container.key_cache) == 1
    assert authenticate_api_key(container, plaintext).api_key_id == key_id


def test_ttl_zero_asks_the_database_every_time(container: Container, statements: Callable[[], int]) -> None:
    container.__dict__["key_cache"] = KeyCache(0)
    _, _, plaintext = seeded(container)
    authenticate_api_key(container, plaintext)
    before = statements()
    authenticate_api_key(container, plaintext)
    assert statements() > before
