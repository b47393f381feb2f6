"""The latent map at 70,000 points in Chromium, as a user meets it, next to the same app over 10,000 in the same run.

    python -m benchmarks.map70k_benchmark [--clicks 100] [--loads 3] [--tmp DIR] [--json out.json]

"70k": `python app.py --checkpoints <tmp>/checkpoints --images <tmp>/fashion-mnist-70k.npz`, all 70,000 Fashion-MNIST
images (train + test, with labels) on fashion-vae's map. "10k", the reference: the same app and checkpoint without
--images, fashion-vae's own 10,000 test images (the map app_benchmark measures). The checkpoint is a copy of
checkpoints/fashion-vae in the temporary folder, so that the 70,000 images' projection cache is written there, not
into the repository; the projection is computed first in this process (`explorer.precompute` takes no --images), so
that neither app fits UMAP while it is timed. Both apps run side by side and are measured in alternating rounds.

Measured in headless Chromium (tests/launch.py's flags: software WebGL, no GPU):
- page load: from page.goto to an interactive map (the map's Plotly figure drawn and its events bound: its
  data-ready mark, timed in the page from navigation start), and to everything app_benchmark's open_page waits for
  (map, selection text and decoded image, timed from Python); the first visit to a fresh server apart (it loads the
  model and the projection), then the median of the later ones. The map figure's download (bytes on the wire, and
  its request's time) beside it.
- map click -> image: app_benchmark's measure (pointerdown to the decoded image's canvas drawn anew, in the page),
  PAUSE_MS apart, half on points (random points, each far from the last) and half in empty space (random spots
  at least EMPTY_PX from every point), split into: the page's pick (pointerdown to the map's direct decode request:
  Plotly's click handling, which finds the point under the pointer), the decode request (its fetch, loopback and
  the server's work), and the draw (the response to the canvas drawn).
- server: RSS of the app process after the clicks, and its peak (VmHWM); in this process, with the app's torch
  threads (VAE_EXPLORER_THREADS, default 1), the server's share of a click (Explorer.map_latent + decode_latent, at
  points and at map positions) for both image sets.

Goal: map click -> image p95 <= 40 ms at 70,000 points, as at 10,000.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.app_benchmark import GOAL_CLICK_P95_MS, PAUSE_MS, measure, open_page, stats
from benchmarks.machine import describe, machine
from tests.launch import CHROMIUM, CHROMIUM_ARGS, MAP_GEOMETRY_JS, ROOT, start_app, stop_app

NAME = "fashion-vae"
ROUNDS = 2
EMPTY_PX = 25  # an empty-space click: further than Plotly's hoverdistance (20 px) from every point
QUIET_LOAD, QUIET_WAIT_S = 3.0, 600

# before any page script: keep every resource timing entry (the page load makes many)
INIT_JS = "performance.setResourceTimingBufferSize(100000);"

# page load, in the page: ms from navigation start to the map's data-ready mark (Plotly drew it and bound its
# events), and the figure's request (the largest component_server response: server.figure)
LOAD_JS = """() => {
  const gd = document.querySelector('#latent-map .vx-plot');
  const nav = performance.getEntriesByType('navigation')[0];
  const calls = performance.getEntriesByType('resource').filter((e) => e.name.includes('component_server'));
  const fig = calls.sort((a, b) => b.decodedBodySize - a.decodedBodySize)[0];
  return {ready_ms: Number(gd.dataset.ready) - performance.timeOrigin,
          dom_ms: nav ? nav.domContentLoadedEventEnd : null,
          fig: fig ? {start: fig.startTime, end: fig.responseEnd, bytes: fig.encodedBodySize,
                      decoded: fig.decodedBodySize} : null};
}"""

# armed with each click (after app_benchmark's ARM_JS): when the map sent its direct decode request ('vx-decode'),
# of which kind (point or space), and the pointerdown's wait before its handlers ran (main thread busy)
SPLIT_JS = """() => {
  performance.clearResourceTimings();
  const s = window.__vxSplit = {pick: null, kind: null, inputDelay: null};
  document.addEventListener('vx-decode', (e) => {
    if (s.pick === null) { s.pick = performance.now(); s.kind = e.detail.kind; }
  }, {capture: true});
  document.querySelector('#latent-map').addEventListener('pointerdown', (e) => {
    s.inputDelay = performance.now() - e.timeStamp;
  }, {capture: true, once: true});
}"""

READ_SPLIT_JS = """() => {
  const s = window.__vxSplit, w = window.__vx;
  const f = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('component_server') && s.pick !== null && e.startTime >= s.pick - 1)[0];
  return {kind: s.kind, inputDelay: s.inputDelay, pick: s.pick === null ? null : s.pick - w.t0,
          fetch: f ? f.responseEnd - f.startTime : null, server: f ? f.responseStart - f.requestStart : null,
          draw: f ? w.t1 - f.responseEnd : null};
}"""


HEAP_JS = "() => performance.memory ? performance.memory.usedJSHeapSize : 0"


def wait_quiet(log=print) -> tuple[float, bool]:
    """Wait (60 s at a time, up to QUIET_WAIT_S) while the 1-minute load is above QUIET_LOAD: the load then, and
    whether it was quiet."""
    t = time.monotonic()
    while os.getloadavg()[0] > QUIET_LOAD and time.monotonic() - t < QUIET_WAIT_S:
        log(f"load {os.getloadavg()[0]:.2f} > {QUIET_LOAD:g}: waiting 60 s")
        time.sleep(60)
    load = os.getloadavg()[0]
    if load > QUIET_LOAD:
        log(f"load still {load:.2f} after {QUIET_WAIT_S} s: running anyway")
    return load, load <= QUIET_LOAD


def prepare(tmp: Path, log=print) -> tuple[Path, Path]:
    """<tmp>/fashion-mnist-70k.npz (x: 70,000 x 1 x 28 x 28 uint8, train then test; y: labels) and a copy of
    checkpoints/fashion-vae under <tmp>/checkpoints (each made once: a kept --tmp reuses them)."""
    from vae_core.data import load_dataset

    npz, ckpts = tmp / "fashion-mnist-70k.npz", tmp / "checkpoints"
    if not npz.exists():
        ds = load_dataset("fashion-mnist", log=log)
        x = np.concatenate([ds.x_train, ds.x_test])
        y = np.concatenate([ds.y_train, ds.y_test]).astype(np.int64)
        np.savez(npz, x=x, y=y)
        log(f"wrote {npz}: x {x.shape} {x.dtype}, y {y.shape}")
    if not (ckpts / NAME).exists():
        shutil.copytree(ROOT / "checkpoints" / NAME, ckpts / NAME)
    return npz, ckpts


def warm(ckpts: Path, npz: Path, log=print) -> dict:
    """Compute (or find) both projections in this process, as the app would on its first open; then time the
    server's share of a click: map_latent + decode_latent at points and at map positions."""
    import torch

    from explorer.service.explorer import Explorer

    torch.set_num_threads(int(os.environ.get("VAE_EXPLORER_THREADS", "1")))  # as the app runs (web/launch.py)
    out = {}
    for label, images in (("70k", npz), ("10k", None)):
        ex = Explorer([ckpts], log=lambda *a: None, images=images)
        t = time.perf_counter()
        view = ex.store.latent_view(NAME, progress=lambda f, what, label=label: log(f"{label}: {what}"))
        n = len(view.proj.latents)
        rng = np.random.default_rng(0)
        lo, hi = view.proj.coords.min(0), view.proj.coords.max(0)
        indices, positions = rng.integers(0, n, 200).tolist(), rng.uniform(lo, hi, (200, 2)).tolist()
        ex.map.decode_latent(NAME, list(ex.map.map_latent(NAME, index=0)), side=0)
        point = [click_ms(ex, index=i) for i in indices]
        space = [click_ms(ex, x=x, y=y) for x, y in positions]
        out[label] = {"points": n, "projection_s": time.perf_counter() - t, "server_point_ms": stats(point),
                      "server_space_ms": stats(space)}
    return out


