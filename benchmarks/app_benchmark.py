"""How fast the app starts and answers, each number next to a reference.

    python benchmarks/app_benchmark.py [--checkpoints checkpoints/] [--interactions 50] [--reference DIR]
                                       [--json out.json]

1. start to serving: `python app.py` from process start to its first HTTP 200 (projection caches warm), next to
   the time `python -c "import gradio"` takes.
2. server-side decodes: Explorer.decode_latent / decode_codes in this process (validation, decoder, PIL image),
   next to the bare decoder forward on the same input; and generation: model.sample(16) (the VQ-VAE: a code grid
   drawn cell by cell from its prior, then decoded; the VAE: z ~ N(0, I), decoded), a new seed each call.
3. end to end in headless Chromium: from a click on the latent map (alternating random points) and from a slider
   move to the new decoded image being ready to paint in the page, timed inside the page (pointerdown / input event
   to the canvas drawn anew, or, for versions before 0.4, the new <img> loaded and decoded), with a pause of PAUSE_MS between clicks; and a slider dragged with the mouse for DRAG_MOVES
   moves, DRAG_MS apart: the decoded images shown while dragging, per second. With --reference DIR (a checkout of
   another version, e.g. `git worktree add ../before b611008`), its app is measured in the same run, in alternating
   rounds with this one, and shown beside it (with its own checkpoints/ unless --reference-checkpoints is given).

Goals: start to serving < 10 s; click -> image p95 <= 40 ms; slider -> image p95 <= 30 ms; sampling and decoding
16 images from the VQ-VAE's prior p95 < 100 ms (on the 2-core EPYC).
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

from explorer.service import Explorer
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
SAMPLES = 16
ROUNDS = 2  # with --reference: this many alternating rounds per app, each with interactions / ROUNDS of each kind
DRAG_MOVES, DRAG_MS = 30, 16  # a slider drag: mouse moves, and the pause between them (about 60 per second)
# between two clicks on the map: two clicks within the plot's doubleClickDelay (300 ms) are a double click for
# Plotly (zoom reset), which is another interaction than the one measured here
PAUSE_MS = 350

# arm a timer: t0 at the next `start` event (captured on `target`), t1 once `image` (#decoded-image, or the Maths
# tab's #maths-decoded) has new pixels ready to paint: a <canvas> (this version) drawn anew, or an <img> (versions before 0.4) with a new src, loaded and decoded
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


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max()), "n": len(a)}


# count the new images #decoded-image shows from now on (canvas drawings, or new <img> sources)
COUNT_JS = """() => {
  const box = document.querySelector('#decoded-image');
  const shown = () => { const c = box.querySelector('canvas'); return c ? c.dataset.frame : box.querySelector('img').src; };
  const w = window.__vxCount = {n: 0, last: shown()};
  new MutationObserver(() => {
    const s = shown();
    if (s !== w.last) { w.last = s; w.n += 1; }
  }).observe(box, {subtree: true, childList: true, attributes: true});
}"""


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def native_bf16() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


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
        latents = ex.latent_view(vae).proj.latents  # also warms the projection cache for the app
        model = ex.registry.model(vae)
        zs = [latents[i].tolist() for i in rng.integers(0, len(latents), calls)]
        it = iter(zs * 2)
        ex.decode_latent(vae, zs[0])
        out["decode_latent_ms"] = stats(timed(lambda: ex.decode_latent(vae, next(it)), calls))
        tz = iter([torch.tensor(z, dtype=torch.float32)[None] for z in zs])
        out["vae_forward_ms"] = stats(timed(lambda: model.decode_mean(next(tz)), calls))
        out["vae_sample_ms"] = bench_sample(model, calls)
    if vq:
        grids = ex.codebook_view(vq).grids
        model = ex.registry.model(vq)
        gs = [grids[i].tolist() for i in rng.integers(0, len(grids), calls)]
        it = iter(gs)
        ex.decode_codes(vq, gs[0])
        out["decode_codes_ms"] = stats(timed(lambda: ex.decode_codes(vq, next(it)), calls))
        tg = iter([torch.tensor(g, dtype=torch.int64)[None] for g in gs])
        out["vq_forward_ms"] = stats(timed(lambda: model.decode_indices(next(tg)), calls))
        if model.prior is not None:
            out["vq_sample_ms"] = bench_sample(model, calls)
    return out


def bench_sample(model, calls: int) -> dict:
    """ms for model.sample(SAMPLES) (images in [0, 1]), a new seed each call."""
    seeds = iter(range(calls + 1))
    model.sample(SAMPLES, torch.Generator().manual_seed(next(seeds)))
    return stats(timed(lambda: model.sample(SAMPLES, torch.Generator().manual_seed(next(seeds))), calls))


# --- 3. end to end in Chromium ----------------------------------------------------------------------------------
def measure(page, target: str, start_event: str, act, image: str = "#decoded-image") -> float | None:
    """ms from `start_event` on `target` to the new decoded image, or None when no new image came in 15 s."""
    page.evaluate(ARM_JS, [target, start_event, image])
    act()
    try:
        page.wait_for_function("() => window.__vx.t1 !== null && window.__vx.t0 !== null", timeout=15_000,
                               polling=5)
    except PlaywrightTimeout:
        return None
    return page.evaluate("() => window.__vx.t1 - window.__vx.t0")


def open_page(browser, url: str) -> tuple[object, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#latent-map .vx-plot[data-ready]", timeout=300_000)
    page.wait_for_function("() => document.querySelector('#selection-info').innerText.includes('#')",
                           timeout=300_000)
    page.wait_for_selector("#decoded-image img, #decoded-image canvas[data-frame]", timeout=60_000)
    return page, time.perf_counter() - t


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


def timed_clicks(page, spots, plot: str, image: str) -> tuple[list[float], int]:
    """Click each (x, y) of `plot` in turn, PAUSE_MS apart: the ms to `image`'s new pixels, and the misses."""
    out, misses = [], 0
    for x, y in spots:
        ms = measure(page, plot, "pointerdown", lambda x=x, y=y: page.mouse.click(x, y), image)
        if ms is None:
            misses += 1
        else:
            out.append(ms)
        page.mouse.move(5, 5)
        page.wait_for_timeout(PAUSE_MS)
    return out, misses


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
    """Clicks at random spots of the Maths tab's latent axes (issue #14's goal: every update p95 < 150 ms)."""
    page.get_by_role("tab", name="Maths").click()
    page.wait_for_selector("#maths-axes .vx-plot[data-ready]", timeout=120_000)
    page.wait_for_selector("#maths-decoded canvas[data-frame]", timeout=60_000)
    g = page.evaluate(MAP_GEOMETRY_JS.replace("#latent-map", "#maths-axes"))
    spots = [(g["left"] + g["width"] * rng.uniform(0.05, 0.95), g["top"] + g["height"] * rng.uniform(0.05, 0.95))
             for _ in range(n)]
    return timed_clicks(page, spots, "#maths-axes", "#maths-decoded")


