"""The static site against the app, in the same run: how long the export takes, and in headless Chromium how fast
each page answers a map click and a slider move, how soon its map is drawn, and how many requests it makes after
loading.

    python -m benchmarks.static_site_benchmark [--checkpoints checkpoints/] [--images PATH] [--interactions 50]
                                               [--no-app] [--json out.json]

1. export: `export_site` over the checkpoints, from the call to the finished folder (goal <= 120 s), and the site's
   size besides the libraries (goal <= 25 MB).
2. in Chromium, the site served by `python -m http.server` (no app running while it is measured) and then the app
   (`python app.py`), each on its own: first map drawn after navigation (goal <= 3 s for the site), click -> image and
   slider -> image, timed inside the page exactly as benchmarks/app_benchmark.py times them (goal p95 <= 16 ms for
   the site: one frame at 60 Hz), and the requests the page made while the clicks and slider moves ran. The app's
   page is timed once it has loaded its own decoder (web/page_decoder.py), as app_benchmark times it.
With --images (as app.py's, e.g. the 70,000 Fashion-MNIST images of benchmarks/map70k_benchmark.py), every model
shows those images.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from benchmarks.app_benchmark import PAGE_DECODER_MS, clicks, slides, stats
from benchmarks.machine import cpu_name, native_bf16
from explorer.service.explorer import Explorer
from explorer.site.export import export_site
from tests.launch import CHROMIUM, CHROMIUM_ARGS, serve_folder, start_app, stop_app

GOAL_EXPORT_S, GOAL_MB, GOAL_FIRST_MAP_S, GOAL_SITE_P95_MS = 120.0, 25.0, 3.0, 16.0


def bench_page(browser, url: str, n: int, ready: str, own_decoder: bool = False) -> dict:
    """First map, clicks and slider moves on one page (with `own_decoder`, the app's page: once it has loaded the
    decoder the app offers it); the requests it made meanwhile."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#latent-map .vx-plot[data-ready]", timeout=300_000)
    first_map = time.perf_counter() - t
    page.wait_for_selector(ready, timeout=300_000)
    page.wait_for_selector("#decoded-image canvas[data-frame]", timeout=60_000)
    if own_decoder:
        page.wait_for_selector("#decoded-image canvas[data-page-decoder]", timeout=PAGE_DECODER_MS)
    requests = []
    page.on("request", lambda r: r.url.startswith("http") and requests.append(r.url))
    rng = np.random.default_rng(0)
    click_ms, click_misses = clicks(page, n, rng)
    slide_ms, slide_misses = slides(page, n, rng)
    page.close()
    return {"first_map_s": first_map, "click": stats(click_ms), "click_misses": click_misses,
            "slider": stats(slide_ms), "slider_misses": slide_misses, "requests": len(requests)}


def table(r: dict) -> str:
    e = r["export"]
    lines = [f"export: {e['seconds']:.0f} s (goal <= {GOAL_EXPORT_S:.0f} s), {e['mb']:.1f} MB besides the libraries "
             f"(goal <= {GOAL_MB:.0f} MB), {e['mb_all']:.1f} MB in all; models: {', '.join(e['models'])}", "",
             "| page | first map | click -> image p50 / p95 | slider -> image p50 / p95 | requests after load |",
             "|---|---|---|---|---|"]
    for name, b in r["pages"].items():
        lines.append(f"| {name} | {b['first_map_s']:.2f} s | {b['click']['median']:.1f} / {b['click']['p95']:.1f} ms"
                     f" | {b['slider']['median']:.1f} / {b['slider']['p95']:.1f} ms | {b['requests']} |")
    lines.append(f"\nGoals for the site: first map <= {GOAL_FIRST_MAP_S:.0f} s, click and slider p95 <= "
                 f"{GOAL_SITE_P95_MS:.0f} ms, no request after load.")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"], help="as for app.py")
    p.add_argument("--interactions", type=int, default=50, help="map clicks and slider moves, each, per page")
    p.add_argument("--images", metavar="PATH", help="the images every model shows (app.py --images)")
    p.add_argument("--no-app", action="store_true", help="measure the site only")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--log", type=Path, default=Path("/tmp/static_site_benchmark.log"), help="app.py's output")
    args = p.parse_args(argv)
    folders = [str(Path(f).resolve()) for f in args.checkpoints]
    r = {"cpu": cpu_name(), "cpus": os.cpu_count(), "native_bf16": native_bf16(), "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        report = export_site(Explorer(folders, log=lambda *a: None, images=args.images), Path(tmp) / "site",
                             log=lambda *a: print(*a, file=sys.stderr))
        r["export"] = {"seconds": time.perf_counter() - t, "mb": report.megabytes(),
                       "mb_all": report.megabytes(libraries=True), "models": report.models}
        r["pages"] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            with serve_folder(report.out) as url:
                r["pages"]["static site"] = bench_page(browser, url, args.interactions, "body[data-loaded='all']")
            if not args.no_app:
                proc, app_url, _ = start_app(folders, args.log, args=("--images", args.images) if args.images else ())
                try:
                    r["pages"]["app"] = bench_page(browser, app_url, args.interactions, "#selection-info",
                                                 own_decoder=True)
                finally:
                    stop_app(proc)
            browser.close()
    r["table"] = (f"{r['cpu']}, {r['cpus']} CPUs, native bf16: {r['native_bf16']}, load {r['load_average'][0]:.1f}\n\n"
                  + table(r))
    print(r["table"])
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
