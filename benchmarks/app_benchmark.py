"""How fast the app starts and answers, each number next to a reference.

    python -m benchmarks.app_benchmark [--checkpoints checkpoints/] [--interactions 50] [--reference DIR]
                                       [--json out.json]

1. start to serving: `python app.py` from process start to its first HTTP 200 (projection caches warm), next to
   the time `python -c "import gradio"` takes.
2. server-side decodes: Explorer.decode_latent / decode_codes in this process (validation, decoder, PIL image),
   next to the bare decoder forward on the same input; and generation: model.sample(16) (the VQ-VAE: a code grid
   drawn cell by cell from its prior, then decoded; the VAE: z ~ N(0, I), decoded), a new seed each call.
3. end to end in headless Chromium: from a click on the latent map (alternating random points) and from a slider
   move to the new decoded image being ready to paint in the page, timed inside the page (pointerdown / input event
   to the canvas drawn anew, or, for versions before 0.4, the new <img> loaded and decoded), with a pause of PAUSE_MS
   between clicks; and a slider dragged with the mouse for DRAG_MOVES moves, DRAG_MS apart: the decoded images shown
   while dragging, per second. With --reference DIR (a checkout of another version, e.g.
   `git worktree add ../before b611008`), its app is measured in the same run, in alternating rounds with this one, and
   shown beside it (with its own checkpoints/ unless --reference-checkpoints is given).
4. the teaching and selection views' updates in Chromium (this version only), each from the user's action to the page
   showing all of its update (the watched elements changed): a click on the Maths tab's latent axes -> its decoded
   image; the Maths L slider -> the Monte Carlo text, the strip of decodes and the samples on the axes; a box selection
   on the map (from the mouse release) -> the gallery; a click on a nearest neighbour -> the selection text, the decoded
   image and the new neighbours; the codes view's image index (Enter) -> the quantisation heat maps; a click on a code
   grid cell -> its nearest codes.

Goals: start to serving < 10 s; click -> image p95 <= 40 ms; slider -> image p95 <= 30 ms; sampling and decoding
16 images from the VQ-VAE's prior p95 < 100 ms; every update of part 4 p95 < 150 ms (on the 2-core EPYC).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from benchmarks.machine import cpu_name, native_bf16
from explorer.service.explorer import Explorer
from tests.launch import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MAP_GEOMETRY_JS,
    ROOT,
    start_app,
    stop_app,
)

GOAL_START_S = 10.0
GOAL_CLICK_P95_MS = 40.0
GOAL_SLIDER_P95_MS = 30.0
GOAL_SAMPLE_P95_MS = 100.0  # 16 VQ-VAE samples (prior + decoder), server side
GOAL_TEACH_P95_MS = 150.0  # each of the views' updates (TEACH below)
SAMPLES = 16
ROUNDS = 2  # with --reference: this many alternating rounds per app, each with interactions / ROUNDS of each kind
DRAG_MOVES, DRAG_MS = 30, 16  # a slider drag: mouse moves, and the pause between them (about 60 per second)
# between two clicks on the map: two clicks within the plot's doubleClickDelay (300 ms) are a double click for
# Plotly (zoom reset), which is another interaction than the one measured here
PAUSE_MS = 350
PAGE_DECODER_MS = 30_000  # the longest a page waits for its decoder (web/page_decoder.py) before the clicks

# arm a timer: t0 at the next `start` event (captured on `target`), t1 once `image` (#decoded-image, or the Maths
# tab's #maths-decoded) has new pixels ready to paint: a <canvas> (this version) drawn anew, or an <img> (versions
# before 0.4) with a new src, loaded and decoded
ARM_JS = """([target, start, image]) => {
  const box = document.querySelector(image), canvas = box.querySelector('canvas');
  const w = window.__vx = {t0: null, t1: null};
  document.querySelector(target).addEventListener(start, () => { w.t0 = performance.now(); },
                                                  {capture: true, once: true});
  if (canvas) {
    const old = canvas.dataset.frame;
    const obs = new MutationObserver(() => {
      if (canvas.dataset.frame === old || w.t1 !== null) return;
      w.t1 = performance.now();
      obs.disconnect();
    });
    obs.observe(canvas, {attributes: true, attributeFilter: ['data-frame']});
    return;
  }
  const img = () => box.querySelector('img');
  const old = img().src;
  const obs = new MutationObserver(() => {
    const i = img();
    if (!i || i.src === old || w.t1 !== null || w.pending) return;
    w.pending = true;
    obs.disconnect();
    (i.complete ? Promise.resolve() : new Promise((ok) => i.addEventListener('load', ok, {once: true})))
      .then(() => i.decode()).catch(() => {}).then(() => { w.t1 = performance.now(); });
  });
  obs.observe(box, {subtree: true, childList: true, attributes: true});
}"""


# arm a timer: t0 at the next `start` event (captured on `target`), t1 once every watched [selector, what] shows a
# new value, `what` being 'text' (the element's text) or an attribute (an image's src, a canvas' data-frame): the
# whole update is in the page. (Not the HTML: Gradio marks an output pending, and changes its HTML, as the event
# starts.)
ARM_CHANGE_JS = """([target, start, watched]) => {
  const value = ([sel, what]) => { const e = document.querySelector(sel);
                                   return !e ? null : what === 'text' ? e.textContent : e.getAttribute(what); };
  const old = watched.map(value);
  const w = window.__vx = {t0: null, t1: null};
  document.querySelector(target).addEventListener(start, () => { w.t0 = performance.now(); },
                                                  {capture: true, once: true});
  const obs = new MutationObserver(() => {
    if (w.t1 !== null || !watched.every((x, k) => value(x) !== old[k])) return;
    w.t1 = performance.now();
    obs.disconnect();
  });
  for (const [sel] of watched) {  // each under its component (its elem_id, the selector's first part): kept
    obs.observe(document.querySelector(sel.split(' ')[0]),
                {subtree: true, childList: true, attributes: true, characterData: true});
  }
}"""


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max()), "n": len(a)}


# count the new images #decoded-image shows from now on (canvas drawings, or new <img> sources)
COUNT_JS = """() => {
  const box = document.querySelector('#decoded-image');
  const shown = () => {
    const c = box.querySelector('canvas'); return c ? c.dataset.frame : box.querySelector('img').src;
  };
  const w = window.__vxCount = {n: 0, last: shown()};
  new MutationObserver(() => {
    const s = shown();
    if (s !== w.last) { w.last = s; w.n += 1; }
  }).observe(box, {subtree: true, childList: true, attributes: true});
}"""


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


# --- 1. start ---------------------------------------------------------------------------------------------------
def bench_start(folders: list[str], runs: int, log_path: Path) -> dict:
    ref = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gradio"], check=True, cwd=ROOT)
        ref.append(time.perf_counter() - t)
    stop_app(start_app(folders, log_path)[0])  # warm-up: file caches
    starts = []
    for _ in range(runs):
        proc, _, s = start_app(folders, log_path)
        starts.append(s)
        stop_app(proc)
    return {"start_s": stats(starts), "import_gradio_s": stats(ref)}


# --- 2. server-side decodes ------------------------------------------------------------------------------------
@torch.no_grad()
def bench_server(ex: Explorer, vae: str, vq: str, calls: int) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    if vae:
        latents = ex.store.latent_view(vae).proj.latents  # also warms the projection cache for the app
        model = ex.store.model(vae)
        zs = [latents[i].tolist() for i in rng.integers(0, len(latents), calls)]
        it = iter(zs * 2)
        ex.map.decode_latent(vae, zs[0])
        out["decode_latent_ms"] = stats(timed(lambda: ex.map.decode_latent(vae, next(it)), calls))
        tz = iter([torch.tensor(z, dtype=torch.float32)[None] for z in zs])
        out["vae_forward_ms"] = stats(timed(lambda: model.decode_location(next(tz)), calls))
        out["vae_sample_ms"] = bench_sample(model, calls)
    if vq:
        grids = ex.store.codebook_view(vq).grids
        model = ex.store.model(vq)
        gs = [grids[i].tolist() for i in rng.integers(0, len(grids), calls)]
        it = iter(gs)
        ex.codes.decode_codes(vq, gs[0])
        out["decode_codes_ms"] = stats(timed(lambda: ex.codes.decode_codes(vq, next(it)), calls))
        tg = iter([torch.tensor(g, dtype=torch.int64)[None] for g in gs])
        out["vq_forward_ms"] = stats(timed(lambda: model.decode_indices(next(tg)), calls))
        if model.prior is not None:
            out["vq_sample_ms"] = bench_sample(model, calls)
    return out


def bench_sample(model, calls: int) -> dict:
    """ms for SAMPLES images in [0, 1], a new seed each call: a VAE's sample(), a VQ-VAE's code grids from its prior
    decoded (what the Generate tab asks for, before the PNGs)."""
    seeds = iter(range(calls + 1))
    if model.kind == "vae":
        draw = lambda g: model.sample(SAMPLES, g)  # noqa: E731
    else:
        draw = lambda g: model.decode_indices(model.prior.sample(SAMPLES, generator=g))  # noqa: E731
    draw(torch.Generator().manual_seed(next(seeds)))
    return stats(timed(lambda: draw(torch.Generator().manual_seed(next(seeds))), calls))


# --- 3. end to end in Chromium ----------------------------------------------------------------------------------
def measure(page, target: str, start_event: str, act, image: str = "#decoded-image", watch=None) -> float | None:
    """ms from `start_event` on `target` to the new decoded image (or, with `watch`: [[selector, 'text' or an
    attribute], ...], to every watched element changed), or None when that did not happen in 15 s."""
    if watch:
        page.evaluate(ARM_CHANGE_JS, [target, start_event, watch])
    else:
        page.evaluate(ARM_JS, [target, start_event, image])
    act()
    try:
        page.wait_for_function("() => window.__vx.t1 !== null && window.__vx.t0 !== null", timeout=15_000,
                               polling=5)
    except PlaywrightTimeout:
        return None
    return page.evaluate("() => window.__vx.t1 - window.__vx.t0")


def open_page(browser, url: str, init_script: str | None = None) -> tuple[object, float]:
    """A new page at `url` (with `init_script` run before the page's own), once the map, the selection and the
    decoded image show; and the seconds that took."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    if init_script:
        page.add_init_script(init_script)
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#latent-map .vx-plot[data-ready]", timeout=300_000)
    page.wait_for_function("() => document.querySelector('#selection-info').innerText.includes('#')",
                           timeout=300_000)
    page.wait_for_selector("#decoded-image img, #decoded-image canvas[data-frame]", timeout=60_000)
    seconds = time.perf_counter() - t
    try:  # a version whose page decodes itself: its decoder loaded (its clicks are timed as a visitor's after that)
        page.wait_for_selector("#decoded-image canvas[data-page-decoder]", timeout=PAGE_DECODER_MS)
    except PlaywrightTimeout:
        pass  # a version or a model that decodes on the server
    return page, seconds


def clicks(page, n: int, rng) -> tuple[list[float], int]:
    g = page.evaluate(MAP_GEOMETRY_JS)
    pts = np.array(g["points"], dtype=np.float64)
    inside = ((pts[:, 1] > g["left"] + 5) & (pts[:, 1] < g["left"] + g["width"] - 5)
              & (pts[:, 2] > g["top"] + 5) & (pts[:, 2] < g["top"] + g["height"] - 5))
    pts = pts[inside]
    spots, last = [], np.array([-1e9, -1e9])
    while len(spots) < n:
        x, y = pts[rng.integers(len(pts)), 1:]
        if np.hypot(x - last[0], y - last[1]) >= 40:  # alternate: never near the previous click
            spots.append((x, y))
            last = np.array([x, y])
    return timed_clicks(page, spots, "#latent-map", "#decoded-image")


def timed_actions(page, acts, target: str, start_event: str, image: str = "#decoded-image", watch=None,
                  pause_ms: int = PAUSE_MS) -> tuple[list[float], int]:
    """Run each act() in turn, pause_ms apart, each timed by `measure`: the ms, and the misses."""
    out, misses = [], 0
    for act in acts:
        ms = measure(page, target, start_event, act, image, watch)
        if ms is None:
            misses += 1
        else:
            out.append(ms)
        page.mouse.move(5, 5)
        page.wait_for_timeout(pause_ms)
    return out, misses


def timed_clicks(page, spots, plot: str, image: str) -> tuple[list[float], int]:
    """Click each (x, y) of `plot` in turn, PAUSE_MS apart: the ms to `image`'s new pixels, and the misses."""
    return timed_actions(page, [lambda x=x, y=y: page.mouse.click(x, y) for x, y in spots], plot, "pointerdown", image)


def slides(page, n: int, rng) -> tuple[list[float], int]:
    rng_input = page.locator("#slider-0 input[type=range]")
    out, misses, v = [], 0, float(rng_input.input_value())
    while len(out) + misses < n:
        new = round(float(rng.uniform(-3, 3)), 2)
        if abs(new - v) < 0.5:
            continue
        v = new
        ms = measure(page, "#slider-0 input[type=range]", "input", lambda new=new: rng_input.fill(str(new)))
        if ms is None:
            misses += 1
        else:
            out.append(ms)
        page.wait_for_timeout(100)
    return out, misses


def drag(page) -> float:
    """Drag slider 0 from one end to the other with the mouse; the new images shown per second while dragging."""
    box = page.locator("#slider-0 input[type=range]")
    box.scroll_into_view_if_needed()
    b = box.bounding_box()
    y = b["y"] + b["height"] / 2
    page.mouse.move(b["x"] + b["width"] / 2, y)
    page.mouse.down()
    page.evaluate(COUNT_JS)
    t = time.perf_counter()
    for k in range(DRAG_MOVES):
        page.mouse.move(b["x"] + 4 + (b["width"] - 8) * k / (DRAG_MOVES - 1), y)
        page.wait_for_timeout(DRAG_MS)
    seconds = time.perf_counter() - t
    n = page.evaluate("() => window.__vxCount.n")  # before the release: only what dragging showed
    page.mouse.up()
    page.wait_for_timeout(300)
    return n / seconds


def maths_clicks(page, n: int, rng) -> tuple[list[float], int]:
    """Clicks at random spots of the Maths tab's latent axes (the goal: every such update p95 < 150 ms)."""
    page.get_by_role("tab", name="Maths").click()
    page.wait_for_selector("#maths-axes .vx-plot[data-ready]", timeout=120_000)
    page.wait_for_selector("#maths-decoded canvas[data-frame]", timeout=60_000)
    g = page.evaluate(MAP_GEOMETRY_JS.replace("#latent-map", "#maths-axes"))
    spots = [(g["left"] + g["width"] * rng.uniform(0.05, 0.95), g["top"] + g["height"] * rng.uniform(0.05, 0.95))
             for _ in range(n)]
    return timed_clicks(page, spots, "#maths-axes", "#maths-decoded")


def maths_l_moves(page, n: int, rng) -> tuple[list[float], int]:
    """The Maths tab's L slider moved to a new value: its Monte Carlo text, strip and samples on the axes."""
    box = page.locator("#maths-samples input[type=range]")
    box.scroll_into_view_if_needed()
    values, v = [], int(float(box.input_value()))
    while len(values) < n:
        new = int(rng.integers(1, 65))
        if abs(new - v) >= 4:
            values.append(new)
            v = new
    watch = [["#maths-mc", "text"], ["#maths-mc-strip img", "src"], ["#maths-axes .vx-plot", "data-points"]]
    return timed_actions(page, [lambda v=v: box.fill(str(v)) for v in values], "#maths-samples input[type=range]",
                         "input", watch=watch, pause_ms=150)


def box_selections(page, n: int, rng) -> tuple[list[float], int]:
    """Box selections on the latent map (from the mouse release) -> the gallery of the selected images. The boxes
    alternate between the left and the right half of the plot, so that a drag never starts inside the last box."""
    page.get_by_role("tab", name="Latent map").click()
    g = page.evaluate(MAP_GEOMETRY_JS)
    page.mouse.move(g["left"] + g["width"] / 2, g["top"] + g["height"] / 2)  # the modebar shows on hover
    page.locator('#latent-map .modebar-btn[data-val="select"]').click()

    def drag(k: int):
        u0 = (0.05 if k % 2 == 0 else 0.55) + rng.uniform(0, 0.1)
        u1, v0 = u0 + rng.uniform(0.2, 0.3), rng.uniform(0.05, 0.4)
        v1 = v0 + rng.uniform(0.3, 0.5)
        x0, x1 = g["left"] + u0 * g["width"], g["left"] + u1 * g["width"]
        y0, y1 = g["top"] + v0 * g["height"], g["top"] + v1 * g["height"]

        def act():
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
            page.mouse.move(x1, y1, steps=3)
            page.mouse.up()
        return act

    out = timed_actions(page, [drag(k) for k in range(n)], "body", "pointerup",
                        watch=[["#selection-images img", "src"]])
    page.mouse.move(g["left"] + g["width"] / 2, g["top"] + g["height"] / 2)
    page.locator('#latent-map .modebar-btn[data-val="pan"]').click()  # back to the default drag
    return out


def neighbour_clicks(page, n: int, rng) -> tuple[list[float], int]:
    """A click on one of the nearest neighbours -> the selection text, the decoded image and the new neighbours."""
    strip = page.locator("#neighbours")
    strip.scroll_into_view_if_needed()
    acts = [lambda k=int(k): page.locator("#neighbours button[data-index]").nth(k).click()
            for k in rng.integers(0, 8, n)]
    watch = [["#selection-info", "text"], ["#decoded-image canvas", "data-frame"], ["#neighbours", "text"]]
    return timed_actions(page, acts, "#neighbours", "pointerdown", watch=watch)


def codes_updates(page, n: int, rng, images: int) -> tuple[tuple[list[float], int], tuple[list[float], int]]:
    """The codes view: a new image index (Enter, of `images` test images) -> its quantisation heat maps; a click on a
    cell -> its nearest codes."""
    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_function("() => document.querySelectorAll('#quantization img').length === 4", timeout=120_000)
    box = page.locator("#codes-index input")
    box.scroll_into_view_if_needed()

    def enter(i: int):
        def act():
            box.fill(str(i))
            box.press("Enter")
        return act

    indices = rng.choice(images, min(n, images), replace=False)
    by_index = timed_actions(page, [enter(int(i)) for i in indices], "#codes-index input", "keydown",
                             watch=[["#quantization img", "src"]])
    side = page.locator("#code-grid tr").count()
    cells, last = [], None
    while len(cells) < n:
        cell = tuple(int(v) for v in rng.integers(0, side, 2))
        if cell != last:
            cells.append(cell)
            last = cell
    acts = [lambda r=r, c=c: page.locator(f'#code-grid td[data-row="{r}"][data-col="{c}"]').click() for r, c in cells]
    return by_index, timed_actions(page, acts, "#code-grid", "pointerdown", watch=[["#code-nearest", "text"]])


# the teaching and selection views' updates (this version only): result key -> what the report calls it
TEACH = {"maths_click": "Maths tab: click on the latent axes -> new image",
         "maths_l": "Maths tab: L slider -> Monte Carlo text, strip and samples on the axes",
         "box_select": "map: box selection (mouse release) -> gallery of the selected images",
         "neighbour": "map: click on a nearest neighbour -> selection, decode and neighbours",
         "codes_image": "codes: new image index (Enter) -> quantisation heat maps",
         "codes_cell": "codes: click on a grid cell -> its nearest codes"}


def bench_teach(page, n: int, rng, images: int) -> dict:
    """Each of TEACH, n times (the codes view needs a VQ-VAE: `images` > 0): {key: (ms list, misses)}."""
    out = {"maths_click": maths_clicks(page, n, rng), "maths_l": maths_l_moves(page, n, rng),
           "box_select": box_selections(page, n, rng), "neighbour": neighbour_clicks(page, n, rng)}
    if images:
        out["codes_image"], out["codes_cell"] = codes_updates(page, n, rng, images)
    return out


def bench_browser(apps: dict[str, str], n: int, vq_images: int = 0) -> dict:
    """apps: {label: url}; each measured in ROUNDS alternating rounds (one round without a reference). vq_images:
    the VQ-VAE's test images (0: no VQ-VAE, no codes view measures)."""
    from playwright.sync_api import sync_playwright

    rounds = ROUNDS if len(apps) > 1 else 1
    out = {label: {"click": [], "slider": [], "click_misses": 0, "slider_misses": 0, "drag_fps": [], "loads": [],
                   **{k: [] for k in TEACH}, **{f"{k}_misses": 0 for k in TEACH}} for label in apps}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, url in apps.items():  # the first visit loads the models and projections into the fresh server
            page, s = open_page(browser, url)
            out[label]["first_page_load_s"] = s
            page.close()
        for r in range(rounds):
            for label, url in apps.items():
                rng, o = np.random.default_rng(r), out[label]
                page, s = open_page(browser, url)
                o["loads"].append(s)
                c, m = clicks(page, n // rounds, rng)
                o["click"] += c
                o["click_misses"] += m
                sl, m = slides(page, n // rounds, rng)
                o["slider"] += sl
                o["slider_misses"] += m
                o["drag_fps"].append(drag(page))
                if label == "this":  # versions before 0.4 have none of these views
                    for k, (ms, m) in bench_teach(page, n // rounds, rng, vq_images).items():
                        o[k] += ms
                        o[f"{k}_misses"] += m
                page.close()
        browser.close()
    return {label: {"click_ms": stats(o["click"]), "click_misses": o["click_misses"],
                    "slider_ms": stats(o["slider"]), "slider_misses": o["slider_misses"],
                    "drag_images_per_s": float(np.mean(o["drag_fps"])), "first_page_load_s": o["first_page_load_s"],
                    "page_load_s": stats(o["loads"]),
                    **{f"{k}_ms": stats(o[k]) for k in TEACH if o[k]},
                    **{f"{k}_misses": o[f"{k}_misses"] for k in TEACH if o[k] or o[f"{k}_misses"]}}
            for label, o in out.items()}


# --- report -----------------------------------------------------------------------------------------------------
def table(r: dict) -> str:
    def ms(s):
        return f"{s['median']:.1f} ms", f"{s['p95']:.1f} ms"

    rows = [("measure", "median", "p95", "reference (median)", "ratio"), ("---",) * 5]
    st, ig = r["start"]["start_s"], r["start"]["import_gradio_s"]
    rows.append(("start to serving (HTTP 200), warm caches", f"{st['median']:.2f} s", f"max {st['max']:.2f} s",
                 f"`python -c \"import gradio\"` {ig['median']:.2f} s", f"{st['median'] / ig['median']:.2f}x"))
    for key, threads in (("server", r["torch_threads"]), ("server_1_thread", 1)):
        t = r.get(key, {})
        for what, ref, label in (("decode_latent", "vae_forward", "VAE"), ("decode_codes", "vq_forward", "VQ-VAE")):
            if f"{what}_ms" in t:
                rows.append((f"server: Explorer.{what} ({threads} torch thread{'s' * (threads > 1)})",
                             *ms(t[f"{what}_ms"]), f"bare {label} decoder forward {t[f'{ref}_ms']['median']:.2f} ms",
                             f"{t[f'{what}_ms']['median'] / t[f'{ref}_ms']['median']:.1f}x"))
        for key, label, ref in (("vq_sample_ms", "VQ-VAE: prior + decoder", "vq_forward_ms"),
                                ("vae_sample_ms", "VAE: its prior + decoder", "vae_forward_ms")):
            if key in t:
                what = f"server: sample and decode {SAMPLES} images, {label}"
                rows.append((f"{what} ({threads} torch thread{'s' * (threads > 1)})", *ms(t[key]),
                             f"one bare decoder forward {t[ref]['median']:.2f} ms",
                             f"{t[key]['median'] / t[ref]['median']:.0f}x"))
    browser = r.get("browser")
    if browser:
        b, ref = browser["this"], browser.get("reference")
        sd = min((r[k]["decode_latent_ms"]["median"] for k in ("server", "server_1_thread")
                  if "decode_latent_ms" in r.get(k, {})), default=float("nan"))

        def beside(key, fmt, unit):
            """The reference version's figure in the same run, or the server decode when there is none."""
            if ref:
                x = ref[key]
                mine = b[key]["median"] if isinstance(b[key], dict) else b[key]
                theirs = x["median"] if isinstance(x, dict) else x
                p95 = f", p95 {x['p95']:.1f}" if isinstance(x, dict) else ""
                return f"reference: {fmt.format(theirs)}{p95} {unit}", f"{mine / theirs:.2f}x"
            if key == "drag_images_per_s":
                return "", ""
            return f"server decode_latent {sd:.1f} ms", f"{b[key]['median'] / sd:.0f}x"

        rows.append((f"Chromium: map click -> new image ({b['click_ms']['n']}, {b['click_misses']} missed)",
                     *ms(b["click_ms"]), *beside("click_ms", "{:.1f}", "ms")))
        rows.append((f"Chromium: slider -> new image ({b['slider_ms']['n']}, {b['slider_misses']} missed)",
                     *ms(b["slider_ms"]), *beside("slider_ms", "{:.1f}", "ms")))
        for k, what in TEACH.items():
            if f"{k}_ms" in b:
                rows.append((f"Chromium: {what} ({b[f'{k}_ms']['n']}, {b[f'{k}_misses']} missed)", *ms(b[f"{k}_ms"]),
                             f"goal p95 < {GOAL_TEACH_P95_MS:g} ms", ""))
        rows.append((f"Chromium: images shown while dragging a slider ({DRAG_MOVES} moves, {DRAG_MS} ms apart)",
                     f"{b['drag_images_per_s']:.1f} /s", "", *beside("drag_images_per_s", "{:.1f}", "/s")))
        rows.append(("Chromium: page load -> map and decode shown (first visit)", f"{b['first_page_load_s']:.2f} s",
                     "", f"later visits {b['page_load_s']['median']:.2f} s", ""))
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    start_ok = st["median"] < GOAL_START_S
    lines += ["", (f"Goal: start to serving < {GOAL_START_S:g} s: {'met' if start_ok else 'NOT met'} "
                  f"({st['median']:.2f} s)")]
    sampled = [(r[k]["vq_sample_ms"]["p95"], k) for k in ("server", "server_1_thread")
               if "vq_sample_ms" in r.get(k, {})]
    if sampled:
        p95 = min(sampled)[0]
        lines.append(f"Goal: sample and decode {SAMPLES} VQ-VAE images p95 < {GOAL_SAMPLE_P95_MS:g} ms: "
                     f"{'met' if p95 < GOAL_SAMPLE_P95_MS else 'NOT met'} ({p95:.1f} ms, the faster thread setting)")
    if browser:
        for key, goal, what in (("click_ms", GOAL_CLICK_P95_MS, "click"), ("slider_ms", GOAL_SLIDER_P95_MS, "slider")):
            p95 = b[key]["p95"]
            lines.append(f"Goal: {what} -> image p95 <= {goal:g} ms: {'met' if p95 <= goal else 'NOT met'} "
                         f"({p95:.1f} ms)")
        for k, what in TEACH.items():
            if f"{k}_ms" in b:
                p95 = b[f"{k}_ms"]["p95"]
                lines.append(f"Goal: {what} p95 < {GOAL_TEACH_P95_MS:g} ms: "
                             f"{'met' if p95 < GOAL_TEACH_P95_MS else 'NOT met'} ({p95:.1f} ms)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"], help="as for app.py")
    p.add_argument("--interactions", type=int, default=50, help="map clicks and slider moves, each")
    p.add_argument("--calls", type=int, default=200, help="server-side decodes of each kind")
    p.add_argument("--starts", type=int, default=3, help="app starts timed (after one warm-up)")
    p.add_argument("--no-browser", action="store_true", help="skip the Chromium measurements")
    p.add_argument("--reference", type=Path, help="a checkout of another version of the app, measured beside")
    p.add_argument("--reference-checkpoints", type=Path,
                   help="checkpoints for the reference app (default: its own checkpoints/ folder, which its version "
                        "of vae_core can read)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--log", type=Path, default=Path("/tmp/app_benchmark.log"), help="app.py's output")
    args = p.parse_args(argv)
    folders = [str(Path(f).resolve()) for f in args.checkpoints]

    ex = Explorer(folders, log=lambda *a: None)
    vaes, vqs = ex.store.names("vae"), ex.store.names("vqvae")
    if not vaes and not vqs:
        sys.exit(f"no checkpoints in {folders}")
    vae, vq = (vaes or [None])[0], (vqs or [None])[0]
    r = {"checkpoints": folders, "vae": vae, "vqvae": vq, "python": platform.python_version(),
         "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
         "load_average": os.getloadavg(), "cpu": cpu_name(), "native_bf16": native_bf16()}
    print(f"benchmarking {vae} and {vq} from {folders} ({r['cpus']} CPUs, load {r['load_average'][0]:.1f})",
          file=sys.stderr)
    r["server"] = bench_server(ex, vae, vq, args.calls)  # first: it also warms the projection caches
    if r["torch_threads"] > 1:  # small single-image forwards often run faster on one thread, above all on a busy CPU
        torch.set_num_threads(1)
        r["server_1_thread"] = bench_server(ex, vae, vq, args.calls)
        torch.set_num_threads(r["torch_threads"])
    r["start"] = bench_start(folders, args.starts, args.log)
    if not args.no_browser and vae:
        roots = {"this": ROOT, **({"reference": args.reference.resolve()} if args.reference else {})}
        procs, urls = [], {}
        try:
            for label, root in roots.items():
                ckpts = folders if label == "this" else [args.reference_checkpoints or root / "checkpoints"]
                proc, urls[label], _ = start_app(ckpts, args.log, root=root)
                procs.append(proc)
            r["browser"] = bench_browser(urls, args.interactions, len(ex.store.data(vq).x_test) if vq else 0)
            r["reference"] = str(roots.get("reference", ""))
        finally:
            for proc in procs:
                stop_app(proc)
    r["table"] = (f"{r['cpu']}, {r['cpus']} CPUs, native bf16: {r['native_bf16']}, load {r['load_average'][0]:.1f}\n\n"
                  + table(r))
    print(r["table"])
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
