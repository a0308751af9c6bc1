"""A real headless Chromium (Debian's, driven by Playwright) for the console and terminal tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("YINGYAN_CHROMIUM", "/usr/bin/chromium")
# As root, in a sandbox with no network: no sandbox, no GPU, nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
ARTIFACTS = Path(os.environ.get("YINGYAN_ARTIFACTS", Path(__file__).resolve().parents[2] / "runs" / "test-artifacts"))


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A launched Chromium; skips where it is not installed (fails in CI, which must have it)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must have Debian's chromium (scripts/setup.sh installs it)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium; or set YINGYAN_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
