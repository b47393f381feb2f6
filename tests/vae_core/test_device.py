"""Device defaults (batch size, lr) and where --time-budget counts from: the CUDA path's logic, run on the CPU.

A torch.device("cuda") object is only a name: building it needs no GPU, so `--device cuda` is parsed here as on a
GPU machine (nothing is run on it).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import vae_core.train
import vae_core.training.loop
from vae_core import Config
from vae_core.train import parse_args, train
from vae_core.training.device import TRAINING_DEFAULTS, training_defaults

pytestmark = pytest.mark.usefixtures("vc_one_thread")
ROOT = Path(__file__).resolve().parents[2]
BASE = ["--data", "digits", "--width", "8", "--latent-dim", "4"]


def quiet(*args):
    pass


@pytest.mark.parametrize("device,expected", [
    (torch.device("cuda"), (512, 3e-3)),  # the sweep on an H200: batch 512 beat 64 at equal time
    (torch.device("cuda", 1), (512, 3e-3)),
    ("cuda:0", (512, 3e-3)),
    (torch.device("cpu"), (64, 3e-3)),  # the CPU keeps what was measured best there
    (torch.device("mps"), (64, 3e-3)),  # unmeasured: as on the CPU
])
def test_training_defaults_by_device(device, expected):
    assert training_defaults(device) == expected


def test_cli_takes_the_device_defaults_unless_given(tmp_path):
    cfg, _ = parse_args([*BASE, "--device", "cuda", "--out", str(tmp_path / "a")])
    assert (cfg.batch_size, cfg.lr) == TRAINING_DEFAULTS["cuda"]
    cfg, _ = parse_args([*BASE, "--device", "cpu", "--out", str(tmp_path / "b")])
    assert (cfg.batch_size, cfg.lr) == TRAINING_DEFAULTS["cpu"]
    cfg, _ = parse_args([*BASE, "--device", "cuda", "--batch-size", "100", "--out", str(tmp_path / "c")])
    assert (cfg.batch_size, cfg.lr) == (100, TRAINING_DEFAULTS["cuda"][1])  # each flag overrides on its own
    cfg, _ = parse_args([*BASE, "--device", "cuda", "--lr", "0.01", "--out", str(tmp_path / "d")])
    assert (cfg.batch_size, cfg.lr) == (TRAINING_DEFAULTS["cuda"][0], 0.01)


def test_auto_device_resolves_its_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(vae_core.train, "pick_device", lambda name: torch.device("cuda" if name == "auto" else name))
    cfg, _ = parse_args([*BASE, "--out", str(tmp_path / "a")])  # --device auto found "a GPU"
    assert cfg.batch_size == TRAINING_DEFAULTS["cuda"][0]


def test_resolved_defaults_are_recorded_and_resume_keeps_them(tmp_path, capsys, monkeypatch):
    """A run started with the GPU defaults (here: its config written as on a GPU, trained on the CPU) records
    batch 512 in config.json; --resume on another device keeps the checkpoint's batch and lr."""
    out = tmp_path / "run"
    cfg, _ = parse_args([*BASE, "--device", "cuda", "--epochs", "1", "--out", str(out)])
    train(cfg, out, device="cpu", log=quiet)  # 1437 digits: 2 steps of 512
    saved = json.loads((out / "config.json").read_text())
    assert (saved["batch_size"], saved["lr"]) == TRAINING_DEFAULTS["cuda"]
    cfg, _ = parse_args(["--out", str(out), "--resume", "--epochs", "2", "--device", "cpu"])
    assert (cfg.batch_size, cfg.lr) == TRAINING_DEFAULTS["cuda"]
    vae_core.train.main(["--out", str(out), "--resume", "--epochs", "2", "--device", "cpu", "--batch-size", "64"])
    assert "ignoring ['batch_size']" in capsys.readouterr().err
    assert Config.load(out / "config.json").batch_size == TRAINING_DEFAULTS["cuda"][0]


# --- where the time budget counts from -------------------------------------------------------------------------
def test_a_budget_spent_before_the_call_stops_after_one_step(tmp_path, tiny_cfg):
    cfg = tiny_cfg(epochs=50, time_budget=5.0, batch_size=32)
    metrics = train(cfg, tmp_path / "run", log=quiet, started=time.time() - 60)  # its budget ran out long ago
    assert metrics["epoch"] == 1  # one step (never none: a checkpoint is written), the evaluation and the save
    assert round(metrics["images_per_sec"] * metrics["seconds"]) == 32


def test_each_call_counts_from_its_own_start(tmp_path, tiny_cfg, monkeypatch):
    """In one process (a notebook, the tests), a later call of train() or main() has its whole budget."""
    monkeypatch.setattr(vae_core.training.loop, "IMPORTED", time.time() - 3600)  # as if imported an hour ago
    cfg = tiny_cfg(epochs=2, time_budget=3600.0)
    assert train(cfg, tmp_path / "a", log=quiet)["epoch"] == 2  # the epoch cap stopped it, not the clock
    vae_core.train.main([*BASE, "--epochs", "2", "--time-budget", "3600", "--out", str(tmp_path / "b")])
    assert Config.load(tmp_path / "b" / "config.json").metrics["epoch"] == 2


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_process_start_time_includes_what_ran_before_the_import():
    code = ("import time; time.sleep(0.5); t = time.time(); import vae_core.training.loop as m; "
            "print(t - m.process_start_time(), m.IMPORTED - m.process_start_time())")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
                       check=True)
    before_import, at_import = map(float, r.stdout.split())
    assert before_import >= 0.5 - 0.02  # the sleep before the import counts (10 ms ticks)
    assert at_import > before_import
