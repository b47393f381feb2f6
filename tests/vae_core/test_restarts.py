"""Dead-code restarts in training: counted per epoch in history.jsonl (and absent for a VAE)."""
import json
from pathlib import Path

import pytest

from vae_core.train import train

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def _history(folder: Path) -> list[dict]:
    return [json.loads(ln) for ln in (folder / "history.jsonl").read_text().splitlines() if ln.strip()]


@pytest.mark.parametrize("dead_threshold", [0.0, 0.9])
def test_restarts_are_logged_per_epoch(tiny_cfg, tmp_path, dead_threshold):
    cfg = tiny_cfg(model="vqvae", epochs=2, dead_threshold=dead_threshold, num_codes=32)
    train(cfg, tmp_path, device="cpu", log=lambda *a: None)
    h = _history(tmp_path)
    assert [row["epoch"] for row in h] == [1, 2]
    restarts = [row["codes_restarted"] for row in h]
    assert all(isinstance(n, int) for n in restarts)
    if dead_threshold == 0:
        assert restarts == [0, 0]  # no code counts as dead under a threshold of 0
    else:
        # under 0.9 of an equal split many codes die in every epoch; each epoch counts its own restarts
        assert all(n > 0 for n in restarts), restarts


def test_a_vae_logs_no_restarts(tiny_cfg, tmp_path):
    train(tiny_cfg(model="vae"), tmp_path, device="cpu", log=lambda *a: None)
    assert "codes_restarted" not in _history(tmp_path)[0]
