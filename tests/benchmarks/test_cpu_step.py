"""benchmarks/cpu_step_benchmark.py: its "before" quantizer is the same maths as vae_core's, and a short run prints
every variant with finite rates and FLOPs."""
import json

import torch

from tests.benchmark_module import load_benchmark
from vae_core.models.quantize import VectorQuantizer


def test_the_old_quantizer_picks_the_same_codes_counts_and_sums():
    bench = load_benchmark("cpu_step_benchmark")
    torch.manual_seed(0)
    new, old = VectorQuantizer(64, 8), bench.OldQuantizer(64, 8)
    old.embedding.copy_(new.embedding)
    z = torch.randn(500, 8)
    idx = new.nearest(z)
    assert torch.equal(old.nearest(z), idx)
    assert torch.equal(idx, torch.cdist(z, new.embedding).argmin(1))
    for a, b in zip(old.counts_and_sums(z, idx), new.counts_and_sums(z, idx)):
        torch.testing.assert_close(a, b)


def test_a_short_run_prints_every_variant(tmp_path, capsys):
    bench = load_benchmark("cpu_step_benchmark")
    bench.main(["--seconds", "0.05", "--rounds", "1", "--res-blocks", "0", "--json", str(tmp_path / "r.json")])
    printed = capsys.readouterr().out
    rows = [ln for ln in printed.splitlines() if ln.startswith("| ") and not ln.startswith("| variant")]
    assert [r.split("|")[1].strip() for r in rows] == [*bench.variants([0])], printed
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["ratios"]["example"] == [1.0]
    flops = saved["flops_per_image"]
    # per image: the VQ-VAE costs several times the conv VAE, which costs several times the example
    assert flops["VQ-VAE + fused Adam (now)"] > 3 * flops["conv VAE + fused Adam (now)"] > 9 * flops["example"] > 0
    assert flops["VQ-VAE res_blocks=0"] < flops["VQ-VAE + fused Adam (now)"]
    assert "GFLOP/s" in printed and saved["matmul_flops_per_second"] > 0
