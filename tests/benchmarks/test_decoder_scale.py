"""benchmarks/decoder_scale_benchmark.py: a short run trains every --scale variant and gives its tables."""
import json
import math
from pathlib import Path

import pytest

from tests.benchmark_module import load_benchmark

pytestmark = pytest.mark.usefixtures("vc_one_thread")
FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_decoder_scale_benchmark_smoke(tmp_path, capsys):
    bench = load_benchmark("decoder_scale_benchmark")
    data = "fashion-mnist" if FASHION.is_dir() else "digits"
    args = ["--epochs", "1", "--width", "4", "--data", data, "--train-subset", "320", "--eval-subset", "60",
            "--iwae-k", "2", "--iwae-n", "10", "--samples", "0", "--fit-images", "60", "--threads", "1",
            "--checkpoints", str(tmp_path / "ckpts"), "--json", str(tmp_path / "out.json")]
    out = bench.main(args)
    printed = capsys.readouterr().out
    assert "native bf16" in printed and "1 epochs per variant" in printed
    rows = [line.split("|")[1].strip() for line in printed.splitlines() if line.startswith("| ")
            and "bits/dim" not in line and not line.startswith("|---")]
    assert rows[:len(bench.VARIANTS)] == list(bench.VARIANTS)
    for scale, r in out["results"].items():
        for split in bench.SPLITS:
            assert math.isfinite(r[split]["bits_per_dim"]) and r[split]["code_length"], (scale, split)
        assert r["ms_per_step_interleaved"] > 0
    assert set(k for k, r in out["results"].items() if "exact_scale" in r) == {"shared_scalar", "optimal"}
    assert json.loads((tmp_path / "out.json").read_text())["settings"]["epochs"] == 1
    # a second run with the same settings loads the saved models instead of training them again
    again = bench.main(args)
    assert again["results"]["optimal"]["validation"]["bits_per_dim"] == out["results"]["optimal"]["validation"][
        "bits_per_dim"]
    assert "loaded from" in capsys.readouterr().err
