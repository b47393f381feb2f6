"""benchmarks/quantizer_benchmark.py: the library adapter's loss has vae_core's reduction, and a short run gives a
table."""
import json
import math
from pathlib import Path

import pytest
import torch

from tests.benchmark_module import load_benchmark

pytest.importorskip("vector_quantize_pytorch")
pytestmark = pytest.mark.usefixtures("vc_one_thread")
FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_library_loss_is_summed_per_image_like_vae_cores():
    bench = load_benchmark("quantizer_benchmark")
    torch.manual_seed(0)
    vq = bench.LibraryQuantizer(16, 8, rotation_trick=False).train()
    z = torch.randn(3, 5, 8, requires_grad=True)
    z_q, idx, loss = vq(z)
    assert loss.shape == (3,) and idx.shape == (3, 5)
    # vae_core's commitment term: 0.25 ||z_e - sg[e]||^2 summed over an image's N x D elements, batch mean
    expected = 0.25 * (z - z_q).pow(2).flatten(1).sum(1).mean()
    torch.testing.assert_close(loss.mean(), expected.detach())
    loss.mean().backward()
    torch.testing.assert_close(z.grad, 0.25 * 2 * (z - z_q).detach() / 3)  # the gradient of that batch mean


def test_quantizer_benchmark_smoke(tmp_path, capsys):
    data = "fashion-mnist" if FASHION.is_dir() else "digits"
    bench = load_benchmark("quantizer_benchmark")
    out_json = tmp_path / "results.json"
    out = bench.main(["--steps", "3", "--data", data, "--train-subset", "640", "--test-subset", "100",
                      "--threads", "1", "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert "native bf16" in printed and "CPU" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| ") and not line.startswith("| quantizer")]
    assert [row.split("|")[1].strip() for row in rows] == list(bench.VARIANTS)
    for r in out["results"]:
        assert math.isfinite(r["mse"]) and 0 < r["mse"] < 1, r
        assert 1 <= r["perplexity"] <= 512 and r["used_per_batch"][0] > 0, r
    assert set(out["goals"]) and all(isinstance(v, bool) for v in out["goals"].values())
    assert json.loads(out_json.read_text())["goals"] == out["goals"]
