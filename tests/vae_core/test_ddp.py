"""DistributedDataParallel on 2 CPU processes (gloo), launched with torch.distributed.run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vae_core import VAE, VQVAE, load

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")


def torchrun(out: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "vae_core.train", "--data", "digits", "--width", "8", "--epochs", "1", "--out", str(out), *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def _history(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "history.jsonl").read_text().splitlines() if ln.strip()]


@pytest.mark.slow
def test_ddp_vae(tmp_path):
    out = tmp_path / "vae"
    r = torchrun(out, "--model", "vae", "--latent-dim", "4")
    assert r.returncode == 0, r.stderr[-3000:]
    model = load(out)
    assert isinstance(model, VAE) and model.cfg.latent_dim == 4
    h = _history(out)
    assert [row["epoch"] for row in h] == [1]  # written once, by rank 0
    assert h[0]["n_images"] == 144 and h[0]["split"] == "validation" and h[0]["train_loss"] > 0


@pytest.mark.slow
def test_ddp_vqvae_all_reduces_the_ema_counts(tmp_path):
    out = tmp_path / "vq"
    r = torchrun(out, "--model", "vqvae", "--num-codes", "16", "--code-dim", "8", "--batch-size", "128")
    assert r.returncode == 0, r.stderr[-3000:]
    model = load(out)
    assert isinstance(model, VQVAE)
    assert [row["epoch"] for row in _history(out)] == [1]
    # The first batch sets N_k to the counts of its vectors, all-reduced over both ranks: 128 images x 2 x 2 cells;
    # each step then adds the same total, so sum_k N_k stays 512. A restart raises a dead code's count to the
    # threshold (0.33 of an equal split: 0.33 x 512 / 16), so the total lies in [512, 512 + 16 x threshold];
    # without the all-reduce each rank would count 256 vectors a step: at most 256 + 16 x threshold / 2.
    threshold = 0.33 * 512 / 16
    total = float(load_file(str(out / "model.safetensors"))["quantizer.ema_count"].sum())
    assert 512 - 0.01 <= total <= 512 + 16 * threshold + 0.01
    assert isinstance(_history(out)[0]["codes_restarted"], int)
