"""The app in headless Chromium for the browser tests (tests/browser/test_*.py, one file per view, against
`python app.py`: conftest.py's `app_url`). `AppPage` is one browser session of the app, with helpers to find, click
and read what the tests need; the fixtures `browser` and `open_app` (conftest.py) make them. `needs_chromium` marks
a test file that needs Chromium (and skips it without one)."""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.launch import CHROMIUM, MAP_GEOMETRY_JS

WAIT_MS = 60_000  # generous: the test machine may be busy
OPEN_MS = 180_000  # a page's first load: the session's first page also waits for the models to load, on 2 cores

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (set $CHROMIUM)")

# what an <img> or a <canvas> shows, as a URL (a canvas: a PNG data URI of its pixels)
SRC_JS = "(sel) => { const i = document.querySelector(sel); return !i ? null : i.tagName === 'CANVAS' ? " \
         "(i.dataset.frame ? i.toDataURL() : null) : i.getAttribute('src'); }"
NEW_SRC_JS = f"([sel, old]) => {{ const s = ({SRC_JS})(sel); return s && s !== old; }}"


class AppPage:
    """One browser session of the app, with helpers to find, click and read what the tests need.

    It opens `url` once and waits for the view the test starts on: the latent map (its plot, marker and decode), or
    for what the selector `ready` names, for a URL that opens on another tab (the map is hidden there): that tab's
    view, or a warning the URL raises (a toast that goes away: wait for it first). Open another URL in a
    new AppPage, not with page.goto: a page left while its views still open (each tab loads in its own queued event)
    logs errors of its own, which land in `errors`. Gradio's page closes its client on `beforeunload`, which aborts
    the event stream under the events still running ("AbortError: BodyStreamBuffer was aborted", then "Connection
    errored out." for each of them); tests/browser/test_url.py shows it."""

    def __init__(self, browser, url: str, ready: str | None = None):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []  # console errors and uncaught exceptions (WebGL driver warnings are warnings)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.set_default_timeout(WAIT_MS)
        self.page.goto(url, timeout=OPEN_MS)
        if ready is not None:
            self.page.wait_for_selector(ready, timeout=OPEN_MS)
            return
        self.page.wait_for_selector("#latent-map .vx-plot[data-ready]", timeout=OPEN_MS)
        self.page.wait_for_function("() => document.querySelector('#latent-map .vx-plot').dataset.marker")
        self.page.wait_for_selector("#decoded-image canvas[data-frame]")

    # --- the codes view ---------------------------------------------------------------------------------------
    def set_cell_to_farthest_code(self, r: int, c: int, codebook) -> None:
        """In the codes view: select cell (r, c), check the code input shows its code, type the code farthest from
        it in `codebook` (K, D) (its decode surely differs), and check the decode and the cell change."""
        page = self.page
        cell = page.locator(f'#code-grid td[data-row="{r}"][data-col="{c}"]')
        cell.click()
        page.wait_for_selector(f'#code-grid td.sel[data-row="{r}"][data-col="{c}"]')
        code_input = page.locator("#code-index input")
        current = int(cell.inner_text())
        assert int(code_input.input_value()) == current
        new = int(np.argmax(((codebook - codebook[current]) ** 2).sum(1)))
        old, before = self.src("#vq-decoded img"), self.image("#vq-decoded img").tobytes()
        code_input.fill(str(new))
        code_input.press("Enter")
        self.wait_new_src("#vq-decoded img", old)
        assert self.image("#vq-decoded img").tobytes() != before
        shown = "([r, c, v]) => document.querySelector(`#code-grid td[data-row='${r}'][data-col='${c}']`).innerText"
        page.wait_for_function(shown + ".trim() === v", arg=[r, c, str(new)])

    # --- images -----------------------------------------------------------------------------------------------
    def src(self, selector: str) -> str | None:
        return self.page.evaluate(SRC_JS, selector)

    def wait_new_src(self, selector: str, old: str | None) -> str:
        self.page.wait_for_function(NEW_SRC_JS, arg=[selector, old or ""])
        return self.src(selector)

    def image(self, selector: str) -> Image.Image:
        """The image an <img> shows: decoded from its data URI, or fetched from the server as the browser would."""
        src = self.src(selector)
        if src.startswith("data:"):
            body = base64.b64decode(src.split(",", 1)[1])
        else:
            body = self.page.request.get(src).body()
        im = Image.open(io.BytesIO(body))
        im.load()
        return im

    # --- latent map -------------------------------------------------------------------------------------------
    def info(self) -> str:
        return self.page.locator("#selection-info").inner_text()

    def wait_info(self, start: str) -> str:
        """Wait until the selection note starts with `start` (the event's answer; the decode can come before it)."""
        self.page.wait_for_function("(s) => document.querySelector('#selection-info').innerText.startsWith(s)",
                                    arg=start)
        return self.info()

    def marker(self) -> list[float]:
        return json.loads(self.page.locator("#latent-map .vx-plot").get_attribute("data-marker"))

    def geometry(self, plot: str = "#latent-map") -> dict:
        self.page.locator(plot).scroll_into_view_if_needed()
        return self.page.evaluate(MAP_GEOMETRY_JS.replace("#latent-map", plot))

    def isolated_point(self, avoid: list[int] = (), seed: int = 0, plot: str = "#latent-map"
                       ) -> tuple[int, float, float]:
        """A point far (in pixels) from its neighbours, so a click on it hits it and no other."""
        g = self.geometry(plot)
        pts = np.array(g["points"], dtype=np.float64)
        inside = ((pts[:, 1] > g["left"] + 10) & (pts[:, 1] < g["left"] + g["width"] - 10)
                  & (pts[:, 2] > g["top"] + 10) & (pts[:, 2] < g["top"] + g["height"] - 10)
                  & ~np.isin(pts[:, 0], list(avoid)))
        cand = np.random.default_rng(seed).permutation(np.flatnonzero(inside))[:300]
        d = np.sqrt(((pts[cand, None, 1:] - pts[None, :, 1:]) ** 2).sum(-1))
        d[np.arange(len(cand)), cand] = np.inf
        best = cand[np.argmax(d.min(1))]
        return int(pts[best, 0]), float(pts[best, 1]), float(pts[best, 2])

    def empty_spot(self, plot: str = "#latent-map") -> tuple[float, float, float, float]:
        """Viewport (x, y) inside the plot area farthest from every point, and its data coordinates."""
        g = self.geometry(plot)
        pts = np.array(g["points"], dtype=np.float64)[:, 1:]
        fx, fy = np.meshgrid(np.linspace(0.05, 0.95, 30), np.linspace(0.05, 0.95, 30))
        grid = np.stack([g["left"] + fx.ravel() * g["width"], g["top"] + fy.ravel() * g["height"]], 1)
        d = np.sqrt(((grid[:, None] - pts[None]) ** 2).sum(-1)).min(1)
        i = int(np.argmax(d))
        (x, y), (u, v) = grid[i], (fx.ravel()[i], fy.ravel()[i])
        return float(x), float(y), g["x0"] + u * (g["x1"] - g["x0"]), g["y1"] - v * (g["y1"] - g["y0"])

    def click_point(self, avoid: list[int] = (), seed: int = 0) -> int:
        """Click an isolated point; wait until the page shows its decode. Returns the point's index."""
        index, x, y = self.isolated_point(avoid, seed)
        old = self.src("#decoded-image canvas")
        self.page.mouse.click(x, y)
        self.page.wait_for_function("(s) => document.querySelector('#selection-info').innerText.includes(s)",
                                    arg=f"#{index}:")
        self.wait_new_src("#decoded-image canvas", old)
        return index

    def close(self):
        self.context.close()


# the Maths axes' Monte Carlo samples as drawn: the positions of the plot's point shapes (plot.js), and the legend
# entries that name them (a trace of the figure)
SAMPLES_JS = """(name) => {
  const gd = document.querySelector('#maths-axes .vx-plot');
  const dots = (gd.layout.shapes || []).filter((s) => s.name === name);
  return {xy: dots.map((s) => [s.xanchor, s.yanchor]), names: gd.data.filter((t) => t.name === name).map((t) => t.name),
          i: gd.layout.xaxis.title.text, j: gd.layout.yaxis.title.text};
}"""


def maths_samples(app, n: int) -> dict:
    """Wait until the Maths axes draw `n` Monte Carlo samples; what they draw."""
    app.page.wait_for_function("(n) => document.querySelector('#maths-axes .vx-plot').dataset.points === n",
                               arg=str(n))
    from explorer.figures.maths import SAMPLES_NAME

    return app.page.evaluate(SAMPLES_JS, SAMPLES_NAME)


def search(app) -> str:
    return app.page.evaluate("() => location.search")
