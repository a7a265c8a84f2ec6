"""API-key authentication without a database round trip per request: a short-lived in-process cache.

``KeyCache.authenticate(plaintext, lookup)`` answers from memory when the key's digest was verified less
than ``ttl`` seconds ago, and otherwise calls ``lookup`` (``Tenancy.authenticate_key`` on a fresh session)
and remembers the principal. Only successful authentications are cached, keyed by the SHA-256 digest of
the key (the plaintext is never kept); a refused key goes to the database every time, as before.

How fast a change takes effect (the bound):
- in the process that makes the change (locally the api and events functions share one process): at once.
  Committing a session that changed or deleted an ``ApiKey`` or an ``Account`` (revoke, rotate, deactivate,
  settings such as ``require_signature`` or ``ip_privacy``) empties every cache of the process
  (``invalidate_all``, hooked on SQLAlchemy's ``after_commit``);
- in any other process or Lambda execution environment: within ``ttl`` seconds
  (``MULTIBUZZ_API_KEY_CACHE_SECONDS``, default 5; 0 turns the cache off). A rotated key's successor is new
  to every cache, so it works at once everywhere; the old one is refused within the same bound.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from multibuzz.auth.api_keys import digest_key
from multibuzz.services.context import KeyPrincipal

DEFAULT_TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000

_caches: weakref.WeakSet[KeyCache] = weakref.WeakSet()
_caches_lock = threading.Lock()


class KeyCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        *,
        now: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self._now = now
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, KeyPrincipal]] = {}
        with _caches_lock:
            _caches.add(self)
            install_invalidation()

    def authenticate(self, plaintext: str, lookup: Callable[[str], KeyPrincipal]) -> KeyPrincipal:
        """``plaintext``'s principal: cached when fresh, else from ``lookup`` (which raises when refused)."""
        if self.ttl <= 0:
            return lookup(plaintext)
        digest = digest_key(plaintext)
        now = self._now()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        principal = lookup(plaintext)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # bounded memory; a reset only costs lookups
        self._entries[digest] = (now + self.ttl, principal)
        return principal

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def invalidate_all() -> None:
    """Forget every cached principal of this process (a key or an account changed here)."""
    with _caches_lock:
        caches = list(_caches)
    for cache in caches:
        cache.clear()


# -- invalidation on commit -----------------------------------------------------------------------
_TOUCHED = "multibuzz_key_cache_touched"


def _after_flush(session: Any, _context: Any) -> None:
    from multibuzz.db.models.tenancy import Account, ApiKey

    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, ApiKey | Account):
            session.info[_TOUCHED] = True
            return


def _after_commit(session: Any) -> None:
    if session.info.pop(_TOUCHED, False):
        invalidate_all()


def _after_rollback(session: Any, *_: Any) -> None:
    session.info.pop(_TOUCHED, None)


def install_invalidation() -> None:
    """Hook the ORM once per process: a committed change to a key or an account empties the caches."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not event.contains(Session, "after_commit", _after_commit):  # once per process
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
