"""Smoke tests of benchmarks/train_benchmark.py and conv_vae_sweep.py: short runs on a subset give tables of finite
numbers."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

from tests.benchmark_module import load_benchmark

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _data() -> str:
    if FASHION.is_dir():
        return "fashion-mnist"
    if importlib.util.find_spec("sklearn") is not None:
        return "digits"  # scikit-learn's bundled 8x8 digits, conformed to 28x28 by the benchmark
    pytest.skip("needs /usr/share/datasets/fashion-mnist or scikit-learn's digits")


def test_train_benchmark_smoke(tmp_path, capsys):
    bench = load_benchmark("train_benchmark")
    out_json = tmp_path / "results.json"
    out = bench.main(["--seconds", "2", "--threads", "2", "--data", _data(), "--train-subset", "2000",
                      "--test-subset", "500", "--json", str(out_json)])
    printed = capsys.readouterr().out

    rows = [line for line in printed.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert len(rows) == 5, printed
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 9, row
        numbers = [float(c.rstrip("%")) for c in cells[1:] if c != "—"]
        assert numbers and all(math.isfinite(v) for v in numbers), row
    for goal in ("MLP preset throughput >= reference: ", "conv VAE neg ELBO < reference in same time: ",
                 "VQ-VAE MSE < conv VAE MSE with >= 90% codes used: "):
        assert any(line.startswith(goal) and line[len(goal):].split()[0] in ("yes", "no")
                   for line in printed.splitlines()), goal

    assert len(out["results"]) == 5
    for name, r in out["results"].items():
        assert r["train_images"] > 0, name
        assert all(math.isfinite(r[k]) for k in ("images_per_sec", "mse", "psnr")), name
        if "neg_elbo" in r:
            assert math.isfinite(r["neg_elbo"]) and r["neg_elbo"] > 0, name
    assert json.loads(out_json.read_text())["goals"] == out["goals"]


def test_conv_vae_sweep_smoke(capsys):
    sweep = load_benchmark("conv_vae_sweep")
    rows = sweep.main(["--seconds", "1", "--data", _data(), "--train-subset", "1000", "--test-subset", "200"])
    printed = capsys.readouterr().out
    assert [r["name"] for r in rows] == ["reference (pytorch/examples VAE)", *sweep.CANDIDATES]
    assert all(r["images_per_sec"] > 0 and math.isfinite(r["neg_elbo"]) for r in rows)
    table = [line for line in printed.splitlines() if line.startswith("| ")]
    assert len(table) == len(rows) + 1 and table[0].startswith("| model")  # the header and a row per model
