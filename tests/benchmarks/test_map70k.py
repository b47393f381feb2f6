"""The 70,000-point map benchmark's report from measurements of the form its browser part records (no browser, no
UMAP here: those take minutes), and its click spots on a small synthetic map."""
import numpy as np

from tests.benchmark_module import load_benchmark


def fake_app(rng, n_points: int, slow: float) -> dict:
    def click(k):
        kind = ("point", "space")[k % 2]
        pick, fetch, draw = rng.uniform(1, 10), rng.uniform(5, 15) * slow, rng.uniform(1, 5)
        return {"aim": kind, "kind": kind, "ms": pick + fetch + draw, "pick": pick, "fetch": fetch,
                "server": fetch / 2, "draw": draw, "inputDelay": rng.uniform(0, 10)}

    def load():
        return {"all_s": rng.uniform(3, 4), "ready_ms": rng.uniform(2500, 3500), "dom_ms": 100.0,
                "fig": {"start": 2000.0, "end": 2010.0, "bytes": 16 * n_points, "decoded": 16 * n_points}}

    return {"first_load": load(), "loads": [load() for _ in range(4)], "clicks": [click(k) for k in range(40)],
            "misses": 1, "points_on_map": n_points, "rss": {"rss_mb": 600.0, "peak_mb": 800.0},
            "rss_after_first_load": {"rss_mb": 500.0, "peak_mb": 700.0}, "js_heap_mb": 40.0}


def test_table_reports_the_goal_and_the_split():
    bench = load_benchmark("map70k_benchmark")
    rng = np.random.default_rng(0)
    raw = {"70k": fake_app(rng, 70_000, 3.0), "10k": fake_app(rng, 10_000, 1.0)}
    server = {k: {"server_point_ms": bench.stats([1.0, 2.0]), "server_space_ms": bench.stats([1.0, 3.0])}
              for k in raw}
    r = {"server": server, **{k: bench.summary(o) for k, o in raw.items()}}
    assert r["70k"]["clicks"]["n"] == 40 and set(r["70k"]["by_kind"]) == {"point", "space"}
    text = bench.table(r)
    assert "70,000 on the map" in text and "Goal: map click -> image p95 <= 40 ms" in text
    assert "Plotly's plotly_click" in text and "1.12 MB" in text and "600 MB (800 MB)" in text


class FakePage:
    def __init__(self, points):
        self.points = points

    def evaluate(self, js):
        return {"left": 0.0, "top": 0.0, "width": 500.0, "height": 400.0, "points": self.points}


def test_spots_alternate_points_and_empty_space():
    bench = load_benchmark("map70k_benchmark")
    rng = np.random.default_rng(1)
    xy = rng.uniform([50, 50], [250, 350], (500, 2))  # the right half of the plot is empty
    page = FakePage([[i, float(x), float(y)] for i, (x, y) in enumerate(xy)])
    spots, shown = bench.spots(page, 20, np.random.default_rng(0))
    assert shown == 500 and [k for *_, k in spots] == ["point", "space"] * 10
    near = [np.hypot(*(xy - (x, y)).T).min() for x, y, _ in spots]
    assert all(d < 1e-9 for d, (*_, k) in zip(near, spots) if k == "point")
    assert all(d >= bench.EMPTY_PX for d, (*_, k) in zip(near, spots) if k == "space")
    assert all(np.hypot(a[0] - b[0], a[1] - b[1]) >= 40 for a, b in zip(spots, spots[1:]))
