"""Coupon codes: validation, normalisation and bulk generation with a capacity check.

Rules
-----
* Codes are compared case-insensitively: ``code_normalized`` is the lower-cased code and the
  database holds UNIQUE(account_id, code_normalized). ``SUMMER10`` and ``summer10`` are one code.
* A code is 1-64 characters of ``A-Z a-z 0-9 _ -``; a prefix follows the same rule (0-32 chars).
* Charsets: ``upper`` (A-Z), ``lower`` (a-z), ``digits`` (0-9), ``alnum`` (A-Z 0-9; mixed case would
  add nothing since codes are case-insensitive), ``custom`` (the caller's characters, de-duplicated
  case-insensitively). ``exclude_ambiguous`` removes ``0 O o 1 I l``.
* ``length`` counts the random characters only (the prefix comes on top).
* Capacity: the code space ``|alphabet| ** length`` must be at least ``CAPACITY_FACTOR`` (10) times
  the codes that would then exist with that prefix (``taken + count``). Below that, random generation
  slows down with collisions, and the request is refused with a message that says which knob to turn
  — so generation never loops for long. With at most 10 % of the space in use, each candidate
  collides with probability <= 0.1 and ``MAX_ROUNDS`` rounds of re-drawing the collided ones fail
  with probability below 1e-10 per code.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from multibuzz.errors import InvalidInputError

Charset = Literal["upper", "lower", "digits", "alnum", "custom"]

CHARSETS: dict[str, str] = {
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "digits": "0123456789",
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
}
AMBIGUOUS = frozenset("0Oo1Il")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{0,32}$")
MAX_CODE_LENGTH = 64
MAX_RANDOM_LENGTH = 32
MAX_COUNT = 10_000
CAPACITY_FACTOR = 10
MAX_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class CodeSpec:
    prefix: str
    length: int
    alphabet: str  # distinct characters, case-insensitively distinct

    @property
    def space(self) -> int:
        return len(self.alphabet) ** self.length


def normalize_code(code: str) -> str:
    return code.strip().lower()


def validate_code(code: str, field: str = "code") -> str:
    """A code as entered (whitespace stripped), or a 422 that says what is wrong."""
    value = code.strip()
    if not value:
        raise InvalidInputError("code must not be empty", field=field)
    if len(value) > MAX_CODE_LENGTH:
        raise InvalidInputError(f"code must be at most {MAX_CODE_LENGTH} characters", field=field)
    if not CODE_RE.fullmatch(value):
        bad = sorted({c for c in value if not re.fullmatch(r"[A-Za-z0-9_-]", c)})
        raise InvalidInputError(
            f"code may only contain letters, digits, '_' and '-' (not {' '.join(repr(c) for c in bad)})", field=field
        )
    return value


def build_spec(
    *,
    prefix: str,
    length: int,
    charset: str,
    exclude_ambiguous: bool,
    custom_charset: str | None = None,
) -> CodeSpec:
    prefix = prefix.strip()
    if not PREFIX_RE.fullmatch(prefix):
        bad = sorted({c for c in prefix if not re.fullmatch(r"[A-Za-z0-9_-]", c)})
        if bad:
            listed = " ".join(repr(c) for c in bad)
            message = f"prefix may only contain letters, digits, '_' and '-' (not {listed})"
        else:
            message = "prefix must be at most 32 characters"
        raise InvalidInputError(message, field="prefix")
    if not 1 <= length <= MAX_RANDOM_LENGTH:
        raise InvalidInputError(f"length must be between 1 and {MAX_RANDOM_LENGTH}", field="length")
    if len(prefix) + length > MAX_CODE_LENGTH:
        raise InvalidInputError(f"prefix plus length must be at most {MAX_CODE_LENGTH} characters", field="length")
    if charset == "custom":
        if not custom_charset:
            raise InvalidInputError("custom_charset is required when charset is 'custom'", field="custom_charset")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", custom_charset):
            raise InvalidInputError(
                "custom_charset may only contain letters, digits, '_' and '-'", field="custom_charset"
            )
        source = custom_charset
    elif charset in CHARSETS:
        source = CHARSETS[charset]
    else:
        raise InvalidInputError(f"charset must be one of {', '.join([*CHARSETS, 'custom'])}", field="charset")
    seen: set[str] = set()
    alphabet = []
    for char in source:
        if exclude_ambiguous and char in AMBIGUOUS:
            continue
        if char.lower() in seen:
            continue
        seen.add(char.lower())
        alphabet.append(char)
    if len(alphabet) < 2:
        raise InvalidInputError(
            "the charset needs at least 2 distinct characters (case-insensitively, after removing ambiguous ones)",
            field="custom_charset" if charset == "custom" else "charset",
        )
    return CodeSpec(prefix=prefix, length=length, alphabet="".join(alphabet))


def check_capacity(spec: CodeSpec, count: int, taken: int = 0) -> None:
    """Refuse (422) a request the code space cannot comfortably satisfy."""
    if not 1 <= count <= MAX_COUNT:
        raise InvalidInputError(f"count must be between 1 and {MAX_COUNT}", field="count")
    needed = (taken + count) * CAPACITY_FACTOR
    if spec.space >= needed:
        return
    minimum = spec.length
    while len(spec.alphabet) ** minimum < needed and minimum < MAX_RANDOM_LENGTH:
        minimum += 1
    already = f" ({taken} codes with this prefix already exist)" if taken else ""
    raise InvalidInputError(
        f"length {spec.length} with a {len(spec.alphabet)}-character alphabet gives only {spec.space} possible codes, "
        f"too few for {count} new unique codes{already}; use length >= {minimum}, a larger charset or a new prefix",
        field="length",
    )


def random_code(spec: CodeSpec, choice: Callable[[str], str] = secrets.choice) -> str:
    return spec.prefix + "".join(choice(spec.alphabet) for _ in range(spec.length))


def generate_unique(
    spec: CodeSpec,
    count: int,
    existing: Callable[[Iterable[str]], set[str]],
    *,
    choice: Callable[[str], str] = secrets.choice,
    max_rounds: int = MAX_ROUNDS,
) -> list[str]:
    """``count`` distinct codes none of which ``existing`` reports as taken (normalised comparison).

    ``existing`` receives normalised candidates and returns those already in use. Bounded: after
    ``max_rounds`` rounds a 422 is raised instead of looping.
    """
    chosen: dict[str, str] = {}
    missing = count
    for _ in range(max_rounds):
        batch: dict[str, str] = {}
        want = min(missing + max(missing // 20, 8), missing * 2)
        for _ in range(4 * want + 100):  # bounded even if the space is nearly exhausted
            if len(batch) >= want:
                break
            code = random_code(spec, choice)
            key = normalize_code(code)
            if key not in chosen and key not in batch:
                batch[key] = code
        taken = existing(batch.keys())
        for key, code in batch.items():
            if key not in taken and len(chosen) < count:
                chosen[key] = code
        missing = count - len(chosen)
        if missing == 0:
            return list(chosen.values())
    raise InvalidInputError(
        "could not find enough unused codes; use a longer length, a larger charset or a new prefix", field="length"
    )
