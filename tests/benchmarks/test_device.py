"""The device benchmark's smoke run: a tiny AutoencoderKL over a few small photos on the CPU, its table and results;
a device that is not here ends it with the message."""
import json

import numpy as np
import pytest
import torch

from tests.benchmark_module import load_benchmark

pytest.importorskip("diffusers")


def test_a_tiny_run_on_the_cpu_times_the_bare_encoder_and_the_explorer(tmp_path, capsys):
    bench = load_benchmark("device_benchmark")
    out = tmp_path / "r.json"
    r = bench.main(["--devices", "cpu", "--images", "3", "--size", "16", "--blocks", "8", "16", "--layers", "1",
                    "--out", str(out)])
    (row,) = r["devices"]
    assert row["device"] == "cpu" and row["dtype"] == "float32" and row["images"] == 3
    assert row["bare_s"] > 0 and row["explorer_s"] > 0
    assert row["latent_difference"] < 1e-4  # the same numbers both ways
    text = capsys.readouterr().out
    assert "bare s" in text and "explorer s" in text and "native bf16" in text and "Goal:" in text
    assert json.loads(out.read_text())["devices"][0]["images"] == 3


def test_the_photos_are_crops_of_real_images():
    x = load_benchmark("device_benchmark").photos(4, 24)
    assert x.shape == (4, 3, 24, 24) and x.dtype == np.uint8 and x.std() > 10


def test_a_device_that_is_not_here_ends_the_run_with_the_message(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        load_benchmark("device_benchmark").main(["--devices", "cuda", "--images", "2"])
    assert exit_.value.code == 2 and "no CUDA device here" in capsys.readouterr().err