def click_ms(ex, **where) -> float:
    """ms for the server's work for one map click: the latent at `where` (index=, or x=, y=) and its decode."""
    t = time.perf_counter()
    ex.map.decode_latent(NAME, list(ex.map.map_latent(NAME, **where)), side=0)
    return (time.perf_counter() - t) * 1000


def rss(pid: int) -> dict:
    """The process' resident memory now and at its peak, MB (Linux /proc)."""
    f = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(f["VmRSS"].split()[0]) / 1024, "peak_mb": int(f["VmHWM"].split()[0]) / 1024}


def load_page(browser, url: str) -> tuple[object, dict]:
    """app_benchmark.open_page, with every resource timed: the page, and its load's times."""
    page, full = open_page(browser, url, INIT_JS)
    return page, {"all_s": full, **page.evaluate(LOAD_JS)}


def spots(page, n: int, rng) -> tuple[list[tuple[float, float, str]], int]:
    """n click spots on the map, alternating a random point (far from the last spot) and an empty spot (EMPTY_PX
    from every point); and how many points the map shows."""
    from scipy.spatial import cKDTree

    g = page.evaluate(MAP_GEOMETRY_JS)
    pts = np.array(g["points"], dtype=np.float64)
    inside = ((pts[:, 1] > g["left"] + 5) & (pts[:, 1] < g["left"] + g["width"] - 5)
              & (pts[:, 2] > g["top"] + 5) & (pts[:, 2] < g["top"] + g["height"] - 5))
    tree, xy = cKDTree(pts[:, 1:]), pts[inside, 1:]
    out, last = [], np.array([-1e9, -1e9])
    for _ in range(100_000):
        if len(out) >= n:
            break
        if len(out) % 2 == 0:
            s = xy[rng.integers(len(xy))]
        else:
            s = np.array([g["left"] + g["width"] * rng.uniform(0.03, 0.97),
                          g["top"] + g["height"] * rng.uniform(0.03, 0.97)])
            if tree.query(s)[0] < EMPTY_PX:
                continue
        if np.hypot(*(s - last)) >= 40:
            out.append((float(s[0]), float(s[1]), "point" if len(out) % 2 == 0 else "space"))
            last = s
    return out, len(pts)


