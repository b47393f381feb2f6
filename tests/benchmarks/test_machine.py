"""What the benchmarks share: one description of the machine, one copy of the PyTorch example, and no sys.path edits
(benchmarks/ is a package run as `python -m benchmarks.<name>`)."""
import re
import subprocess
import sys
from pathlib import Path

import torch

from tests.benchmark_module import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))


def test_machine_describes_the_cpu_and_torch():
    machine = load_benchmark("machine")
    m = machine.machine()
    assert m["cores"] >= 1 and m["torch"] == torch.__version__ and m["cpu"].strip()
    assert m["cpu_native_bf16"] is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert "gpu" not in m  # asked about the CPU only
    line = machine.describe({**m, "cpu": "Some CPU", "cores": 3, "cpu_native_bf16": False})
    assert line == f"CPU Some CPU (3 cores), native bf16: no; torch {torch.__version__}"
    assert ", GPU H200;" in machine.describe({**m, "gpu": "H200"})


def test_every_benchmark_imports_the_shared_modules_and_edits_no_sys_path():
    assert len(BENCHMARKS) >= 10
    for path in BENCHMARKS:
        source = path.read_text()
        assert "sys.path" not in source, path.name
        assert "/proc/cpuinfo" not in source or path.name == "machine.py", path.name  # one machine description
        assert not re.search(r"^import (train_benchmark|machine|pytorch_example_vae)|^from (train_benchmark|machine) ",
                             source, re.MULTILINE), path.name  # siblings come in as benchmarks.<name>


def test_one_copy_of_the_pytorch_example():
    example = load_benchmark("pytorch_example_vae")
    assert load_benchmark("train_benchmark").ReferenceVAE is example.VAE
    assert load_benchmark("command_benchmark").ReferenceVAE is example.VAE
    assert load_benchmark("cpu_step_benchmark").ReferenceVAE is example.VAE
    copies = [p.name for p in BENCHMARKS if "nn.Linear(784, 400)" in p.read_text()]
    assert copies == ["pytorch_example_vae.py"]


def test_the_example_script_runs_as_a_module_of_the_package():
    out = subprocess.run([sys.executable, "-m", "benchmarks.pytorch_example_vae", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "--seconds" in out.stdout and "--no-accel" in out.stdout
