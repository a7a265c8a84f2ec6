"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, one browser per test session.

Each test gets a fresh browser context (its own cookies) on the real local stack (the ``gateway`` fixture).
``make test`` installs Chromium when it is missing (scripts/ensure-chromium.sh).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("MULTIBUZZ_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "layers/shared/multibuzz/web/static/vendor/axe.min.js"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(is_mysql: bool) -> Path:
    folder = Path(os.environ.get("MULTIBUZZ_SCREENSHOTS", ROOT / ".multibuzz" / "screenshots")) / (
        "mariadb" if is_mysql else "sqlite"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Tab:
    """A page of its own browser context, recording console errors and uncaught exceptions."""

    def __init__(self, browser: Any, base_url: str, shots: Path) -> None:
        # bypass_csp: only so axe-core (a test tool) can be injected; the pages' own scripts obey the CSP.
        self.context = browser.new_context(base_url=base_url, bypass_csp=True, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.shots = shots
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def close(self) -> None:
        self.context.close()

    def goto(self, path: str) -> int:
        self.errors.clear()
        response = self.page.goto(path)
        assert response is not None
        self.page.wait_for_load_state("load")
        return int(response.status)

    def login(self, email: str, password: str = "correct horse battery staple") -> None:
        self.goto("/app/login")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("load")

    def axe_violations(self) -> list[str]:
        """Serious and critical axe-core violations of the current page (WCAG 2 A/AA + best practice)."""
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
        )
        return [str(v) for v in result]

    def check(self, name: str) -> None:
        """The page as it stands: no console errors, no serious/critical axe violation, a screenshot."""
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        assert not self.errors, f"{name}: console errors {self.errors}"
        violations = self.axe_violations()
        assert not violations, f"{name}: accessibility violations {violations}"


@pytest.fixture
def tab(browser: Any, gateway: str, screenshots: Path) -> Iterator[Tab]:
    opened = Tab(browser, gateway, screenshots)
    yield opened
    opened.close()


@pytest.fixture
def tab2(browser: Any, gateway: str, screenshots: Path) -> Iterator[Tab]:
    opened = Tab(browser, gateway, screenshots)
    yield opened
    opened.close()
