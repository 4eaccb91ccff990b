"""The console page in headless Chromium, as an operator uses it: step the clock, tick rows of the
pending list, send them now, pause an automation and see the engine's refusal of a second pause; a
reload keeps the charts (the stream's snapshot) and no script error is raised."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.console.test_session import SMALL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def test_an_operator_works_the_pending_list_in_the_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "console", str(path), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("dripsim console: ")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(bypass_csp=True)  # the test waits by evaluated expressions
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url)
            page.wait_for_selector("#autos tr")
            assert page.inner_text("#status").startswith("paused")
            page.click("text=+1 h")
            page.wait_for_function("document.querySelectorAll('#p-rows input[data-entry]').length > 3")
            total = page.inner_text("#p-count")
            page.check("#p-rows tr:nth-child(1) input")
            page.check("#p-rows tr:nth-child(3) input")
            assert page.inner_text("#p-selected") == "2 selected"
            page.click("#p-send")
            page.wait_for_function("document.getElementById('msg').textContent.includes('pending.send_now applied')")
            page.wait_for_function(f"document.getElementById('p-count').textContent !== {total!r}")
            assert page.inner_text("#p-selected") == "0 selected"
            page.click("#p-sort")
            page.wait_for_function("document.getElementById('p-sort').textContent.includes('▼')")
            page.click("button[data-move=pause][data-auto=order]")
            page.wait_for_function("document.getElementById('msg').textContent.includes('pause applied')")
            page.wait_for_selector("button[data-move=resume][data-auto=order]")  # only the moves of `paused`
            assert page.locator("button[data-move=pause][data-auto=order]").count() == 0
            page.click("#tabs button[data-tab=sent]")
            page.wait_for_function("document.querySelectorAll('#s-rows tr').length > 0")
            page.reload()
            page.wait_for_selector("#autos tr")
            page.wait_for_function("document.getElementById('clock').textContent.includes('09:00')")
            browser.close()
    finally:
        proc.kill()
        proc.wait()
    assert errors == []
