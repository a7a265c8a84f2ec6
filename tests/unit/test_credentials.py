from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multibuzz.auth import api_keys, passwords, signatures, tokens
from multibuzz.auth.crypto import SecretBox
from multibuzz.clock import FixedClock
from multibuzz.ids import SequentialIds, UlidGenerator

KEY = "a-test-signing-key-of-at-least-32-bytes"


def test_ids_are_prefixed_time_ordered_and_unique() -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    gen = UlidGenerator(clock)
    first = gen.new("evt")
    clock.advance(milliseconds=5)
    second = gen.new("evt")
    assert first.startswith("evt_") and len(first) == 30
    assert first < second
    assert len({gen.new("evt") for _ in range(1000)}) == 1000
    assert SequentialIds().new("acc") == "acc_" + "1".zfill(26)


def test_api_keys_have_the_wire_prefix_and_are_stored_as_digests() -> None:
    key = api_keys.generate_key("live")
    assert key.plaintext.startswith("sk_live_")
    assert api_keys.looks_like_key(key.plaintext)
    assert key.digest == api_keys.digest_key(key.plaintext)
    assert key.plaintext not in key.digest and len(key.digest) == 64
    assert key.hint == f"sk_live_…{key.plaintext[-4:]}"
    assert api_keys.generate_key("test").plaintext.startswith("sk_test_")
    with pytest.raises(ValueError, match="environment"):
        api_keys.generate_key("prod")
    with pytest.raises(ValueError, match="sk_live_"):
        api_keys.key_from_plaintext("not-a-key")


def test_signature_verification() -> None:
    body = b'{"events": []}'
    sig = signatures.sign("whsec_abc", body)
    assert signatures.verify("whsec_abc", body, sig)
    assert signatures.verify("whsec_abc", body, f"sha256={sig.upper()}")
    assert not signatures.verify("whsec_abc", body + b" ", sig)
    assert not signatures.verify("whsec_other", body, sig)
    assert not signatures.verify("whsec_abc", body, None)


def test_password_hashing() -> None:
    hashed = passwords.hash_password("s3cret-enough")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password("s3cret-enough", hashed)
    assert not passwords.verify_password("wrong", hashed)
    assert not passwords.verify_password("anything", None)


def test_access_tokens_expire_by_the_injected_clock() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    token = tokens.issue_access_token(
        user_id="usr_1", account_id="acc_1", secret=KEY, now=now, expires_in=timedelta(minutes=30)
    )
    claims = tokens.decode_access_token(token, secret=KEY, now=now + timedelta(minutes=29))
    assert (claims.user_id, claims.account_id) == ("usr_1", "acc_1")
    with pytest.raises(tokens.InvalidTokenError, match="expired"):
        tokens.decode_access_token(token, secret=KEY, now=now + timedelta(minutes=31))
    with pytest.raises(tokens.InvalidTokenError):
        tokens.decode_access_token(token, secret="another-secret-that-is-long-enough-32b", now=now)


def test_secret_box_round_trip_and_wrong_key() -> None:
    box = SecretBox("key-one")
    token = box.encrypt("whsec_x")
    assert "whsec_x" not in token
    assert box.decrypt(token) == "whsec_x"
    with pytest.raises(ValueError, match="decrypted"):
        SecretBox("key-two").decrypt(token)


def test_ulid_text_sorts_like_time_and_keeps_80_random_bits() -> None:
    from multibuzz.ids import encode_ulid, random_bytes

    earlier = encode_ulid(1_000, b"\xff" * 10)
    later = encode_ulid(1_001, b"\x00" * 10)
    assert earlier < later
    assert len(earlier) == 26
    assert set(earlier) <= set("0123456789abcdefghjkmnpqrstvwxyz")
    chunks = {random_bytes(10) for _ in range(2_000)}  # spans several refills of the pool
    assert len(chunks) == 2_000


@given(millis=st.integers(min_value=0, max_value=2**48 - 1), randomness=st.binary(min_size=10, max_size=10))
def test_ulid_encoding_is_rfc4648_base32_in_crockford_digits(millis: int, randomness: bytes) -> None:
    """The table-driven encoder gives exactly the text of the first version (base64.b32encode + translate)."""
    import base64

    from multibuzz.ids import encode_ulid

    rfc = base64.b32encode(millis.to_bytes(6, "big") + randomness)[:26]
    expected = rfc.translate(bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"))
    assert encode_ulid(millis, randomness) == expected.decode()
    assert encode_ulid(millis, int.from_bytes(randomness, "big")) == expected.decode()
    assert encode_ulid(millis ^ 1, randomness)[:9] == expected.decode()[:9], "the cached head follows the time"


def test_a_forked_child_never_reuses_the_parents_random_bytes() -> None:
    import os

    from multibuzz.ids import random_bytes

    random_bytes(10)  # the pool now holds bytes the parent will hand out next
    UlidGenerator().new("x")  # and the id pool random ints
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(write_end, random_bytes(16) + UlidGenerator().new("x").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 64)
    os.close(read_end)
    os.close(write_end)
    assert len(child) == 16 + 28 and child[:16] != random_bytes(16)
    assert child[16:].decode()[-16:] != UlidGenerator().new("x")[-16:], "ids draw fresh random bits too"
