"""The synthesized templates pass cfn-lint without errors (E rules); warnings are allowed."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint

from tests.infra.conftest import Synthesized


def test_templates_pass_cfn_lint_without_errors(synthesized: Synthesized, stage: str) -> None:
    text = synthesized.template_files[stage].read_text()
    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
