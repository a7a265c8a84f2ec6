from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from multibuzz.domain.coupons import (
    AMBIGUOUS,
    CAPACITY_FACTOR,
    build_spec,
    check_capacity,
    generate_unique,
    normalize_code,
    validate_code,
)
from multibuzz.errors import InvalidInputError


def test_charsets_and_ambiguous_characters() -> None:
    assert build_spec(prefix="", length=4, charset="digits", exclude_ambiguous=False).alphabet == "0123456789"
    assert build_spec(prefix="", length=4, charset="digits", exclude_ambiguous=True).alphabet == "23456789"
    alnum = build_spec(prefix="", length=4, charset="alnum", exclude_ambiguous=True).alphabet
    assert not set(alnum) & AMBIGUOUS and len(alnum) == 36 - 4  # 0 O 1 I
    lower = build_spec(prefix="", length=4, charset="lower", exclude_ambiguous=True).alphabet
    assert "l" not in lower and "o" not in lower


def test_custom_charset_is_deduplicated_case_insensitively() -> None:
    spec = build_spec(prefix="X", length=3, charset="custom", custom_charset="aAbBc", exclude_ambiguous=False)
    assert spec.alphabet == "abc" and spec.space == 27
    with pytest.raises(InvalidInputError, match="at least 2 distinct"):
        build_spec(prefix="", length=3, charset="custom", custom_charset="aA", exclude_ambiguous=False)
    with pytest.raises(InvalidInputError, match="custom_charset is required"):
        build_spec(prefix="", length=3, charset="custom", exclude_ambiguous=False)


@pytest.mark.parametrize("prefix", ["SUMMER 24", "no/slash", "ümlaut", "a%b"])
def test_prefix_with_illegal_characters_says_which(prefix: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        build_spec(prefix=prefix, length=6, charset="upper", exclude_ambiguous=True)
    assert info.value.field == "prefix"
    assert "may only contain" in info.value.message


def test_capacity_refuses_with_a_reason_and_a_suggestion() -> None:
    spec = build_spec(prefix="", length=2, charset="digits", exclude_ambiguous=False)  # 100 codes
    check_capacity(spec, 10)  # 10 * 10 <= 100
    with pytest.raises(InvalidInputError) as info:
        check_capacity(spec, 11)
    assert info.value.field == "length"
    assert "only 100 possible codes" in info.value.message and "length >= 3" in info.value.message
    with pytest.raises(InvalidInputError, match="already exist"):
        check_capacity(spec, 5, taken=6)


def test_generation_fills_the_request_and_is_bounded_when_the_space_is_full() -> None:
    spec = build_spec(prefix="GO-", length=2, charset="digits", exclude_ambiguous=False)
    codes = generate_unique(spec, 10, lambda keys: set())
    assert len(codes) == len(set(codes)) == 10
    assert all(code.startswith("GO-") and len(code) == 5 for code in codes)

    every_code_taken = generate_unique  # a lookup that reports everything taken must not loop forever
    with pytest.raises(InvalidInputError, match="could not find enough unused codes"):
        every_code_taken(spec, 3, lambda keys: set(keys))


def test_generation_skips_taken_codes_case_insensitively() -> None:
    spec = build_spec(prefix="", length=1, charset="custom", custom_charset="abcdefghij", exclude_ambiguous=False)
    taken = {"a", "b", "c", "d", "e"}
    seen: list[str] = []

    def existing(keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        seen.extend(keys)
        assert all(key == key.lower() for key in keys), "lookups use the normalised form"
        return taken & set(keys)

    codes = generate_unique(spec, 5, existing, choice=random.Random(7).choice)
    assert sorted(normalize_code(c) for c in codes) == ["f", "g", "h", "i", "j"]


def test_ten_thousand_codes_are_unique_and_capacity_factor_holds() -> None:
    spec = build_spec(prefix="BULK", length=6, charset="alnum", exclude_ambiguous=True)
    check_capacity(spec, 10_000)
    codes = generate_unique(spec, 10_000, lambda keys: set())
    assert len({normalize_code(c) for c in codes}) == 10_000
    assert spec.space >= 10_000 * CAPACITY_FACTOR


def test_validate_code() -> None:
    assert validate_code("  Summer-10 ") == "Summer-10"
    assert normalize_code("Summer-10") == "summer-10"
    for bad in ("", "   ", "has space", "x" * 65, "emoji🙂"):
        with pytest.raises(InvalidInputError):
            validate_code(bad)
