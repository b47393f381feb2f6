"""The Maths tab in Chromium: the latent axes, a click decoding there, the Monte Carlo estimate and its samples
following L."""
import json

import numpy as np
import pytest

from tests.browser_app import maths_samples, needs_chromium

pytestmark = needs_chromium


def test_maths_tab_draws_the_latent_axes_decodes_a_click_and_follows_l(open_app, app_models, app_checkpoints):
    from explorer.service.explorer import Explorer

    ex = Explorer([app_checkpoints], log=lambda *a: None)
    app = open_app()
    page = app.page
    page.get_by_role("tab", name="Maths").click()
    page.wait_for_selector("#maths-axes .vx-plot[data-ready]")
    page.wait_for_function("() => document.querySelector('#maths-axes .vx-plot').dataset.marker")
    page.wait_for_selector("#maths-decoded canvas[data-frame]")
    drawn = maths_samples(app, 8)  # L = 8 samples of test image 0's posterior, seed 0, on the axes (z_i, z_j)
    i, j = int(drawn["i"][1:]), int(drawn["j"][1:])
    assert len(drawn["names"]) == 1 and "Monte Carlo" in drawn["names"][0]  # one legend entry for all of them
    np.testing.assert_allclose(drawn["xy"], ex.maths.monte_carlo(app_models.vae, 0, 8, 0).z[:, [i, j]], atol=1e-3)
    g = app.geometry("#maths-axes")
    assert len(g["points"]) > 100 and g["width"] > 100
    names = page.evaluate("() => document.querySelector('#maths-axes .vx-plot').data.map(t => t.name)")
    assert "q(z|x) 1 sigma" in names and "q(z|x) 2 sigma" in names and "aggregate q(z)" in names
    assert page.locator("#maths-decoder img").count() == 3  # E[x|z], its scale, a sample
    assert page.locator("#maths-traversal img").count() == 1

    old_src, old_marker = app.src("#maths-decoded canvas"), page.locator("#maths-axes .vx-plot").get_attribute(
        "data-marker")
    x, y, dx, dy = app.empty_spot("#maths-axes")
    page.mouse.click(x, y)
    app.wait_new_src("#maths-decoded canvas", old_src)  # the direct decode of the click
    page.wait_for_function("() => document.querySelector('#maths-info').innerText.includes('a click')")
    page.wait_for_function("(m) => document.querySelector('#maths-axes .vx-plot').dataset.marker !== m",
                           arg=old_marker)
    mx, my = json.loads(page.locator("#maths-axes .vx-plot").get_attribute("data-marker"))
    assert mx == pytest.approx(dx, abs=0.02 * (g["x1"] - g["x0"]))
    assert my == pytest.approx(dy, abs=0.02 * (g["y1"] - g["y0"]))

    mc = page.locator("#maths-mc")
    mc.get_by_text("IWAE").wait_for()
    before = mc.inner_text()
    assert "L = 8" in before
    number = page.locator("#maths-samples input[type=number]")
    number.fill("20")
    number.press("Enter")
    page.wait_for_function("() => document.querySelector('#maths-mc').innerText.includes('L = 20')")
    assert mc.inner_text() != before
    assert page.locator("#maths-mc-strip img").count() == 1
    drawn = maths_samples(app, 20)  # the samples on the axes follow L
    np.testing.assert_allclose(drawn["xy"], ex.maths.monte_carlo(app_models.vae, 0, 20, 0).z[:, [i, j]], atol=1e-3)
    assert app.errors == []
