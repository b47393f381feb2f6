"""The app's components on their own in Chromium, run by the static site's host (explorer/site/page/host.js) as
any page without Gradio runs them: the code grid at the sizes a VQ model may have (7 x 7 up to 32 x 32), its cells
clickable with their row and column; the choices of codes with their labels and bars, clickable."""
import shutil
from pathlib import Path

import pytest

from tests.browser_app import needs_chromium
from tests.launch import serve_folder

pytestmark = needs_chromium
ROOT = Path(__file__).resolve().parents[2]
PAGE = """<!doctype html><html><body><div id="grid"></div><div id="choices"></div><script type="module">
import {mount} from './host.js';
window.clicks = [];
window.grid = await mount('grid', '<div class="vx-grid-host"></div>', 'grid.js', {}, (ev, d) => clicks.push([ev, d]));
window.choices = await mount('choices', '<div class="vx-choices-host"></div>', 'choices.js', {},
                             (ev, d) => clicks.push([ev, d]));
document.body.dataset.ready = '1';
</script></body></html>"""


@pytest.fixture(scope="module")
def components_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("components")
    shutil.copyfile(ROOT / "explorer/site/page/host.js", folder / "host.js")
    for name in ("grid.js", "choices.js"):
        shutil.copyfile(ROOT / "explorer/web/components" / name, folder / name)
    (folder / "index.html").write_text(PAGE)
    with serve_folder(folder) as url:
        yield url


def test_the_code_grid_draws_every_cell_clickable_and_large_grids_get_small_cells(browser, components_url):
    from explorer.web.components.grid import grid_value

    page = browser.new_page()
    page.goto(components_url)
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#grid") == "No VQ-VAE loaded."
    for n, size in ((7, ""), (16, "vx-grid-medium"), (32, "vx-grid-dense")):
        grid = [[(r * n + c) % 512 for c in range(n)] for r in range(n)]
        page.evaluate("(v) => window.grid.set(v)", grid_value(grid, (n - 1, 2)))
        assert page.locator("#grid td[data-row]").count() == n * n
        assert page.locator("#grid td.sel").get_attribute("data-row") == str(n - 1)
        assert page.locator("#grid td.sel").get_attribute("data-col") == "2"
        assert page.locator(f'#grid td[data-row="{n - 1}"][data-col="{n - 1}"]').inner_text() == str(grid[-1][-1])
        classes = page.get_attribute("#grid table", "class")
        assert (size in classes) if size else classes == "vx-grid"
        assert page.locator("#grid .vx-grid-box").count() == 1
    page.click('#grid td[data-row="3"][data-col="5"]')
    assert page.evaluate("() => window.clicks") == [["click", {"row": 3, "col": 5}]]
    page.close()


def test_the_choices_draw_each_code_with_its_label_and_bar_and_a_click_gives_its_code(browser, components_url):
    from explorer.web.components.choices import probability_choices

    page = browser.new_page()
    page.goto(components_url)
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#choices") == ""
    page.evaluate("(v) => window.choices.set(v)", probability_choices("Most likely <codes>:", [(7, 0.5), (2, 0.25)]))
    assert page.inner_text("#choices .vx-choices-title") == "Most likely <codes>:"  # text, not markup
    assert page.locator("#choices .vx-code").all_inner_texts() == ["7", "2"]
    assert page.locator("#choices .vx-p").all_inner_texts() == ["50.0%", "25.0%"]
    assert page.get_attribute('#choices button[data-code="7"] .vx-bar', "style") == "width:30px"  # 60 px x p
    assert page.get_attribute('#choices button[data-code="2"]', "title") == "code 2: p = 0.250"
    page.click('#choices button[data-code="2"]')
    assert page.evaluate("() => window.clicks") == [["click", {"code": 2}]]
    page.close()
