"""The shareable URL in Chromium (views/url.py): the address bar follows the view (map selection, tab, codes cell, the
Maths tab's axes, L and seed); opening it restores the view; bad values only warn."""
import re

import pytest

from tests.browser_app import AppPage, maths_samples, needs_chromium, search

pytestmark = needs_chromium


def test_the_url_follows_the_view_and_restores_it(open_app, browser, app_url):
    """The address bar's query holds the selection and the tab; opening it restores them."""
    app = open_app()
    page = app.page
    page.wait_for_function("() => location.search.includes('vae=')")
    index = app.click_point(avoid=[0], seed=7)
    page.wait_for_function("(s) => location.search.includes(s)", arg=f"index={index}")
    x, y, _, _ = app.empty_spot()  # a spot, not a point: the latent goes in the URL too
    old = app.src("#decoded-image canvas")
    page.mouse.click(x, y)
    app.wait_new_src("#decoded-image canvas", old)
    page.wait_for_function("() => location.search.includes('z=')")
    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_function("() => location.search.includes('tab=codes')")
    page.locator('#code-grid td[data-row="1"][data-col="1"]').click()
    page.wait_for_function("() => location.search.includes('cell=1,1')")
    query = search(app)
    z = dict(p.split("=", 1) for p in query[1:].split("&"))["z"]

    again = AppPage(browser, app_url + query + "&tab=map")  # the same view, opened from the link (on the map)
    try:
        assert f"#{index}:" in again.info()
        again.page.wait_for_function("(z) => location.search.includes('z=' + z)", arg=z)
        want = [float(v) for v in z.replace("%2C", ",").split(",")]
        number = again.page.locator("#slider-0 input[type=number]")
        assert float(number.input_value()) in [pytest.approx(v, abs=0.01) for v in want]
        again.page.get_by_role("tab", name="VQ-VAE codes").click()
        again.page.wait_for_selector('#code-grid td.sel[data-row="1"][data-col="1"]')
        assert again.errors == []
    finally:
        again.close()
    assert app.errors == []


def test_a_url_with_bad_values_warns_and_opens_the_page(browser, app_url):
    # the warnings first: they go before the views have opened
    app = AppPage(browser, app_url + "?index=abc&vae=nope&tab=codes", ready="text=not a whole number")
    try:
        app.page.get_by_text("no VAE checkpoint 'nope'").first.wait_for()
        app.page.wait_for_selector("#code-grid td[data-row]", state="visible")  # opens on the codes tab (kept)
        app.page.get_by_role("tab", name="Latent map").click()
        assert app.info().startswith("Selected test image #0")
        app.errors.clear()  # Gradio logs its warnings in the console too
    finally:
        app.close()


def test_the_url_holds_the_maths_settings_and_restores_them(open_app, browser, app_url, app_models, app_checkpoints):
    """The Maths tab's axes, L and seed go in the URL; opening it restores them; bad ones only warn."""
    from explorer.service.explorer import Explorer

    order = [int(d) for d in Explorer([app_checkpoints], log=lambda *a: None).store.dims_by_kl(app_models.vae)]
    app = open_app()
    page = app.page
    page.get_by_role("tab", name="Maths").click()
    page.wait_for_function("() => location.search.includes('tab=maths')")
    maths_samples(app, 8)
    number = page.locator("#maths-samples input[type=number]")
    number.fill("20")
    number.press("Enter")
    page.wait_for_function("() => location.search.includes('L=20')")
    seed = page.locator("#maths-seed input")
    seed.fill("3")
    seed.press("Enter")
    page.wait_for_function("() => location.search.includes('seed=3')")
    assert "axes=" not in search(app)  # the default axes are not written

    query = f"?vae={app_models.vae}&tab=maths&axes={order[1]},{order[0]}&L=20&seed=3"
    again = AppPage(browser, app_url + query, ready="#maths-axes .vx-plot[data-ready]")  # on the Maths tab
    try:
        drawn = maths_samples(again, 20)
        assert (drawn["i"], drawn["j"]) == (f"z{order[1]}", f"z{order[0]}")
        assert float(again.page.locator("#maths-samples input[type=number]").input_value()) == 20
        assert again.page.locator("#maths-seed input").input_value() == "3"
        assert "L = 20" in again.page.locator("#maths-mc").inner_text()
        again.page.wait_for_function("(a) => location.search.includes(a)", arg=f"axes={order[1]},{order[0]}")
        assert again.errors == []
    finally:
        again.close()

    bad = AppPage(browser, app_url + f"?tab=maths&axes={order[0]},{order[0]}&L=99", ready="text=out of range")  # L=99
    try:
        bad.page.get_by_text("latent axes").first.wait_for()  # the same dimension twice
        drawn = maths_samples(bad, 8)  # the defaults instead
        assert (drawn["i"], drawn["j"]) == (f"z{order[0]}", f"z{order[1]}")
        bad.errors.clear()  # Gradio logs its warnings in the console too
    finally:
        bad.close()
    assert app.errors == []


def test_a_page_left_while_its_views_open_logs_errors_in_it(browser, app_url):
    """Why AppPage opens each URL in a page of its own instead of navigating one: Gradio's page closes its client on
    `beforeunload`, which aborts the event stream of the views still opening (their events held here, so that some
    surely are), and the page being left logs the abort and a broken connection for each of them."""
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        stream = re.compile(r"/queue/data\?")
        page.route(stream, lambda route: None)  # the events' stream never answers: they stay open
        with page.expect_request(stream):  # asked for once the first event has joined the queue
            page.goto(app_url)
        page.goto(app_url + "?tab=maths")
        assert any("AbortError" in e for e in errors), errors
        assert any("Connection errored out" in e for e in errors), errors
    finally:
        context.close()
