"""benchmarks/vq_likelihood_benchmark.py: a short run on the 8x8 digits trains the three VQ-VAEs with their priors
and prints one table row each, the FSQ row on the likelihood with the lower validation bits/dim."""
import json
import math

import pytest

from tests.benchmark_module import load_benchmark

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def test_vq_likelihood_benchmark_smoke(tmp_path, capsys):
    bench = load_benchmark("vq_likelihood_benchmark")
    out = bench.main(["--data", "digits", "--seconds", "2", "--max-epochs", "1", "--json", str(tmp_path / "r.json")])
    printed = capsys.readouterr().out
    assert "native bf16" in printed and "CPU" in printed
    rows = [line.split("|")[1].strip() for line in printed.splitlines() if line.startswith("| ")][1:]
    results = out["results"]
    better = min(("mse", "logistic"), key=lambda s: results[f"vq-{s}"]["validation"]["bits_per_dim"])
    assert rows == ["vq-mse", "vq-logistic", f"fsq-{better}"] == list(results)
    for r in results.values():
        t = r["test"]
        assert 0 < t["mse"] < 1 and 0 < t["codes_used"] <= 1 and t["perplexity"] >= 1
        assert t["bits_per_dim"] == pytest.approx((t["recon"] + t["prior_nll"]) / (64 * math.log(2)))
        assert t["recon_bits_per_dim"] < t["bits_per_dim"] and r["images_per_sec"] > 0
    assert json.loads((tmp_path / "r.json").read_text())["results"].keys() == results.keys()
