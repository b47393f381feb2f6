"""The Playground tab in Chromium: a VAE and a VQ-VAE training on 2-D points, what they show (the warped grid, one
step's arrows), its state in the URL reopened, and the pool's limit on runs that train at once with the line behind
it, freed when a tab closes."""
import re

from tests.browser_app import AppPage, needs_chromium

pytestmark = needs_chromium
STEPS_JS = "(n) => Number(document.querySelector('#pg-canvas .vx-pg').dataset.steps || 0) >= n"
STATUS_JS = "(s) => document.querySelector('#pg-canvas .vx-pg-status').innerText.includes(s)"


def playground(browser, app_url) -> AppPage:
    app = AppPage(browser, app_url)  # waits for the map: the page has opened
    app.page.get_by_role("tab", name="Playground").click()
    app.page.wait_for_selector("#pg-play", state="visible")
    return app


def status(app) -> str:
    return app.page.locator("#pg-canvas .vx-pg-status").inner_text()


def train_until(app, steps: int) -> None:
    app.page.click("#pg-play")
    app.page.wait_for_function(STEPS_JS, arg=steps)
    app.page.click("#pg-pause")
    app.page.wait_for_function(STATUS_JS, arg="paused")


DATA_PANEL = "#pg-canvas #vx-pg-panel-0"
L_IS_JS = "(n) => document.querySelector('#pg-L input[type=number]').value === n"


def test_a_vae_trains_on_the_moons_draws_its_views_and_measures_the_gradient_variance(browser, app_url):
    app, again = playground(browser, app_url), None
    try:
        app.page.locator("#pg-L input[type=number]").fill("4")
        app.page.locator("#pg-L input[type=number]").press("Enter")
        train_until(app, 300)
        assert len(app.page.locator("#pg-canvas canvas").all()) == 4  # data, latent, losses, variance
        text = status(app)
        v = {int(L): float(x) for L, x in re.findall(r"L = (\d+): ([0-9.e+-]+)", text)}
        assert set(v) == {1, 4, 16} and v[1] > v[16], text
        drawn = app.page.get_attribute("#pg-canvas .vx-pg", "data-steps")
        app.page.wait_for_timeout(500)
        assert app.page.get_attribute("#pg-canvas .vx-pg", "data-steps") == drawn  # paused: no more steps
        app.page.locator("#pg-lr input").fill("5")  # outside its range: refused, with the range
        app.page.click("#pg-step")
        app.page.wait_for_function(STATUS_JS, arg="refused")
        assert "from 1e-05 to 0.1" in status(app)
        layers = app.page.get_attribute(DATA_PANEL, "data-layers")
        assert layers.startswith("grid,points") and "arrows" not in layers, layers  # the warped grid; no step yet
        app.page.locator("#pg-lr input").fill("0.003")
        app.page.locator("#pg-lr input").press("Enter")
        app.page.click("#pg-step")  # one step: its arrows on the reconstructions
        app.page.wait_for_function(STATUS_JS, arg="one step")
        assert app.page.get_attribute(DATA_PANEL, "data-step-arrows") == "100"
        assert "move over step" in app.page.locator(DATA_PANEL + " .vx-pg-legend").inner_text()
        app.page.wait_for_function("() => location.search.includes('pg_mc_samples=4')")
        assert "tab=playground" in app.page.url
        assert app.errors == []
        again = AppPage(browser, app.page.url + "&pg_hide=lr,beta&pg_seed=x", ready="#pg-play")  # a teacher's link
        again.page.wait_for_function(L_IS_JS, arg="4")
        assert again.page.locator("#pg-lr").is_hidden() and again.page.locator("#pg-beta").is_hidden()
        assert again.page.locator("#pg-batch").is_visible()
        again.page.get_by_text("pg_seed='x' dropped").first.wait_for()  # a bad value: a warning, the rest opens
        assert again.errors == []
    finally:
        app.close()
        if again is not None:
            again.close()


TICK_URL = re.compile(r"/component_server/?$")  # the canvas's server function `tick` (every Gradio server function)
DRAWS_JS = "() => Number(document.querySelector('#pg-canvas .vx-pg').dataset.draws)"
WATCH_STATUS_JS = """() => {
  const line = document.querySelector('#pg-canvas .vx-pg-status');
  window.shownStatuses = [];
  new MutationObserver(() => window.shownStatuses.push(line.textContent)).observe(line, {childList: true,
    characterData: true, subtree: true});
}"""


def test_a_tick_in_flight_when_pause_is_pressed_is_dropped_and_the_status_stays_paused(browser, app_url):
    app = playground(browser, app_url)
    held, later = [], []

    def hold_the_first_tick(route):
        if held:
            later.append(route.request.url)
            route.continue_()
        else:  # the server answers it now, while the run trains; the page gets the answer after the pause
            held.append((route, route.fetch()))

    try:
        app.page.click("#pg-play")
        app.page.wait_for_function(STEPS_JS, arg=1)
        app.page.route(TICK_URL, hold_the_first_tick)
        for _ in range(500):
            if held:
                break
            app.page.wait_for_timeout(20)
        route, answer = held[0]
        assert '\\"playing\\":true' in answer.text() and "training" in answer.text()  # the stale answer
        app.page.click("#pg-pause")
        app.page.wait_for_function(STATUS_JS, arg="paused")
        draws = app.page.evaluate(DRAWS_JS)
        app.page.evaluate(WATCH_STATUS_JS)
        route.fulfill(response=answer)  # the tick that was in flight answers now
        app.page.wait_for_timeout(1000)
        shown = app.page.evaluate("() => window.shownStatuses")
        assert not [s for s in shown if "training" in s], shown  # it did not flick back to training
        assert app.page.evaluate(DRAWS_JS) == draws and "paused" in status(app)
        assert later == []  # and the page asked for no more ticks
        assert app.errors == []
    finally:
        app.page.unroute(TICK_URL)
        app.close()


