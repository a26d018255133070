"""The live page in a real browser: the distribution's headless Chromium, driven by
Playwright from a worker thread (Playwright's own browsers are never downloaded).

Skipped, saying why, where Chromium or Playwright cannot be had (``.ci/run`` installs
Chromium where apt is at hand; ``JA_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from counters import Store
from engine.campaigns.model import AppealSpec
from engine.live import PublicCounters
from smpp.simulator.config import TvConfig
from smpp.simulator.tv import CallToAction
from tests.campaigns.test_flow import APPEAL, EXTRA, sim_config, wait_settled
from tests.engine.support import rig
from tests.live.support import serving_live

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - the skip below says so
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = (
    os.environ.get("JA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="no headless Chromium (apt-get install -y chromium) or no Playwright "
    "(pip install -e '.[test]'): the live page is not tried in a browser",
)

# Records every number the page shows, from the moment it is installed.
WATCH = """() => {
  window.seen = [];
  const count = document.getElementById("count");
  new MutationObserver(() => window.seen.push(count.textContent))
    .observe(count, {childList: true, characterData: true, subtree: true});
}"""
SHOWS = """(final) => {
  const count = document.getElementById("count");
  return count.dataset.count === String(final)
    && count.textContent.replace(/\\D/g, "") === String(final);
}"""
# Distinct colours and bright pixels of a PNG, decoded by the browser itself.
PIXELS = """async (src) => {
  const image = new Image();
  image.src = src;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  let bright = 0;
  for (let i = 0; i < data.length; i += 4) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    if (data[i] + data[i + 1] + data[i + 2] > 400) bright++;
  }
  return {colours: colours.size, bright: bright};
}"""


def browse(url: str, shot: Path, ready: trio.Event, final: Any) -> dict[str, Any]:
    """In a worker thread: open the page, tell the test it shows the appeal, wait for the
    final count from the test, until the page shows it; then the screenshot."""
    assert sync_playwright is not None
    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            origin = url.split("/live/")[0]
            elsewhere: list[str] = []
            page.on(
                "request", lambda r: None if r.url.startswith(origin) else elsewhere.append(r.url)
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.evaluate(WATCH)
            page.wait_for_function("document.getElementById('live').dataset.state === 'live'")
            trio.from_thread.run_sync(ready.set)
            count: int = trio.from_thread.run(final)
            page.wait_for_function(SHOWS, arg=count, timeout=30_000)
            page.screenshot(path=str(shot), full_page=True)
            return {
                "count": count,
                "seen": page.evaluate("window.seen"),
                "title": page.text_content("#title"),
                "since": page.text_content("#since"),
                "bars": page.locator("#chart rect").count(),
                "pixels": _pixels(browser.new_page(), shot),
                "elsewhere": elsewhere,
                "errors": errors,
            }
        finally:
            browser.close()


def _pixels(page: Page, shot: Path) -> dict[str, int]:
    src = "data:image/png;base64," + base64.b64encode(shot.read_bytes()).decode()
    return dict(page.evaluate(PIXELS, src))


@pytest.mark.slow
@needs_browser
async def test_the_page_shows_the_count_rise_to_the_end_of_a_burst(
    store: Store, tmp_path: Path
) -> None:
    async with rig(store, sim_config(10), router=None, extra=EXTRA) as r:
        campaigns = r.engine.campaigns
        view = await campaigns.create(AppealSpec(title="Ahmed vrij", text=APPEAL, public=True))
        await campaigns.send(view.id)
        ready, settled = trio.Event(), trio.Event()
        shot = tmp_path / "live.png"

        async def final() -> int:
            await settled.wait()
            return await store.appeals.count(view.id)

        # The public server, as a studio reaches it (the engine's own server gives the same
        # answers from the same functions: tests/live/test_counter.py runs both).
        counters = PublicCounters(store.appeals)
        async with serving_live(counters) as port, trio.open_nursery() as nursery:
            url = f"http://127.0.0.1:{port}/live/{view.id}"
            seen: dict[str, Any] = {}

            async def run_browser() -> None:
                seen.update(await trio.to_thread.run_sync(browse, url, shot, ready, final))

            nursery.start_soon(run_browser)
            with trio.fail_after(60):
                await ready.wait()
            profile = [(0.0, 250.0), (4.0, 250.0), (4.0, 0.0)]  # about 1,000 JA in 4 s
            tv = TvConfig(
                short_code="4777",
                profile=profile,
                numbers=2000,
                duplicate_probability=0.2,
                keywords={"JA": 0.7, "Ja!": 0.3},
            )
            with trio.fail_after(60):
                await CallToAction(r.sim.centre, tv, seed=3).run()
            await wait_settled(r)
            settled.set()
    final_count = seen["count"]
    assert final_count > 500
    numbers = [int(digits) for text in seen["seen"] if (digits := re.sub(r"\D", "", text))]
    assert numbers == sorted(numbers), "the number on the page only rises"
    assert numbers[-1] == final_count
    assert any(0 < n < final_count for n in numbers), "seen on its way, not only at the end"
    assert seen["title"] == "Ahmed vrij"
    assert seen["since"]
    assert seen["bars"] >= 1
    assert seen["elsewhere"] == [], "everything the page needs comes from the engine"
    assert seen["errors"] == []
    assert shot.stat().st_size > 10_000
    pixels = seen["pixels"]
    assert pixels["colours"] > 10, pixels  # not blank: text and bars on the background
    assert pixels["bright"] > 5_000, pixels