def clicks(page, n: int, rng) -> dict:
    """n map clicks (app_benchmark's measure), PAUSE_MS apart, each with its split."""
    where, shown = spots(page, n, rng)
    out = {"points_on_map": shown, "clicks": [], "misses": 0}
    for x, y, aim in where:
        ms = measure(page, "#latent-map", "pointerdown",
                     lambda x=x, y=y: (page.evaluate(SPLIT_JS), page.mouse.click(x, y)))
        if ms is None:
            out["misses"] += 1
        else:
            out["clicks"].append({"aim": aim, "ms": ms, **page.evaluate(READ_SPLIT_JS)})
        page.mouse.move(5, 5)
        page.wait_for_timeout(PAUSE_MS)
    return out


def bench_browser(apps: dict, n: int, loads: int) -> dict:
    """apps: {label: (proc, url)}, measured in ROUNDS alternating rounds."""
    from playwright.sync_api import sync_playwright

    out = {label: {"first_load": None, "loads": [], "clicks": [], "misses": 0} for label in apps}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, (proc, url) in apps.items():  # the first visit: the fresh server loads model and projection
            page, out[label]["first_load"] = load_page(browser, url)
            page.close()
            out[label]["rss_after_first_load"] = rss(proc.pid)
        for r in range(ROUNDS):
            for label, (_, url) in apps.items():
                o, rng = out[label], np.random.default_rng(r)
                for _ in range(max(1, loads // ROUNDS)):
                    page, s = load_page(browser, url)
                    o["loads"].append(s)
                    page.close()
                page, _ = load_page(browser, url)
                c = clicks(page, n // ROUNDS, rng)
                o["points_on_map"] = c["points_on_map"]
                o["clicks"] += c["clicks"]
                o["misses"] += c["misses"]
                o["js_heap_mb"] = page.evaluate(HEAP_JS) / 2**20
                page.close()
        browser.close()
        for label, (proc, _) in apps.items():
            out[label]["rss"] = rss(proc.pid)
    return out


def summary(o: dict) -> dict:
    c = o["clicks"]

    def part(key, rows=c):
        v = [x[key] for x in rows if x.get(key) is not None]
        return stats(v) if v else None

    s = {"clicks": stats([x["ms"] for x in c]), "misses": o["misses"], "points_on_map": o["points_on_map"],
         "by_kind": {k: stats([x["ms"] for x in c if x["kind"] == k]) for k in ("point", "space")
                     if any(x["kind"] == k for x in c)},
         "pick": part("pick"), "fetch": part("fetch"), "server": part("server"), "draw": part("draw"),
         "input_delay": part("inputDelay"),
         **{f"pick_{k}": part("pick", [x for x in c if x["kind"] == k]) for k in ("point", "space")},
         "aimed_point_found_space": sum(x["aim"] == "point" and x["kind"] == "space" for x in c),
         "first_load": o["first_load"], "ready_ms": stats([x["ready_ms"] for x in o["loads"]]),
         "all_s": stats([x["all_s"] for x in o["loads"]]), "fig": o["loads"][-1]["fig"],
         "rss": o["rss"], "rss_after_first_load": o["rss_after_first_load"], "js_heap_mb": o["js_heap_mb"]}
    slow = sorted(c, key=lambda x: -x["ms"])[:max(1, len(c) // 20)]  # the slowest 5%: where their time went
    s["slowest_5pct"] = {k: part(k, slow) for k in ("pick", "fetch", "draw", "inputDelay")}
    s["slowest_5pct"]["kinds"] = [x["kind"] for x in slow]
    return s


def table(r: dict) -> str:
    a, b = r["70k"], r["10k"]

    def ms(s):
        return f"{s['median']:.1f} / {s['p95']:.1f} ms" if s else "-"

    def mb(x):
        return f"{x / 1e6:.2f} MB" if x else "-"

    rows = [("measure", f"70,000 points ({a['points_on_map']:,} on the map)",
             f"reference: 10,000 ({b['points_on_map']:,} on the map)", "ratio (median)"), ("---",) * 4]

    def add(what, x, y, fmt, key="median"):
        ratio = f"{x[key] / y[key]:.2f}x" if x and y and y[key] else ""
        rows.append((what, fmt(x), fmt(y), ratio))

    add("page load -> interactive map (first visit, fresh server), s",
        {"median": a["first_load"]["ready_ms"] / 1000}, {"median": b["first_load"]["ready_ms"] / 1000},
        lambda s: f"{s['median']:.2f} s")
    add("page load -> interactive map (later visits), median / p95",
        {k: v / 1000 for k, v in a["ready_ms"].items() if k != "n"},
        {k: v / 1000 for k, v in b["ready_ms"].items() if k != "n"},
        lambda s: f"{s['median']:.2f} / {s['p95']:.2f} s")
    add("page load -> map, selection and decoded image shown (later visits)", a["all_s"], b["all_s"],
        lambda s: f"{s['median']:.2f} s")
    add("map figure download: bytes on the wire (request time)",
        {"median": a["fig"]["bytes"], "t": a["fig"]["end"] - a["fig"]["start"]},
        {"median": b["fig"]["bytes"], "t": b["fig"]["end"] - b["fig"]["start"]},
        lambda s: f"{mb(s['median'])} ({s['t']:.0f} ms)")
    add(f"map click -> image, all ({a['clicks']['n']} / {b['clicks']['n']} clicks, {a['misses']} / {b['misses']} "
        "missed), median / p95", a["clicks"], b["clicks"], ms)
    for k, what in (("point", "on a point"), ("space", "in empty space")):
        add(f"  clicks {what} (n {a['by_kind'].get(k, {}).get('n', 0)} / {b['by_kind'].get(k, {}).get('n', 0)})",
            a["by_kind"].get(k), b["by_kind"].get(k), ms)
    add("  of which the page's pick (pointerdown -> decode request sent)", a["pick"], b["pick"], ms)
    add("    on a point (Plotly's plotly_click)", a["pick_point"], b["pick_point"], ms)
    add("    in empty space (the click event, after Plotly's own handling)", a["pick_space"], b["pick_space"], ms)
    add("  of which the decode request (fetch, loopback + server)", a["fetch"], b["fetch"], ms)
    add("    its time to first byte (Gradio's server function and the decode)", a["server"], b["server"], ms)
    add("  of which the draw (response -> canvas drawn)", a["draw"], b["draw"], ms)
    add("not in the click figure: the pointerdown's wait for the page's main thread", a["input_delay"],
        b["input_delay"], ms)
    add("server in-process: map_latent + decode_latent at a point", r["server"]["70k"]["server_point_ms"],
        r["server"]["10k"]["server_point_ms"], ms)
    add("server in-process: map_latent + decode_latent at a map position", r["server"]["70k"]["server_space_ms"],
        r["server"]["10k"]["server_space_ms"], ms)
    add("server RSS after the clicks (peak)", {"median": a["rss"]["rss_mb"], "p": a["rss"]["peak_mb"]},
        {"median": b["rss"]["rss_mb"], "p": b["rss"]["peak_mb"]}, lambda s: f"{s['median']:.0f} MB ({s['p']:.0f} MB)")
    add("page JS heap after the clicks", {"median": a["js_heap_mb"]}, {"median": b["js_heap_mb"]},
        lambda s: f"{s['median']:.0f} MB")
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    p95 = a["clicks"]["p95"]
    lines += ["", f"Goal: map click -> image p95 <= {GOAL_CLICK_P95_MS:g} ms at 70,000 points: "
                  f"{'met' if p95 <= GOAL_CLICK_P95_MS else 'NOT met'} ({p95:.1f} ms; at 10,000: "
                  f"{b['clicks']['p95']:.1f} ms)"]
    sl = a["slowest_5pct"]
    lines.append("Slowest 5% of the 70,000-point clicks (median of each part): "
                 + ", ".join(f"{k} {sl[k]['median']:.1f} ms" for k in ("pick", "fetch", "draw", "inputDelay") if sl[k])
                 + f"; kinds {sl['kinds']}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clicks", type=int, default=100, help="map clicks per app (half on points, half in space)")
    p.add_argument("--loads", type=int, default=4, help="later page loads timed per app")
    p.add_argument("--tmp", type=Path, help="keep the .npz, the checkpoint copy and its caches here (default: a "
                                            "temporary folder, removed after)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (a try run)")
    p.add_argument("--log", type=Path, default=Path("/tmp/map70k_benchmark.log"), help="app.py's output")
    args = p.parse_args(argv)

    def log(*a):
        print(*a, file=sys.stderr, flush=True)

    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="map70k-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        npz, ckpts = prepare(tmp, log)
        r = {"machine": machine(), "tmp": str(tmp)}
        r["server"] = warm(ckpts, npz, log)  # the projections cached: neither app fits UMAP
        r["load_before"], r["quiet"] = (os.getloadavg()[0], False) if args.no_wait else wait_quiet(log)
        apps = {}
        try:
            for label, extra in (("70k", ("--images", str(npz))), ("10k", ())):
                proc, url, start_s = start_app([ckpts], args.log, args=extra)
                apps[label] = (proc, url)
                r[f"start_s_{label}"] = start_s
            b = bench_browser(apps, args.clicks, args.loads)
        finally:
            for proc, _ in apps.values():
                stop_app(proc)
        r["load_after"] = os.getloadavg()[0]
        r.update({label: summary(o) for label, o in b.items()})
        r["raw"] = b
    finally:
        if not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    quiet = "" if r["quiet"] else " (never below 3 in 10 minutes: run anyway)"
    r["table"] = (f"{describe(r['machine'])}; load average (1 min) {r['load_before']:.2f} before{quiet}, "
                  f"{r['load_after']:.2f} after\n\n" + table(r))
    print(r["table"])
    if args.json:
        args.json.write_text(json.dumps(r, indent=2, default=str))


if __name__ == "__main__":
    main()