def dead_codes(app) -> int:
    return int(re.search(r"dead codes (\d+)", status(app)).group(1))


def test_a_vq_vae_on_the_ring_leaves_codes_dead_without_kmeans_init_and_restarts(browser, app_url):
    app = playground(browser, app_url)
    try:
        app.page.locator("#pg-model label", has_text="VQ-VAE").click()
        app.page.locator("#pg-data input").click()
        app.page.get_by_role("option", name="ring").click()
        train_until(app, 600)
        assert dead_codes(app) == 0 and "codes used 100%" in status(app)
        app.page.locator("#pg-kmeans input").uncheck()  # a new run: k-means init acts at the first step
        app.page.locator("#pg-restarts input").uncheck()
        app.page.click("#pg-reset")
        app.page.wait_for_function(STATUS_JS, arg="step 0")
        train_until(app, 600)
        assert dead_codes(app) >= 4 and "restarts 0" in status(app), status(app)
        assert app.errors == []
    finally:
        app.close()


def test_at_most_two_runs_train_the_third_waits_and_starts_when_a_tab_closes(browser, app_url):
    apps = [playground(browser, app_url) for _ in range(3)]
    try:
        for app in apps[:2]:
            app.page.click("#pg-play")
            app.page.wait_for_function(STATUS_JS, arg="training")
        third = apps[2]
        third.page.click("#pg-play")
        third.page.wait_for_function(STATUS_JS, arg="place 1 in line")
        steps = third.page.get_attribute("#pg-canvas .vx-pg", "data-steps")
        assert steps == "0"
        apps[0].close()  # its run goes with its tab; the third gets the slot
        third.page.wait_for_function(STATUS_JS, arg="training", timeout=90_000)
        third.page.wait_for_function(STEPS_JS, arg=1)
    finally:
        for app in apps[1:]:
            app.close()
    assert apps[0].page.is_closed()


STRIP_NOTE = "#pg-canvas figure[data-kind=strip] .vx-pg-legend"
STRIP_DRAWN_JS = """() => {
  const c = document.querySelector('#pg-canvas figure[data-kind=strip] canvas');
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let grey = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i + 3] === 255 && px[i] === px[i + 1] && px[i] === px[i + 2]) grey++;
  return {height: c.height, grey};
}"""


def test_a_vae_and_a_vq_vae_train_on_the_digits_and_draw_the_map_the_strip_and_the_code_usage(browser, app_url):
    app = playground(browser, app_url)
    try:
        app.page.locator("#pg-data input").click()
        app.page.get_by_role("option", name="digits (8x8)").click()
        train_until(app, 30)  # an epoch is 12 steps of 128 images: two have ended
        kinds = app.page.eval_on_selector_all("#pg-canvas figure", "fs => fs.map(f => f.dataset.kind || 'curve')")
        assert kinds[:2] == ["plane", "strip"], kinds
        legend = app.page.locator("#pg-canvas figure[data-kind=plane] .vx-pg-legend").inner_text()
        assert all(str(d) in legend for d in range(10)), legend
        strip = app.page.evaluate(STRIP_DRAWN_JS)
        assert strip["height"] == 3 * (14 + 41) and strip["grey"] > 3 * 8 * 39 * 39 // 2, strip  # 3 rows of 8 images
        assert "N(0, I)" in app.page.locator(STRIP_NOTE).inner_text()
        text = status(app)
        epoch = int(re.search(r"map and strip from epoch (\d+)", text).group(1))
        assert epoch >= 2 and "nats per image" in text and "bits/dim" in text, text
        app.page.click("#pg-save")  # kept as a checkpoint that this page's other tabs open
        app.page.wait_for_function(STATUS_JS, arg="saved as")
        name = re.search(r"saved as (playground-vae-digits-[0-9a-f]+)", status(app)).group(1)
        assert app.page.locator("#pg-download a").count() >= 1  # and a zip of it to download
        app.page.get_by_role("combobox", name="VAE checkpoint", exact=True).click()
        app.page.get_by_role("option", name=name).click()
        app.page.get_by_role("tab", name="Models").click()
        app.page.get_by_text(f"{name}: VAE on digits").first.wait_for()
        app.page.get_by_role("tab", name="Playground").click()
        app.page.locator("#pg-model label", has_text="VQ-VAE").click()  # a new run, on the same images
        app.page.click("#pg-reset")
        app.page.wait_for_function(STATUS_JS, arg="step 0")
        train_until(app, 30)
        assert app.page.locator("#pg-canvas figure[data-kind=bars]").count() == 1
        assert "Generate tab" in app.page.locator(STRIP_NOTE).inner_text()
        assert re.search(r"dead codes \d+ \(all the images", status(app)), status(app)
        assert app.errors == []
    finally:
        app.close()
