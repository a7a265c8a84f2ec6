"""Derived ids are stable across the faster encoder: the same text as base32 of the digest, translated."""

from __future__ import annotations

import base64
import hashlib

from multibuzz.ingest.ids import derived_id, digest

RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghjkmnpqrstvwxyz0123456789")


def reference(*parts: str) -> str:
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32encode(raw).decode().translate(RFC4648_TO_CROCKFORD)[:26]


def test_digest_matches_the_base32_definition() -> None:
    samples = [("acc_1", "event", str(n) * (n % 7)) for n in range(3000)] + [("", ""), ("ü", "日本", "\x00")]
    for parts in samples:
        assert digest(*parts) == reference(*parts)


def test_known_ids_do_not_change() -> None:
    assert (
        derived_id("evt", "acc_1", "event", "e-1") == "evt_hrcq8pzrjpct3sgt6v7paw7p7n"
    )  # minted by the previous encoder