def bench_browser(apps: dict[str, str], n: int) -> dict:
    """apps: {label: url}; each measured in ROUNDS alternating rounds (one round without a reference)."""
    from playwright.sync_api import sync_playwright

    rounds = ROUNDS if len(apps) > 1 else 1
    out = {label: {"click": [], "slider": [], "click_misses": 0, "slider_misses": 0, "drag_fps": [], "loads": [],
                   "maths": [], "maths_misses": 0} for label in apps}
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
                if label == "this":  # versions before 0.4 have no Maths tab
                    mc, m = maths_clicks(page, n // rounds, rng)
                    o["maths"] += mc
                    o["maths_misses"] += m
                page.close()
        browser.close()
    return {label: {"click_ms": stats(o["click"]), "click_misses": o["click_misses"],
                    "slider_ms": stats(o["slider"]), "slider_misses": o["slider_misses"],
                    "drag_images_per_s": float(np.mean(o["drag_fps"])), "first_page_load_s": o["first_page_load_s"],
                    "page_load_s": stats(o["loads"]),
                    **({"maths_click_ms": stats(o["maths"]), "maths_misses": o["maths_misses"]} if o["maths"] else {})}
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
                                ("vae_sample_ms", "VAE: N(0, I) + decoder", "vae_forward_ms")):
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
                return f"before the redesign: {fmt.format(theirs)}{p95} {unit}", f"{mine / theirs:.2f}x"
            if key == "drag_images_per_s":
                return "", ""
            return f"server decode_latent {sd:.1f} ms", f"{b[key]['median'] / sd:.0f}x"

        rows.append((f"Chromium: map click -> new image ({b['click_ms']['n']}, {b['click_misses']} missed)",
                     *ms(b["click_ms"]), *beside("click_ms", "{:.1f}", "ms")))
        rows.append((f"Chromium: slider -> new image ({b['slider_ms']['n']}, {b['slider_misses']} missed)",
                     *ms(b["slider_ms"]), *beside("slider_ms", "{:.1f}", "ms")))
        if "maths_click_ms" in b:
            what = (f"Chromium: Maths tab, click on the latent axes -> new image ({b['maths_click_ms']['n']}, "
                    f"{b['maths_misses']} missed)")
            rows.append((what, *ms(b["maths_click_ms"]), "goal p95 < 150 ms", ""))
        rows.append((f"Chromium: images shown while dragging a slider ({DRAG_MOVES} moves, {DRAG_MS} ms apart)",
                     f"{b['drag_images_per_s']:.1f} /s", "", *beside("drag_images_per_s", "{:.1f}", "/s")))
        rows.append(("Chromium: page load -> map and decode shown (first visit)", f"{b['first_page_load_s']:.2f} s",
                     "", f"later visits {b['page_load_s']['median']:.2f} s", ""))
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    start_ok = st["median"] < GOAL_START_S
    lines += ["", (f"Goal: start to serving < {GOAL_START_S:g} s: {'met' if start_ok else 'NOT met'} "
                  f"({st['median']:.2f} s)")]
    sampled = [(r[k]["vq_sample_ms"]["p95"], k) for k in ("server", "server_1_thread") if "vq_sample_ms" in r.get(k, {})]
    if sampled:
        p95 = min(sampled)[0]
        lines.append(f"Goal: sample and decode {SAMPLES} VQ-VAE images p95 < {GOAL_SAMPLE_P95_MS:g} ms: "
                     f"{'met' if p95 < GOAL_SAMPLE_P95_MS else 'NOT met'} ({p95:.1f} ms, the faster thread setting)")
    if browser:
        for key, goal, what in (("click_ms", GOAL_CLICK_P95_MS, "click"), ("slider_ms", GOAL_SLIDER_P95_MS, "slider")):
            p95 = b[key]["p95"]
            lines.append(f"Goal: {what} -> image p95 <= {goal:g} ms: {'met' if p95 <= goal else 'NOT met'} "
                         f"({p95:.1f} ms)")
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
    vaes, vqs = ex.registry.names("vae"), ex.registry.names("vqvae")
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
            r["browser"] = bench_browser(urls, args.interactions)
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
