"""--compile: a compiled run trains like an eager one and saves clean weights; a failing compile says what to do."""
import json
import shutil
import sys

import pytest
import torch
from safetensors.torch import load_file

import vae_core.train
from vae_core import Config, load
from vae_core.train import TrainingError, parse_args, train
from vae_core.training.compiled import compile_for_training

pytestmark = pytest.mark.usefixtures("vc_one_thread", "fresh_dynamo")
BASE = ["--data", "digits", "--width", "8", "--latent-dim", "4"]


@pytest.fixture
def fresh_dynamo():
    """Each test compiles from scratch: Dynamo caches what it compiled per function, across torch.compile calls."""
    def reset():
        if "torch._dynamo" in sys.modules:
            torch._dynamo.reset()

    reset()
    yield
    reset()


def quiet(*args):
    pass


def test_compile_is_a_config_setting_that_round_trips(tmp_path):
    cfg, _ = parse_args([*BASE, "--compile", "--out", str(tmp_path / "a")])
    assert cfg.compile == "default"
    cfg, _ = parse_args([*BASE, "--compile", "reduce-overhead", "--out", str(tmp_path / "a")])
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))).compile == "reduce-overhead"
    assert parse_args([*BASE, "--out", str(tmp_path / "a")])[0].compile == ""  # off by default
    with pytest.raises(ValueError, match="compile must be one of"):
        Config(compile="fastest")
    net = torch.nn.Linear(2, 2)
    assert compile_for_training(net, Config()) is net


@pytest.mark.skipif(not any(shutil.which(c) for c in ("g++", "c++", "clang++")),
                    reason="inductor compiles C++ on the CPU: needs a C++ compiler")
@pytest.mark.slow
def test_compiled_run_trains_like_eager_and_saves_clean_weights(tmp_path, tiny_cfg, monkeypatch):
    pytest.importorskip("torch._inductor")
    # inductor draws its own random numbers unless told to use eager's: with eager's, the runs compare closely
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    cfg = {"epochs": 1, "batch_size": 64, "likelihood": "bernoulli"}
    eager = train(tiny_cfg(**cfg), tmp_path / "eager", device="cpu", log=quiet)
    compiled = train(tiny_cfg(**cfg, compile="default"), tmp_path / "compiled", device="cpu", log=quiet)
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-3)
    assert compiled["neg_elbo"] == pytest.approx(eager["neg_elbo"], rel=1e-3)
    keys = set(load_file(str(tmp_path / "compiled" / "model.safetensors")))
    assert keys == set(load_file(str(tmp_path / "eager" / "model.safetensors")))  # no "_orig_mod." prefixes
    model = load(tmp_path / "compiled")
    assert model.cfg.compile == "default" and model.cfg.metrics["epoch"] == 1


def _failing_backend(gm, example_inputs):
    raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")


def test_a_failing_compile_says_to_drop_the_flag(tmp_path, tiny_cfg, monkeypatch, capsys):
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda net, mode=None: real(net, backend=_failing_backend))
    with pytest.raises(TrainingError, match="drop --compile") as e:
        train(tiny_cfg(compile="default"), tmp_path / "run", device="cpu", log=quiet)
    assert "No working C++ compiler" in str(e.value) and "--resume --no-compile" in str(e.value)

    def unavailable(net, mode=None):
        raise RuntimeError("Dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", unavailable)
    with pytest.raises(SystemExit) as exit_:
        vae_core.train.main([*BASE, "--epochs", "1", "--compile", "--out", str(tmp_path / "cli")])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "torch.compile is unavailable here (Dynamo is not supported on this Python); drop --compile" in err


def test_resume_may_turn_compile_on_and_off(tmp_path, tiny_cfg):
    out = tmp_path / "run"
    train(tiny_cfg(), out, device="cpu", log=quiet)
    assert parse_args(["--out", str(out), "--resume", "--compile"])[0].compile == "default"
    saved = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**saved, "compile": "default"}))
    assert parse_args(["--out", str(out), "--resume"])[0].compile == "default"  # kept from the checkpoint
    assert parse_args(["--out", str(out), "--resume", "--no-compile"])[0].compile == ""  # e.g. no compiler here
