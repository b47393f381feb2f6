"""kill -9 in the middle of an epoch and in the middle of a save, then --resume: nothing lost beyond the current
epoch, no corrupt checkpoint, and the same weights as an uninterrupted run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["--model", "vqvae", "--data", "digits", "--width", "8", "--num-codes", "16", "--code-dim", "8",
         "--batch-size", "64"]

# Runs the trainer with one function patched to kill the process (SIGKILL, like kill -9) on its n-th call.
KILLER = """
import os, signal, sys, importlib
module, attr, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mod = importlib.import_module(module)
real, calls = getattr(mod, attr), [0]
def killer(*a, **k):
    calls[0] += 1
    if calls[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
setattr(mod, attr, killer)
from vae_core.train import main
main(sys.argv[4:])
"""


def run(args, killer=None):
    cmd = [sys.executable, "-c", KILLER, *killer, *args] if killer else [sys.executable, "-m", "vae_core.train", *args]
    return subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ck"
    r = run([*TRAIN, "--epochs", "3", "--out", str(out)])
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("killer", [
    ("vae_core.train", "evaluate", "2"),                 # mid-epoch 2 (after its steps, before its save)
    ("vae_core.checkpoint", "save_file", "4"),           # mid-save of epoch 2, after the training state
    ("os", "replace", "5"),                              # mid-save of epoch 2, between two renames
], ids=["mid-epoch", "mid-save-writing", "mid-save-renaming"])
@pytest.mark.slow
def test_kill_then_resume_equals_uninterrupted(tmp_path, uninterrupted, killer):
    out = tmp_path / "ck"
    r = run([*TRAIN, "--epochs", "3", "--out", str(out)], killer)
    assert r.returncode == -9, r.stderr
    # whatever the moment of the kill, the folder holds one whole checkpoint
    from vae_core import load

    load(out)
    r = run([*TRAIN, "--epochs", "3", "--out", str(out), "--resume"])
    assert r.returncode == 0, r.stderr
    assert not (out / ".saving").exists()
    epochs = [json.loads(line)["epoch"] for line in (out / "history.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]
    a, b = load_file(out / "model.safetensors"), load_file(uninterrupted / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
