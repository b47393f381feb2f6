"""The static site benchmark's table: the export's time and size against their goals, and each page's figures in
one row (its Chromium measurements are the app benchmark's own functions, tested in test_app.py)."""
from tests.benchmark_module import load_benchmark


def test_the_table_gives_the_export_and_each_page_against_the_goals():
    bench = load_benchmark("static_site_benchmark")

    def page(first, click, slider, requests):
        return {"first_map_s": first, "click": {"median": click / 2, "p95": click}, "slider": {"median": slider / 2,
                "p95": slider}, "requests": requests}
    r = {"export": {"seconds": 14.2, "mb": 14.0, "mb_all": 33.7, "models": ["a", "b"]},
         "pages": {"static site": page(1.2, 6.0, 4.0, 0), "app": page(2.5, 70.0, 40.0, 12)}}
    table = bench.table(r)
    assert "export: 14 s (goal <= 120 s), 14.0 MB besides the libraries (goal <= 25 MB)" in table
    assert "| static site | 1.20 s | 3.0 / 6.0 ms | 2.0 / 4.0 ms | 0 |" in table
    assert "| app | 2.50 s | 35.0 / 70.0 ms | 20.0 / 40.0 ms | 12 |" in table
