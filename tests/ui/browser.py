"""What the browser tests share: Debian's chromium through Playwright (no browser
download), axe-core injected from the vendored copy, and screenshots on request."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, Route

AXE = Path(__file__).parent / "axe" / "axe.min.js"
CHROMIUM = os.environ.get("CASESTREAM_CHROMIUM", "/usr/bin/chromium")
# `CASESTREAM_UI_SCREENSHOTS=docs/ui pytest tests/ui` refreshes the README's pictures.
SCREENSHOTS = os.environ.get("CASESTREAM_UI_SCREENSHOTS", "")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str:
    """Debian's chromium, which `.ci/run` installs; a red test when it is missing."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(
            f"no chromium at {CHROMIUM}: `apt-get install -y chromium` "
            "(.ci/run does it), or set CASESTREAM_CHROMIUM"
        )
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of impact serious or critical on the page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Page) -> None:
    violations = serious_violations(page)
    assert violations == [], f"{page.url}: {violations}"


def screenshot(page: Page, name: str, fallback: Path) -> None:
    """Into docs/ui/ when asked for (CASESTREAM_UI_SCREENSHOTS), else the test's tmp."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else fallback
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


class OnlyThisMachine:
    """A route handler: any request that would leave the machine is refused, and noted
    (the docs must not need one, nor tell a third party who reads them)."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()
