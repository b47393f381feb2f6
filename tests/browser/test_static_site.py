"""The exported static site in Chromium, served by `python -m http.server` with no app running: the map, a click on a
point or in empty space, the sliders and the nearest images all decode in the page, and so do the VQ-VAE's code grid
edits, with no network request after it has loaded; the page's decodes equal PyTorch's; a bad address warns and
shows the rest."""
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.browser_app import AppPage, needs_chromium
from tests.launch import serve_folder

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site_url(app_checkpoints, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from explorer.service.explorer import Explorer
    from explorer.site.export import export_site

    out = tmp_path_factory.mktemp("static") / "site"
    export_site(Explorer([app_checkpoints], log=lambda *a: None), out, log=lambda *a: None)
    with serve_folder(out) as url:
        yield url


def open_site(browser, url: str) -> AppPage:
    app = AppPage(browser, url, ready="body[data-loaded='all']")  # every model's files fetched
    app.page.wait_for_selector("#latent-map .vx-plot[data-ready]")
    app.page.wait_for_selector("#decoded-image canvas[data-frame]")
    return app


def frame(app: AppPage) -> int:
    return int(app.page.get_attribute("#decoded-image canvas", "data-frame") or 0)


def wait_frame_after(app: AppPage, before: int) -> None:
    app.page.wait_for_function(f"() => Number(document.querySelector('#decoded-image canvas').dataset.frame) > "
                               f"{before}")


def test_clicks_sliders_and_neighbours_decode_in_the_page_with_no_request(browser, site_url):
    app = open_site(browser, site_url)
    page, requests = app.page, []
    page.on("request", lambda r: r.url.startswith("http") and requests.append(r.url))
    index, x, y = app.isolated_point(avoid=[0])
    before = frame(app)
    page.mouse.click(x, y)
    page.wait_for_function("(s) => document.querySelector('#selection-info').innerText.includes(s)", arg=f"#{index}:")
    wait_frame_after(app, before)
    assert page.locator("#reconstruction img").count() == 1 and page.locator("#selected-image img").count() == 1

    g = app.geometry()  # empty space: a corner of the plot area, away from every point
    pts = np.array(g["points"])[:, 1:]
    corners = [(g["left"] + dx, g["top"] + dy) for dx in (12, g["width"] - 12) for dy in (12, g["height"] - 12)]
    cx, cy = max(corners, key=lambda c: np.hypot(*(pts - c).T).min())
    before = frame(app)
    page.mouse.click(cx, cy)
    page.wait_for_function("() => document.querySelector('#selection-info').innerText.startsWith('Clicked at')")
    wait_frame_after(app, before)

    before, old = frame(app), app.src("#decoded-image canvas")
    slider = page.locator("#latent-sliders input[type=range]").first
    slider.evaluate("(s) => { s.value = String(Number(s.max) * 0.9); s.dispatchEvent(new Event('input', "
                    "{bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); }")
    wait_frame_after(app, before)
    app.wait_new_src("#decoded-image canvas", old)

    first = page.locator("#neighbours button[data-index]").first
    wanted = first.get_attribute("data-index")
    first.click()
    page.wait_for_function("(s) => document.querySelector('#selection-info').innerText.includes(s)", arg=f"#{wanted}:")
    page.wait_for_function("() => new URLSearchParams(location.search).get('index') !== null")
    assert requests == [], f"requests after the page loaded: {requests}"
    assert app.errors == []


def test_the_pages_decode_equals_pytorchs(browser, site_url, app_models, app_checkpoints):
    from explorer.models import open_folder
    from vae_core.data.images import to_uint8

    app = open_site(browser, site_url)
    z = [0.25, -0.5][:app_models.latent_dim] + [0.1] * (app_models.latent_dim - 2)
    got = np.array(app.page.evaluate("([name, z]) => window.vxSite.decodeFloats(name, z)", [app_models.vae, z]))
    model = open_folder(app_checkpoints / app_models.vae, log=pytest.fail).load()
    with torch.no_grad():
        want = model.decode_location(torch.tensor([z], dtype=torch.float32))[0]
    assert got.shape == (want.numel(),)
    assert np.abs(got - want.flatten().numpy()).max() <= 1e-4
    before = frame(app)  # and what the canvas draws is that decode's 8-bit image
    app.page.evaluate("([name, z]) => document.dispatchEvent(new CustomEvent('vx-decode', {detail: "
                      "{target: 'decoded-image', checkpoint: name, latent: z}}))", [app_models.vae, z])
    wait_frame_after(app, before)
    drawn = app.page.evaluate("() => { const c = document.querySelector('#decoded-image canvas'); return Array.from("
                              "c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }")
    grey = np.array(drawn).reshape(-1, 4)[:, 0]
    assert np.abs(grey.astype(int) - to_uint8(want).reshape(-1).astype(int)).max() <= 1


def test_a_bad_address_warns_and_shows_the_rest(browser, site_url, app_models):
    app = open_site(browser, site_url + "?vae=no-such-model&index=99999999")
    warning = app.page.locator("#warning")
    assert warning.is_visible()
    assert "no model named" in warning.inner_text() and "index must be" in warning.inner_text()
    assert app.page.locator("#model").input_value() == app_models.vae
    assert "Selected test image #0:" in app.page.inner_text("#selection-info")


def test_the_code_grid_edits_decode_in_the_page_with_no_request_and_equal_pytorchs(browser, site_url, app_models,
                                                                                   app_checkpoints):
    from explorer.models import open_folder

    app = AppPage(browser, site_url + f"?vq={app_models.vq}&tab=codes&codes=3&cell=1,0",
                  ready="body[data-loaded='all']")
    page, requests = app.page, []
    page.wait_for_selector("#vq-decoded canvas[data-frame]")
    page.wait_for_selector("#codebook-map .vx-plot[data-ready]")
    assert page.get_attribute("#code-grid td.sel", "data-row") == "1"
    assert page.get_attribute("#code-grid td.sel", "data-col") == "0"
    page.on("request", lambda r: r.url.startswith("http") and requests.append(r.url))

    def decoded_after(act):
        before = page.get_attribute("#vq-decoded canvas", "data-frame")
        act()
        page.wait_for_function("(f) => document.querySelector('#vq-decoded canvas').dataset.frame !== f", arg=before)

    page.click('#code-grid td[data-row="0"][data-col="1"]')
    page.wait_for_selector('#code-suggestions[data-cell="0,1"]')  # the prior's most likely codes for the cell
    got = [int(b.get_attribute("data-code")) for b in page.locator("#code-suggestions button[data-code]").all()]
    from explorer.service.explorer import Explorer

    ex = Explorer([app_checkpoints], log=lambda *a: None)
    grid = [[int(page.inner_text(f'#code-grid td[data-row="{r}"][data-col="{c}"]')) for c in range(app_models.grid)]
            for r in range(app_models.grid)]
    want = ex.generate.suggestions(app_models.vq, grid, 0, 1)
    assert got == [c for c, _ in want]  # the same codes in the same order as the app's
    old = int(page.input_value("#code-index"))
    new = (old + 1) % app_models.num_codes
    decoded_after(lambda: (page.fill("#code-index", str(new)), page.press("#code-index", "Enter")))
    assert page.inner_text('#code-grid td[data-row="0"][data-col="1"]') == str(new)
    page.fill("#code-index", str(app_models.num_codes))  # out of range: a message, and the grid unchanged
    page.press("#code-index", "Enter")
    assert f"0..{app_models.num_codes - 1}" in page.inner_text("#codes-note")
    assert page.inner_text('#code-grid td[data-row="0"][data-col="1"]') == str(new)
    decoded_after(lambda: page.click("#reset-grid"))
    assert page.inner_text('#code-grid td[data-row="0"][data-col="1"]') == str(old)

    grid = [[(r * app_models.grid + c) % app_models.num_codes for c in range(app_models.grid)]
            for r in range(app_models.grid)]
    got = np.array(page.evaluate("([name, g]) => window.vxSite.decodeGridFloats(name, g)", [app_models.vq, grid]))
    model = open_folder(app_checkpoints / app_models.vq, log=pytest.fail).load()
    with torch.no_grad():
        want = model.decode_indices(torch.tensor([grid]))[0].flatten().numpy()
    assert np.abs(got - want).max() <= 1e-4
    assert requests == [], f"requests after the page loaded: {requests}"
    assert app.errors == []


def test_generate_draws_samples_in_the_page_opens_one_and_the_priors_logits_equal_pytorchs(
        browser, site_url, app_models, app_checkpoints):
    from explorer.models import open_folder

    app = open_site(browser, site_url)
    page, requests = app.page, []
    page.on("request", lambda r: r.url.startswith("http") and requests.append(r.url))
    page.fill("#gen-n", "4")
    page.click("#gen-go")
    page.wait_for_function("() => document.querySelectorAll('#gen-samples button[data-index]').length === 4")
    assert "N(0, I)" in page.inner_text("#gen-note") and "in this browser" in page.inner_text("#gen-note")
    before = frame(app)
    page.click('#gen-samples button[data-index="2"]')
    wait_frame_after(app, before)

    page.select_option("#model", app_models.vq)
    page.wait_for_selector("#vq-decoded canvas[data-frame]")
    page.fill("#gen-n", "3")
    page.fill("#gen-topk", "0")  # out of range: a message, no samples
    page.click("#gen-go")
    assert "top-k must be" in page.inner_text("#gen-note")
    page.fill("#gen-topk", "5")
    page.click("#gen-go")
    page.wait_for_function("() => document.querySelectorAll('#gen-samples button[data-index]').length === 3")
    assert "top-5" in page.inner_text("#gen-note")
    page.click('#gen-samples button[data-index="0"]')
    page.wait_for_function("() => document.querySelector('#codes-image').innerText.includes('a sample from the prior')")

    model = open_folder(app_checkpoints / app_models.vq, log=pytest.fail).load()
    cells = app_models.grid ** 2  # the step graph, cell by cell with its cache, against the whole sequence at once
    inputs = [app_models.num_codes] + [(3 * t + 1) % app_models.num_codes for t in range(cells - 1)]
    got = np.array(page.evaluate("([name, x]) => window.vxSite.priorLogits(name, x)", [app_models.vq, inputs]))
    with torch.no_grad():
        want = model.prior.logits(torch.tensor([inputs]))[0].flatten().numpy()
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-4
    assert requests == [], f"requests after the page loaded: {requests}"
    assert app.errors == []


def test_compare_reconstructs_a_test_image_and_a_dropped_one_in_the_page(browser, site_url, app_models,
                                                                          app_checkpoints, tmp_path):
    from explorer.service.explorer import Explorer
    from vae_core.data import to_float

    app = open_site(browser, site_url)
    page, requests = app.page, []
    page.on("request", lambda r: r.url.startswith("http") and requests.append(r.url))
    page.click("#compare summary")

    def shown_after(act) -> list[str]:
        before = page.get_attribute("#cmp-images", "data-shown") or ""
        act()
        page.wait_for_function("(b) => (document.querySelector('#cmp-images').dataset.shown || '') !== b", arg=before)
        return page.locator("#cmp-images figcaption").all_inner_texts()

    captions = shown_after(lambda: (page.fill("#cmp-index", "3"), page.press("#cmp-index", "Enter")))
    ex = Explorer([app_checkpoints], log=lambda *a: None)
    x = to_float(ex.store.data(app_models.vae).x_test[3:4])
    r = ex.compare.reconstruct(app_models.vae, app_models.vq, x)
    assert captions[0] == "test image #3" and len(captions) == 3
    for caption, mse in zip(captions[1:], (r.vae_mse, r.vqvae_mse)):  # the page's MSE is PyTorch's, to its 4 places
        assert abs(float(caption.split("MSE ")[1].split(",")[0]) - mse) <= 1e-4, (caption, mse)

    (tmp_path / "notes.txt").write_text("not an image")
    before = page.get_attribute("#cmp-images", "data-shown")
    page.set_input_files("#cmp-file", str(tmp_path / "notes.txt"))
    page.wait_for_function("() => document.querySelector('#cmp-note').innerText.includes('could not read')")
    assert page.get_attribute("#cmp-images", "data-shown") == before  # nothing changed
    root = Path(__file__).resolve().parents[2]
    captions = shown_after(lambda: page.set_input_files("#cmp-file", str(root / "docs" / "example.png")))
    assert captions[0].startswith("example.png, converted from") and page.inner_text("#cmp-note") == ""
    assert requests == [], f"requests after the page loaded: {requests}"
    assert app.errors == []
