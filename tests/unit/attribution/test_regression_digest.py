"""Pinned outputs: a sha256 over every model's credits and revenue credits for 2,000 seeded conversions.

The digests were computed with the original Fraction-based engine (kept as ``_reference_rounding``) before any
optimisation; a faster engine must reproduce them bit for bit (Decimal values *and* exponents, fallbacks, order,
error messages of the rounding primitives). If a digest changes, the outputs changed: find out why before
touching the constant.
"""

from __future__ import annotations

from multibuzz.domain.attribution import allocate_revenue, attribute, quantize_credits, revenue_credits

from . import _reference_rounding as reference
from ._regression_cases import cases, digest, engine_outputs, rounding_cases, rounding_outputs

ENGINE_DIGEST = "c1ee4d73af5f858a777cb04640325257d14325dd417c480704c25a5261796c15"
ROUNDING_DIGEST = "76b0f76660641c570e3432a12417ec7b3d71d2f74f00a005d2e68a458d107cb5"


def test_engine_outputs_are_pinned() -> None:
    assert digest(engine_outputs(case, attribute, revenue_credits) for case in cases()) == ENGINE_DIGEST


def test_rounding_outputs_are_pinned() -> None:
    outputs = (rounding_outputs(*args, quantize_credits, allocate_revenue) for args in rounding_cases())
    assert digest(outputs) == ROUNDING_DIGEST


def test_reference_copy_still_gives_the_pinned_digests() -> None:
    """The oracle itself must not drift (it is what the property tests compare against)."""
    assert digest(engine_outputs(c, reference.attribute, reference.revenue_credits) for c in cases()) == ENGINE_DIGEST
    outputs = (
        rounding_outputs(*args, reference.quantize_credits, reference.allocate_revenue) for args in rounding_cases()
    )
    assert digest(outputs) == ROUNDING_DIGEST
