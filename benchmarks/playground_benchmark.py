"""The Playground's cost to everyone else, and its own update rate, in Chromium.

    python -m benchmarks.playground_benchmark [--clicks 40] [--rounds 2] [--reference DIR] [--json out.json]

One app (`python app.py`, the shipped checkpoints) and three pages in headless Chromium. Page C is a user of the
latent map: it clicks random points (as app_benchmark does) and times each click to the decoded image drawn. Pages A
and B are Playground users training the default VAE on the two moons. In alternating rounds:

    idle:     A and B paused; C clicks                        -> click p95, the reference
    one run:  A trains;        C clicks                        -> click p95; A's updates shown per second
    two runs: A and B train;   C clicks                        -> click p95; A's and B's updates shown per second

"Updates shown" are the scenes the playground canvas drew (its data-draws), counted over the round. Before the
rounds, each app's time to the first scene: from the click on play to the first scene with a step drawn, for A (the
app's first Playground run) and then B (a second tab's, right after); once per app process, so once per run. With
--reference DIR (a checkout of another version, e.g. `git worktree add ../before HEAD~3`), that app is measured in the
same run, in rounds alternating with this one. The browsers of A and B run on this machine too, so their drawing
competes with the server for the two cores: on a shared Space their browsers are elsewhere.

Goals: >= 10 updates shown a second with one run; with two runs training, C's click p95 <= 2x its idle p95; the
first scene within GOAL_FIRST_SCENE_S of play.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from benchmarks.app_benchmark import clicks, open_page, stats
from benchmarks.machine import describe, machine
from tests.launch import CHROMIUM, CHROMIUM_ARGS, ROOT, start_app, stop_app

GOAL_UPDATES_PER_S = 10.0
GOAL_LOADED_RATIO = 2.0
GOAL_FIRST_SCENE_S = 1.0
PHASES = ("idle", "one run", "two runs")
DRAWS_JS = "() => Number(document.querySelector('#pg-canvas .vx-pg').dataset.draws || 0)"
STEPPED_JS = "() => Number(document.querySelector('#pg-canvas .vx-pg').dataset.steps || 0) >= 1"
# the status line: in the canvas, or (versions whose ticks were Gradio events) a Markdown of its own
STATUS_JS = """(s) => (document.querySelector('#pg-canvas .vx-pg-status')
                       || document.querySelector('#pg-status')).innerText.includes(s)"""


def playground_page(browser, url: str):
    page, _ = open_page(browser, url)
    page.get_by_role("tab", name="Playground").click()
    page.wait_for_selector("#pg-play", state="visible")
    return page


def set_playing(page, playing: bool) -> None:
    page.click("#pg-play" if playing else "#pg-pause")
    page.wait_for_function(STATUS_JS, arg="training" if playing else "paused", timeout=60_000)


def first_scene(page) -> float:
    """Seconds from a click on play to the first scene with a step drawn (the page's run paused after)."""
    t = time.perf_counter()
    page.click("#pg-play")
    page.wait_for_function(STEPPED_JS, polling="raf", timeout=120_000)
    seconds = time.perf_counter() - t
    set_playing(page, False)
    return seconds


def phase(pages: dict, name: str, n: int, rng) -> dict:
    """One round of phase `name`: the playground pages set playing or paused, then n timed clicks on page C."""
    trainers = {"idle": [], "one run": ["A"], "two runs": ["A", "B"]}[name]
    for key in ("A", "B"):
        set_playing(pages[key], key in trainers)
    time.sleep(1.0)  # let the runs settle into their rhythm
    before = {k: pages[k].evaluate(DRAWS_JS) for k in trainers}
    t = time.perf_counter()
    ms, misses = clicks(pages["C"], n, rng)
    seconds = time.perf_counter() - t
    rates = {k: (pages[k].evaluate(DRAWS_JS) - before[k]) / seconds for k in trainers}
    for key in trainers:
        set_playing(pages[key], False)
    return {"ms": ms, "misses": misses, "rates": rates}


def open_pages(browser, url: str) -> dict:
    """Page C (the map's user) and pages A and B (playground users) of the app at `url`."""
    return {"C": open_page(browser, url)[0], "A": playground_page(browser, url), "B": playground_page(browser, url)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clicks", type=int, default=40, help="clicks per phase and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reference", help="a checkout of another version, measured in the same run")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    m = machine()
    print(describe(m), flush=True)
    roots = {"this": ROOT}
    if args.reference:
        roots["reference"] = Path(args.reference).resolve()
    log = Path(tempfile.mkdtemp()) / "app.log"
    procs, results = {}, {name: {ph: {"ms": [], "misses": 0, "rates": {}} for ph in PHASES} for name in roots}
    firsts = {}
    rng = np.random.default_rng(0)
    try:
        urls = {}
        for name, root in roots.items():
            procs[name], urls[name], _ = start_app([root / "checkpoints"], log, root=root)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = {name: open_pages(browser, url) for name, url in urls.items()}
            for name in roots:
                firsts[name] = {k: first_scene(pages[name][k]) for k in ("A", "B")}
                print(f"{name:>9} first scene: " + ", ".join(f"{k} {v:.2f} s" for k, v in firsts[name].items()),
                      flush=True)
            for r in range(args.rounds):
                for name in roots:
                    for ph in PHASES:
                        out = phase(pages[name], ph, args.clicks, rng)
                        acc = results[name][ph]
                        acc["ms"] += out["ms"]
                        acc["misses"] += out["misses"]
                        for k, v in out["rates"].items():
                            acc["rates"].setdefault(k, []).append(v)
                        print(f"round {r + 1} {name:>9} {ph:>8}: click p95 {np.percentile(out['ms'], 95):6.1f} ms"
                              + "".join(f", {k} {v:5.1f} updates/s" for k, v in out["rates"].items()), flush=True)
            browser.close()
    finally:
        for proc in procs.values():
            stop_app(proc)
    summary = {"machine": m, "clicks": args.clicks, "rounds": args.rounds, "apps": {}}
    for name in roots:
        s = summary["apps"][name] = {"first_scene_s": firsts[name]}
        idle = stats(results[name]["idle"]["ms"])["p95"]
        for ph in PHASES:
            acc = results[name][ph]
            st = stats(acc["ms"]) if acc["ms"] else {}
            s[ph] = {"click": st, "misses": acc["misses"], "vs_idle_p95": st.get("p95", float("nan")) / idle,
                     "updates_per_s": {k: float(np.median(v)) for k, v in acc["rates"].items()}}
    print(table(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def table(summary: dict) -> str:
    lines = ["", "| app | phase | click median (ms) | click p95 (ms) | p95 vs idle | misses | updates shown / s |",
             "|---|---|---:|---:|---:|---:|---|"]
    for name, s in summary["apps"].items():
        for ph in PHASES:
            r = s[ph]
            rates = ", ".join(f"{k} {v:.1f}" for k, v in r["updates_per_s"].items()) or "–"
            lines.append(f"| {name} | {ph} | {r['click'].get('median', float('nan')):.1f} | "
                         f"{r['click'].get('p95', float('nan')):.1f} | {r['vs_idle_p95']:.2f}x | {r['misses']} | "
                         f"{rates} |")
    lines += ["", "| app | first scene after play, A (the app's first run) | B (a second tab's, right after) |",
              "|---|---:|---:|"]
    for name, s in summary["apps"].items():
        first = s.get("first_scene_s", {})
        lines.append(f"| {name} | " + " | ".join(f"{first[k]:.2f} s" if k in first else "–" for k in ("A", "B"))
                     + " |")
    lines.append(f"\nGoals: one run >= {GOAL_UPDATES_PER_S:g} updates shown / s; two runs: click p95 <= "
                 f"{GOAL_LOADED_RATIO:g}x idle; the first scene <= {GOAL_FIRST_SCENE_S:g} s after play.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
