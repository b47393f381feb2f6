"""benchmarks/code_iwae_benchmark.py: on a tiny digits VQ-VAE with its prior, every proposal's IWAE bound beside the
point bound on the same validation images, and the lowest chosen."""
import json

import pytest

from tests.benchmark_module import load_benchmark
from vae_core import Config, load
from vae_core.train import train
from vae_core.train_prior import prior_config, train_prior

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def test_code_iwae_benchmark_smoke(tmp_path, capsys):
    folder = tmp_path / "vq"
    cfg = Config(model="vqvae", width=8, num_codes=16, code_dim=8, channels=1, image_size=8, data="digits",
                 epochs=1, batch_size=32, vq_likelihood="discretized_logistic")
    train(cfg, folder, device="cpu", log=lambda *a: None)
    prior_cfg = prior_config(load(folder).cfg, epochs=1, batch_size=32, prior_dim=16, prior_layers=1, prior_heads=2)
    train_prior(folder, prior_cfg, device="cpu", log=lambda *a: None)
    bench = load_benchmark("code_iwae_benchmark")
    out = bench.main([str(folder), "--n", "6", "--k", "32", "--json", str(tmp_path / "r.json")])
    printed = capsys.readouterr().out
    assert "native bf16" in printed and "first 6 validation images, k = 32" in printed
    rows = out["rows"]
    assert rows[0]["proposal"] == "point bound (reference)" and len(rows) == 1 + len(bench.PROPOSALS)
    table = [line for line in printed.splitlines() if line.startswith("| ")][1:]
    assert len(table) == len(rows) and sum("(chosen)" in line for line in table) == 1
    for r in rows[1:]:
        assert r["gain"] == pytest.approx(rows[0]["nll"] - r["nll"])  # against the same images' point bound
    assert out["chosen"]["nll"] == min(r["nll"] for r in rows[1:])
    assert max(r["gain"] for r in rows[1:]) > 0  # some proposal beats the point bound
    assert json.loads((tmp_path / "r.json").read_text())["chosen"] == out["chosen"]
