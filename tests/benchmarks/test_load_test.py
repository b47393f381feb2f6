"""Smoke test of benchmarks/load_test.py: a tiny run against `python app.py` (the tiny checkpoints of the
`app_checkpoints` fixture) makes every call without an error and prints the table with its goal lines."""
import json

import pytest

from tests.benchmark_module import load_benchmark

pytest.importorskip("gradio_client")


def test_load_test_smoke(app_checkpoints, tmp_path, capsys):
    out_json = tmp_path / "results.json"
    r = load_benchmark("load_test").main(["--checkpoints", str(app_checkpoints), "--clients", "2", "--requests", "2",
                           "--idle", "3", "--soak", "20", "--soak-warmup", "10", "--sessions", "2",
                           "--max-seconds", "120", "--json", str(out_json)])
    printed = capsys.readouterr().out

    assert r["idle_errors"] == r["load_run"]["errors"] == r["soak"]["errors"] == r["sessions"]["errors"] == 0, r
    assert [(x["mix"], x["clients"], x["errors"], x["ok"]) for x in r["runs"]] == [("distinct", 2, 0, 4),
                                                                                   ("identical", 2, 0, 4)]
    assert r["load"]["all"]["n"] == 2 * 2 and r["soak"]["ok"] == 20 and r["sessions"]["n"] == 2
    assert not r["stopped_early"]
    assert "| latency (ms) | decode_latent | decode_codes | reconstruct | all |" in printed
    assert "| load p95 / idle p95 |" in printed and "| soak: server RSS before / half-way / after |" in printed
    assert "Goal: zero errors: met (0)" in printed and "Goal: p95 under load <= 8x idle p95" in printed
    assert json.loads(out_json.read_text())["table"] == r["table"]
