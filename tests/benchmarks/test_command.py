"""benchmarks/command_benchmark.py (the trainer's command against the PyTorch example's script) and the device
settings of benchmarks/train_benchmark.py: the commands each device gets, and a short real run on the CPU."""
import importlib.util
import json
import math
from argparse import Namespace

import pytest
import torch

from tests.benchmark_module import load_benchmark

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def _args(**kw) -> Namespace:
    return Namespace(**{"seconds": 30.0, "device": "cpu", "no_amp": False, "compile": "", "epochs": 0, **kw})


def test_each_device_gets_its_commands(tmp_path):
    bench = load_benchmark("command_benchmark")
    data = tmp_path / "images.npz"
    cpu = bench.commands(_args(), data, tmp_path)
    assert cpu[bench.EXAMPLE][-1] == "--no-accel"  # the example would take a GPU if it found one
    conv = cpu[bench.CONV]
    assert conv[1:3] == ["-m", "vae_core.train"]  # the trainer's own command, not a loop of the benchmark's
    assert conv[conv.index("--likelihood") + 1] == "bernoulli" and conv[conv.index("--time-budget") + 1] == "30"
    assert "--batch-size" not in conv and "--lr" not in conv  # the device's defaults, as a user gets them
    cuda = bench.commands(_args(device="cuda", no_amp=True, compile="reduce-overhead", epochs=50), data, tmp_path)
    assert "--no-accel" not in cuda[bench.EXAMPLE]
    for name in (bench.CONV, bench.VQ):
        cmd = " ".join(cuda[name])
        assert "--device cuda" in cmd and "--no-amp" in cmd and "--compile reduce-overhead" in cmd
        assert "--epochs 50" in cmd


def test_throughput_from_the_history(tmp_path):
    bench = load_benchmark("command_benchmark")
    rows = [{"epoch": 1, "seconds": 2.0, "images_per_sec": 3000.0},
            {"epoch": 2, "seconds": 1.0, "images_per_sec": 6000.0}]
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = bench.history_throughput(tmp_path)
    assert t["train_images"] == 12000 and t["train_seconds"] == 3.0 and t["images_per_sec"] == 4000.0


def test_train_benchmark_uses_the_device_defaults():
    tb = load_benchmark("train_benchmark")
    cuda, cpu = tb.models(torch.device("cuda")), tb.models("cpu")  # nothing is built: no GPU needed
    assert cuda[tb.CONV][2]["batch"] == cuda[tb.VQ][2]["batch"] == 512
    assert cpu[tb.CONV][2]["batch"] == cpu[tb.VQ][2]["batch"] == 64
    assert cuda[tb.REF][2]["batch"] == cuda[tb.MLP][2]["batch"] == tb.BATCH  # the example's own settings


def test_command_benchmark_smoke(tmp_path, capsys):
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("needs scikit-learn's digits")
    bench = load_benchmark("command_benchmark")
    out = bench.main(["--seconds", "3", "--data", "digits", "--train-subset", "500", "--test-subset", "200",
                      "--threads", "1", "--workdir", str(tmp_path / "work"), "--json", str(tmp_path / "r.json")])
    printed = capsys.readouterr().out
    assert "native bf16: " in printed and "CPU " in printed
    rows = [ln for ln in printed.splitlines() if ln.startswith("| ") and not ln.startswith("| run")]
    assert [r.split("|")[1].strip() for r in rows] == [bench.EXAMPLE, bench.CONV, bench.VQ]
    for row in rows:
        numbers = [float(c) for c in row.strip("|").split("|")[1:] if c.strip() != "—"]
        assert all(math.isfinite(v) for v in numbers), row
    res = out["results"]
    assert all(r["train_images"] > 0 and r["images_per_sec"] > 0 for r in res.values())
    assert res[bench.EXAMPLE]["seconds_since_start"] >= 3.0  # the example trained until its budget was spent
    assert res[bench.CONV]["neg_elbo"] > 0 and res[bench.EXAMPLE]["neg_elbo"] > 0 and 0 < res[bench.VQ]["codes_used"]
    assert res[bench.CONV]["batch_size"] == 64  # the CPU's default, recorded in the checkpoint
    assert json.loads((tmp_path / "r.json").read_text())["machine"]["cpu_native_bf16"] in (True, False)
    assert set(out["goals"]) == {"conv_neg_elbo_lt_example", "conv_images_per_sec_ge_0.5x",
                                 "vqvae_images_per_sec_ge_0.25x"}
