"""The README's screenshots, taken in Chromium.

test_screenshots writes docs/screenshot-{map,codes,compare,maths,generate,playground}.png when
$VAE_EXPLORER_SCREENSHOT_CKPTS names a checkpoints folder (the app then serves those checkpoints instead of the tiny
digits ones), e.g.
    VAE_EXPLORER_SCREENSHOT_CKPTS=checkpoints python -m pytest -q tests/browser/test_screenshots.py
and into pytest's temporary folder otherwise, so a plain test run never overwrites the README's pictures.
"""
import os
from pathlib import Path

from PIL import Image

from tests.browser_app import needs_chromium

pytestmark = needs_chromium


DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_screenshots(open_app, app_models, tmp_path):
    """The README's pictures (see the module docstring for where they go)."""
    out = DOCS if os.environ.get("VAE_EXPLORER_SCREENSHOT_CKPTS") else tmp_path
    out.mkdir(exist_ok=True)
    app = open_app()
    page = app.page
    app.click_point(avoid=[0], seed=3)
    page.mouse.move(1, 1)  # no hover label, no Plotly toolbar
    page.wait_for_timeout(500)  # the marker moves after the image arrives
    page.screenshot(path=out / "screenshot-map.png")

    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_selector("#vq-decoded img")
    old = app.src("#vq-decoded img")
    page.locator('#code-grid td[data-row="0"][data-col="0"]').click()
    page.wait_for_selector('#code-grid td.sel[data-row="0"][data-col="0"]')
    code_input = page.locator("#code-index input")
    code_input.fill(str((int(code_input.input_value()) + 1) % app_models.num_codes))
    code_input.press("Enter")
    app.wait_new_src("#vq-decoded img", old)
    page.screenshot(path=out / "screenshot-codes.png")

    page.get_by_role("tab", name="Compare").click()
    index = page.get_by_label("test image index", exact=True)
    index.fill("7")
    index.press("Enter")
    page.wait_for_function("() => document.querySelector('#compare-note').innerText.includes('Test image #7')")
    page.wait_for_selector("#compare-vq img")
    page.wait_for_timeout(300)
    page.screenshot(path=out / "screenshot-compare.png")

    page.get_by_role("tab", name="Maths").click()
    page.wait_for_selector("#maths-axes .vx-plot[data-ready]")
    page.wait_for_selector("#maths-decoded canvas[data-frame]")
    page.wait_for_function("() => document.querySelectorAll('#maths-decoder img').length === 3")
    page.mouse.move(1, 1)
    page.wait_for_timeout(500)
    page.screenshot(path=out / "screenshot-maths.png")

    page.get_by_role("tab", name="Generate").click()
    page.wait_for_function("() => document.querySelectorAll('#gen-vq img').length === 16")
    page.wait_for_timeout(500)
    page.screenshot(path=out / "screenshot-generate.png")

    page.get_by_role("tab", name="Playground").click()  # a VAE on the two moons, 400 steps in
    page.click("#pg-play")
    page.wait_for_function("() => Number(document.querySelector('#pg-canvas .vx-pg').dataset.steps || 0) >= 400")
    page.click("#pg-pause")
    page.wait_for_function("() => document.querySelector('#pg-canvas .vx-pg-status').innerText.includes('paused')")
    page.locator("#pg-canvas").scroll_into_view_if_needed()
    page.screenshot(path=out / "screenshot-playground.png")
    for name in ("map", "codes", "compare", "maths", "generate", "playground"):
        assert Image.open(out / f"screenshot-{name}.png").size == (1400, 1000)
    assert app.errors == []
