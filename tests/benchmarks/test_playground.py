"""The playground benchmark's parts, briefly, on the tests' app: the time to a first scene, one round of two runs
training while a third page clicks the map, and the table from a result."""
import numpy as np

from tests.benchmark_module import load_benchmark
from tests.browser_app import needs_chromium


@needs_chromium
def test_one_round_of_two_runs_times_the_clicks_and_counts_each_runs_updates(browser, app_url):
    bench = load_benchmark("playground_benchmark")
    pages = bench.open_pages(browser, app_url)
    try:
        assert bench.first_scene(pages["A"]) > 0
        assert "paused" in pages["A"].locator("#pg-canvas .vx-pg-status").inner_text()  # and paused again
        assert int(pages["A"].get_attribute("#pg-canvas .vx-pg", "data-steps")) >= 1
        out = bench.phase(pages, "two runs", 3, np.random.default_rng(0))
        assert len(out["ms"]) + out["misses"] == 3 and out["misses"] == 0
        assert set(out["rates"]) == {"A", "B"} and min(out["rates"].values()) > 0
        for key in ("A", "B"):  # the phase leaves its runs paused
            assert "paused" in pages[key].locator("#pg-canvas .vx-pg-status").inner_text()
    finally:
        for page in pages.values():
            page.close()


def test_the_table_gives_each_phase_against_idle_and_the_goals():
    bench = load_benchmark("playground_benchmark")

    def phase(p95, rates):
        return {"click": {"median": p95 / 2, "p95": p95, "max": p95, "n": 10}, "misses": 0, "vs_idle_p95": p95 / 20,
                "updates_per_s": rates}
    summary = {"apps": {"this": {"idle": phase(20, {}), "one run": phase(22, {"A": 11.5}),
                                 "two runs": phase(30, {"A": 11.0, "B": 10.5}),
                                 "first_scene_s": {"A": 0.41, "B": 3.2}}}}
    table = bench.table(summary)
    assert "| this | two runs | 15.0 | 30.0 | 1.50x | 0 | A 11.0, B 10.5 |" in table
    assert "| this | 0.41 s | 3.20 s |" in table
    assert ">= 10 updates shown / s" in table and "<= 2x idle" in table and "<= 1 s after play" in table
