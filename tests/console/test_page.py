"""The console page in headless Chromium, as an operator uses it (Playwright on Debian's chromium):
step, page 2 of the pending list, sort descending, a search, "this page", send now (the counts move
to sent), pause, a refused move showing the engine's words, a reload keeping the selection, and the
page at 390 px wide; no script error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.test_session import SMALL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
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
            tab = browser.new_page(bypass_csp=True)  # the test waits on evaluated expressions
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and "409" not in m.text else None)
            tab.goto(url)
            tab.wait_for_selector("#autos tr")
            yield tab
            browser.close()
    finally:
        proc.kill()
        proc.wait()
    assert errors == []  # a refused move is a 409 the page shows: not an error


def pending_over(page: Any, n: int) -> None:
    page.wait_for_function(f"parseInt(document.getElementById('p-count').textContent.replace(/,/g, '')) > {n}")


def text_has(page: Any, element: str, text: str) -> None:
    page.wait_for_function(f"document.getElementById({element!r}).textContent.includes({text!r})")


def test_an_operator_works_the_pending_list(page: Any) -> None:
    assert page.inner_text("#status").startswith("paused")
    page.click("text=+1 h")
    text_has(page, "clock", "09:00")
    page.click("text=+1 h")
    text_has(page, "clock", "10:00")
    pending_over(page, 20)
    page.click("#p-pager button[data-page='2']")
    text_has(page, "p-count", "page 2 of")
    page.click("#p-sort")
    text_has(page, "p-sort", "▼")
    dues = page.locator("#p-rows tr td:nth-child(3)").all_inner_texts()
    assert dues == sorted(dues, reverse=True)
    first = page.locator("#p-rows tr td:nth-child(2)").first.inner_text()
    page.fill("#p-search", first[:6])
    page.click("#p-find")
    page.wait_for_function(f"[...document.querySelectorAll('#p-rows td:nth-child(2)')]"
                           f".every(td => td.textContent.includes({first[:6]!r}))")
    page.fill("#p-search", "")
    page.click("#p-find")
    page.wait_for_function("document.querySelectorAll('#p-rows input[data-entry]').length === 20")  # unsearched
    page.click("#p-menu")
    page.click("button[data-sel=page]")
    text_has(page, "p-selected", "20 selected")
    def cell(column: int) -> int:  # the welcome row of the automations table
        return int(page.locator(f"#autos tr:nth-child(1) td:nth-child({column})").inner_text().replace(",", ""))

    sent, pending = cell(4), cell(7)
    page.click("#p-send")
    text_has(page, "msg", "pending.send_now applied")
    page.wait_for_function(f"Number(document.querySelector('#autos tr:nth-child(1) td:nth-child(7)')"
                           f".textContent.replace(/,/g, '')) <= {pending - 20}")  # out of the list, to be sent
    page.wait_for_function("document.getElementById('p-selected').textContent === '0 selected'")  # spent
    page.click("text=+1 min")  # the dispatcher sends 2/s: a minute later they are all out
    page.wait_for_function(f"Number(document.querySelector('#autos tr:nth-child(1) td:nth-child(4)')"
                           f".textContent.replace(/,/g, '')) >= {sent + 20}")


def test_a_refused_move_and_a_reload_that_keeps_the_view(page: Any) -> None:
    page.click("text=+1 h")
    pending_over(page, 5)
    page.click("button[data-move=pause][data-auto=welcome]")
    text_has(page, "msg", "pause applied")
    page.wait_for_selector("button[data-move=resume][data-auto=welcome]")  # only a paused one's moves now
    assert page.locator("button[data-move=pause][data-auto=welcome]").count() == 0
    page.check("#p-rows tr:nth-child(2) input")
    page.check("#p-rows tr:nth-child(4) input")
    page.click("#p-sort")
    text_has(page, "p-sort", "▼")
    page.reload()
    page.wait_for_selector("#autos tr")
    text_has(page, "p-selected", "2 selected")
    text_has(page, "p-sort", "▼")
    page.click("#p-send")  # a paused automation sends nothing: the engine says so
    text_has(page, "msg", "Refused: welcome: pending.send_now: cannot send now while paused: resume it first")


def test_the_page_fits_a_phone(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("text=+1 h")
    pending_over(page, 5)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 2, f"the page scrolls sideways at 390 px: {width} px wide"
    assert page.locator("#p-send").is_visible()
