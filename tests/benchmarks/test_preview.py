"""benchmarks/preview_benchmark.py: a tiny run gives every figure of its table, and the drag policy's count."""
import json

import pytest

from tests.benchmark_module import load_benchmark

pytestmark = pytest.mark.usefixtures("vc_one_thread")
pytest.importorskip("diffusers")


def test_the_drag_policy_starts_one_full_decode_after_a_steady_drag_and_more_with_pauses():
    bench = load_benchmark("preview_benchmark")
    assert bench.drag_fulls(full_s=12.0) == 1  # 2 s of moves, then one decode of where it stopped
    assert bench.drag_fulls(full_s=0.01, rate=2.0) == 4  # a move every 0.5 s: each stands still long enough


def test_preview_benchmark_smoke(tmp_path, capsys):
    bench = load_benchmark("preview_benchmark")
    out = bench.main(["--size", "16", "--widths", "8,8,8,8", "--images", "6", "--repeats", "1", "--slides", "4",
                      "--clicks", "4", "--preview-widths", "8", "--json", str(tmp_path / "out.json")])
    printed = capsys.readouterr().out
    assert "native bf16" in printed and "bare forward (reference)" in printed and "| <= 3 |" in printed
    assert out["bare_forward_s"] > 0 and out["preview_ms"]["p95"] > 0 and out["drag_full_decodes"] >= 1
    assert out["small_click_ms"]["idle_p95"] > 0
    assert sorted(out["preview_widths_ms"]) == [8, 32] and "| 32 (default) |" in printed  # 16 x 16: the default 32
    assert json.loads((tmp_path / "out.json").read_text())["settings"]["widths"] == "8,8,8,8"


def test_preview_fidelity_benchmark_smoke(tmp_path, capsys):
    bench = load_benchmark("preview_fidelity_benchmark")
    out = bench.main(["--train-minutes", "0.02", "--train-images", "16", "--images", "30", "--test-images", "5",
                      "--minutes", "0.1", "--width", "8", "--json", str(tmp_path / "out.json")])
    printed = capsys.readouterr().out
    assert "native bf16" in printed and "full decoder against the images (reference)" in printed
    assert out["preview"]["target"] in ("full decoder", "images")  # which: by the machine's speed, as the held-out
    assert 4 <= out["preview"]["held_out"] <= 6 and out["preview"]["steps"] >= 1 and out["preview"]["width"] == 8
    mean, se = out["test_psnr_preview_vs_full_db"]
    assert mean > 0 and se > 0 and out["autoencoder_steps"] >= 1
    assert json.loads((tmp_path / "out.json").read_text())["settings"]["test_images"] == 5
