"""The trainer: overfitting a tiny batch, exact resume, NaN and failed-save handling, and the command line."""
import dataclasses
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import vae_core
import vae_core.checkpoint
import vae_core.train
import vae_core.training.loop
import vae_core.training.run_folder
from vae_core import VAE, CheckpointError, Config, build_model, load
from vae_core.data import hold_out, load_dataset, to_float, validation_size
from vae_core.train import TrainingError, train

pytestmark = pytest.mark.usefixtures("vc_one_thread")
ROOT = Path(__file__).resolve().parents[2]
TIMING = {"seconds", "images_per_sec"}  # the only metrics allowed to differ between identical runs


def quiet(*args):
    pass


def history(folder: Path) -> list[dict]:
    return [json.loads(ln) for ln in (folder / "history.jsonl").read_text().splitlines() if ln.strip()]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def saved_epoch(folder: Path, name="model.safetensors") -> int:
    with safe_open(str(folder / name), framework="pt") as f:
        return int(f.metadata()["epoch"])


# --- learning --------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides", [
    {"model": "vae", "likelihood": "discretized_gaussian", "scale": "fixed", "fixed_scale": 0.1},
    {"model": "vae"},  # discretised logistic, scale from the decoder
    {"model": "vae", "likelihood": "bernoulli"},
    {"model": "vqvae"},
    {"model": "vqvae", "vq_likelihood": "discretized_logistic"},  # the decoder's own scale
    {"model": "vqvae", "quantizer": "fsq", "fsq_levels": "4,4"},
])
@pytest.mark.slow
def test_overfits_a_tiny_batch(tiny_cfg, digits, overrides):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(**overrides))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = to_float(digits.x_train[:16])
    mse = (model.eval().reconstruct(x) - x).pow(2).mean().item()
    model.train()
    losses = []
    for _ in range(200):
        loss = model(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = losses[0], sum(losses[-10:]) / 10
    if overrides.get("likelihood") == "bernoulli":
        # grey pixels: the Bernoulli loss cannot fall below their entropy -sum x log x + (1 - x) log(1 - x)
        floor = -(torch.xlogy(x, x) + torch.xlogy(1 - x, 1 - x)).flatten(1).sum(1).mean().item()
        assert last - floor < 0.5 * (first - floor)
    else:
        scale = getattr(getattr(model, "likelihood", None), "scale", None)
        if scale == "fixed":  # a fixed scale caps p(x|z), even with loc = x
            floor = -model.likelihood.log_prob(x, x).mean().item()
            assert last - floor < 0.2 * (first - floor)
        elif scale == "decoder":  # no floor short of 0 nats: the decoder's scales shrink steadily, and slowly
            assert last < 0.75 * first
        else:  # the VQ-VAE's squared error; its codes start on the first batch's encoder outputs, so its first
            assert last < 0.2 * first  # loss is already lower
        assert (model.eval().reconstruct(x) - x).pow(2).mean() < 0.25 * mse


def test_train_writes_a_checkpoint_and_history(tmp_path, tiny_cfg):
    out = tmp_path / "run"
    logs = []
    metrics = train(tiny_cfg(epochs=2), out, log=lambda *a: logs.append(" ".join(map(str, a))))
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "training_state.safetensors", "history.jsonl",
            "reconstructions.png", "samples.png"} <= names
    h = history(out)
    assert [r["epoch"] for r in h] == [1, 2]
    # evaluated on the validation split: a tenth of the 1438 training digits, held out of training
    assert h[-1] == metrics and metrics["n_images"] == 144 and metrics["split"] == "validation"
    assert h[1]["train_loss"] < h[0]["train_loss"]  # it learns
    model = load(out)
    assert model.cfg.metrics == metrics and model.cfg.label_names == [str(i) for i in range(10)]
    assert model.cfg.validation == 144  # the resolved size is recorded
    assert json.loads((out / "config.json").read_text())["record"]["metrics"] == metrics
    assert saved_epoch(out) == 2 and saved_epoch(out, "training_state.safetensors") == 2
    assert any("epoch 2:" in m for m in logs)


def test_each_epoch_draws_new_noise(tmp_path, tiny_cfg, monkeypatch):
    """The per-epoch evaluation must not reseed the global RNG, or every epoch after the first replays its noise."""
    first_eps = []  # the noise of each epoch's first training step
    reparameterize = VAE.reparameterize

    def spy(self, mu, log_sigma, n=1, generator=None):
        z = reparameterize(self, mu, log_sigma, n, generator)
        if self.training and generator is None and len(first_eps) < epoch_of[0]:
            first_eps.append(((z - mu) * torch.exp(-log_sigma)).detach().clone())
        return z

    epoch_of = [0]
    steps = vae_core.training.loop.tqdm

    def counting_tqdm(*args, **kwargs):  # each epoch opens one progress bar: count epochs by it
        epoch_of[0] += 1
        return steps(*args, **kwargs)

    monkeypatch.setattr(VAE, "reparameterize", spy)
    monkeypatch.setattr(vae_core.training.loop, "tqdm", counting_tqdm)
    train(tiny_cfg(epochs=3), tmp_path / "run", log=quiet)
    assert len(first_eps) == 3
    assert not torch.allclose(first_eps[1], first_eps[2])  # epochs 2 and 3 replayed the same noise before
    assert not torch.allclose(first_eps[0], first_eps[1])


def _same_run(a: Path, b: Path, epoch: int):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    ha = [r for r in history(a) if r["epoch"] == epoch]
    hb = [r for r in history(b) if r["epoch"] == epoch]
    assert len(ha) == len(hb) == 1
    strip = lambda r: {k: v for k, v in r.items() if k not in TIMING}
    assert strip(ha[0]) == strip(hb[0])
    ta, tb = load_file(str(a / "training_state.safetensors")), load_file(str(b / "training_state.safetensors"))
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


@pytest.mark.parametrize("overrides", [{"model": "vae"}, {"model": "vqvae"},
                                       {"model": "vqvae", "codebook": "loss", "kmeans_init": True},
                                       {"model": "vqvae", "quantizer": "fsq", "fsq_levels": "4,4",
                                        "vq_likelihood": "discretized_logistic"}])
@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path, tiny_cfg, overrides, monkeypatch):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(tiny_cfg(epochs=2, **overrides), whole, log=quiet)
    save = vae_core.train.save_epoch

    def save_then_stop(*args, **kwargs):  # Ctrl-C right after epoch 1 is saved
        save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(vae_core.train, "save_epoch", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg(epochs=2, **overrides), split, log=quiet)
    monkeypatch.setattr(vae_core.train, "save_epoch", save)
    assert [r["epoch"] for r in history(split)] == [1]
    logs = []
    train(tiny_cfg(epochs=2, **overrides), split, resume=True, log=logs.append)
    assert any("resuming" in m and "after epoch 1" in m for m in logs)
    assert [r["epoch"] for r in history(split)] == [1, 2]
    _same_run(whole, split, epoch=2)


def test_resume_refuses_mismatched_weights_and_state(tmp_path, tiny_cfg):
    out = tmp_path / "run"
    train(tiny_cfg(epochs=1), out, log=quiet)
    state = load_file(str(out / "training_state.safetensors"))
    from safetensors.torch import save_file

    save_file(state, str(out / "training_state.safetensors"), metadata={"epoch": "2"})
    with pytest.raises(CheckpointError, match="disagree"):
        train(tiny_cfg(epochs=3), out, resume=True, log=quiet)


# --- failures --------------------------------------------------------------------------------------
def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, tiny_cfg, digits, monkeypatch):
    cfg = tiny_cfg(epochs=3)
    steps = (len(digits.x_train) - validation_size(len(digits.x_train))) // cfg.batch_size
    calls = {"n": 0}
    original = VAE.forward

    def poisoned(self, x):
        out = original(self, x)
        if self.training:
            calls["n"] += 1
            if calls["n"] > steps + 3:  # the 4th step of epoch 2
                out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(VAE, "forward", poisoned)
    out = tmp_path / "run"
    with pytest.raises(TrainingError) as e:
        train(cfg, out, log=quiet)
    msg = str(e.value)
    assert "nan" in msg and "epoch 2, step 3" in msg and "(epoch 1)" in msg and "--resume" in msg
    model = load(out)  # the epoch-1 checkpoint still loads
    assert model.cfg.metrics["epoch"] == 1 and saved_epoch(out) == 1
    assert [r["epoch"] for r in history(out)] == [1]
    assert all(torch.isfinite(v.float()).all() for v in model.state_dict().values())


def _fail_on_call(n, exc, real):
    calls = {"n": 0}

    def fake(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return real(*args, **kwargs)

    return fake


def test_failing_save_raises_training_error_and_keeps_the_previous_checkpoint(tmp_path, tiny_cfg, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(vae_core.checkpoint, "save_checkpoint",
                        _fail_on_call(2, OSError(28, "No space left on device"), vae_core.checkpoint.save_checkpoint))
    with pytest.raises(TrainingError) as e:
        train(tiny_cfg(epochs=2), out, log=quiet)
    msg = str(e.value)
    assert "No space left on device" in msg and "epoch 2" in msg and "intact" in msg
    assert isinstance(e.value.__cause__, OSError)
    assert load(out).cfg.metrics["epoch"] == 1 and saved_epoch(out) == 1


def test_read_only_output_folder(tmp_path, tiny_cfg, monkeypatch):
    out = tmp_path / "run"
    train(tiny_cfg(epochs=1), out, log=quiet)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".safetensors")}
    if os.geteuid() != 0:
        out.chmod(0o555)
    else:  # root writes anywhere: fail every write the way a read-only file system does

        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(vae_core.training.run_folder, "open", read_only, raising=False)
        monkeypatch.setattr(vae_core.checkpoint, "save_file", read_only)
    try:
        with pytest.raises(TrainingError, match="Read-only file system|Permission denied") as e:
            train(tiny_cfg(epochs=2), out, resume=True, log=quiet)
    finally:
        out.chmod(0o755)
    assert "epoch 2" in str(e.value) and "intact" in str(e.value)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".safetensors")} == before
    assert load(out).cfg.metrics["epoch"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("failing_file", ["training_state.safetensors", "model.safetensors", "config.json"])
def test_disk_full_mid_save_leaves_a_whole_checkpoint_that_resumes(tmp_path, tiny_cfg, monkeypatch, failing_file):
    """The disk fills while epoch 2's files are written: epoch 1's checkpoint stays whole, and --resume works."""
    out, whole = tmp_path / "run", tmp_path / "whole"
    tiny = lambda **kw: tiny_cfg(warmdown=0.0, **kw)  # constant lr: a 1-epoch run is the start of a 2-epoch one
    train(tiny(epochs=1), out, log=quiet)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".safetensors")}
    names_before = [p.name for p in out.iterdir()]

    def half_then_full(path, write):  # write half the file, then fail as a full disk does
        write()
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        raise OSError(28, "No space left on device")

    real_save_file, real_write_text = vae_core.checkpoint.save_file, Path.write_text

    def save_file(tensors, filename, metadata=None):
        if failing_file in Path(filename).name:
            half_then_full(Path(filename), lambda: real_save_file(tensors, filename, metadata=metadata))
        return real_save_file(tensors, filename, metadata=metadata)

    def write_text(self, text, *args, **kwargs):
        if failing_file in self.name:
            half_then_full(self, lambda: real_write_text(self, text, *args, **kwargs))
        return real_write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(vae_core.checkpoint, "save_file", save_file)
    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(TrainingError, match="No space left on device"):
        train(tiny(epochs=2), out, resume=True, log=quiet)
    monkeypatch.undo()
    model = load(out)
    assert model.cfg.metrics["epoch"] == 1
    # the files still hold epoch 1 (and agree), so resuming (after freeing space) redoes epoch 2 exactly
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".safetensors")}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == sorted(names_before)  # no half-written leftovers
    train(tiny(epochs=2), out, resume=True, log=quiet)
    assert [r["epoch"] for r in history(out)] == [1, 2]
    train(tiny(epochs=2), whole, log=quiet)
    _same_run(whole, out, epoch=2)


# --- command line --------------------------------------------------------------------------------
def test_cli_trains_and_resumes(tmp_path, capsys):
    out = tmp_path / "cli"
    base = ["--data", "digits", "--width", "8", "--latent-dim", "4", "--batch-size", "64", "--out", str(out)]
    vae_core.train.main(["--model", "vae", "--epochs", "1", *base])
    cfg = Config.load(out / "config.json")
    assert (cfg.channels, cfg.image_size, cfg.width, cfg.latent_dim, cfg.batch_size) == (1, 8, 8, 4, 64)
    vae_core.train.main(["--out", str(out), "--resume", "--epochs", "2", "--lr", "0.5"])
    assert "ignoring ['lr']" in capsys.readouterr().err
    cfg = Config.load(out / "config.json")
    assert cfg.epochs == 2 and cfg.lr == Config().lr and [r["epoch"] for r in history(out)] == [1, 2]


def test_cli_refuses_to_overwrite_a_checkpoint(tmp_path, tiny_cfg, capsys):
    out = tmp_path / "run"
    train(tiny_cfg(), out, log=quiet)
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(SystemExit) as e:
        vae_core.train.main(["--data", "digits", "--width", "8", "--epochs", "1", "--out", str(out)])
    assert e.value.code == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("make", [False, True])
def test_cli_resume_without_a_checkpoint_errors(tmp_path, capsys, make):
    out = tmp_path / "empty"
    if make:
        out.mkdir()
    with pytest.raises(SystemExit) as e:
        vae_core.train.main(["--out", str(out), "--resume"])
    assert e.value.code == 2
    assert "holds no checkpoint with training state to resume" in capsys.readouterr().err


@pytest.mark.parametrize("args,words", [
    (["--data", "/no/such/data"], "not found"),
    (["--data", "digits", "--model", "gan"], "model must be one of"),
    (["--data", "digits", "--image-size", "10"], "multiple of 4"),
])
def test_cli_reports_bad_arguments(tmp_path, capsys, args, words):
    with pytest.raises(SystemExit) as e:
        vae_core.train.main([*args, "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_cli_help_mentions_every_flag():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "vae_core.train", "--help"], check=False, capture_output=True, text=True,
                       timeout=120, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    # the priors' settings are vae_core.train_prior's flags (--layers, --heads, --dim, --dropout) and
    # vae_core.fit_prior's (--components, --covariance, ...)
    not_flags = {"record"} | {f.name for f in dataclasses.fields(Config) if f.name.startswith(("prior_", "gmm_"))}
    flags = ["--out", "--resume", "--device"]
    for f in dataclasses.fields(Config):
        if f.name not in not_flags:
            flags.append("--" + f.name.replace("_", "-"))
    for flag in flags:
        assert flag in r.stdout, flag
    assert "--no-amp" in r.stdout and "--kmeans-init" in r.stdout
    assert set(vae_core.train.train_settings()) == {f.name for f in dataclasses.fields(Config)} - not_flags


def test_every_setting_is_documented_once_in_config():
    """Each setting's help is its field's metadata, and the flags' help is that text (no second copy)."""
    import argparse

    from vae_core.training.flags import add_setting_flags

    settings = [f for f in dataclasses.fields(Config) if f.name != "record"]
    assert all(len(f.metadata.get("help", "")) > 5 for f in settings)
    p = argparse.ArgumentParser()
    add_setting_flags(p, ["latent_dim"], {"latent_dim": 16})
    (action,) = [a for a in p._actions if a.dest == "latent_dim"]
    field = next(f for f in settings if f.name == "latent_dim")
    assert action.help == field.metadata["help"] + " (default: 16)"
    assert not any(word in f.metadata["help"].lower() for f in settings for word in ("issue ", "#1"))


def test_training_leaves_the_callers_config_as_it_was(tmp_path, tiny_cfg):
    cfg = tiny_cfg(epochs=1)
    before = cfg.to_dict()
    train(cfg, tmp_path / "run", log=quiet)
    assert cfg.to_dict() == before and cfg.metrics == {} and cfg.validation == -1
    saved = load(tmp_path / "run").cfg
    assert saved.metrics["epoch"] == 1 and saved.version == vae_core.__version__


def test_the_validation_split_is_held_out_of_training_and_seeded(tiny_cfg, digits):
    n = len(digits.x_train)
    a, b, c = (hold_out(digits, 144, seed) for seed in (0, 0, 1))
    assert len(a.x_val) == 144 and len(a.x_train) == n - 144 and len(a.x_test) == len(digits.x_test)
    assert (a.x_val == b.x_val).all() and not (a.x_val == c.x_val).all()  # seeded
    seen = {x.tobytes() for x in a.x_train}
    assert sum(x.tobytes() in seen for x in a.x_val) < 5  # (the digits hold a few duplicate images)
    assert validation_size(60_000) == 5000 and validation_size(1438) == 144 and validation_size(1) == 0
    assert hold_out(digits, 0, 0) is digits


def test_a_run_without_a_validation_split_is_evaluated_on_the_test_split(tmp_path, tiny_cfg):
    metrics = train(tiny_cfg(epochs=1, validation=0), tmp_path / "run", log=quiet)
    assert metrics["split"] == "test" and metrics["n_images"] == 359


def test_old_configs_load_as_without_a_validation_split(tmp_path, tiny_cfg):
    d = tiny_cfg().to_dict()
    del d["validation"]
    record = d.pop("record")
    old = Config.from_dict({**d, **record, "metrics": {"mse": 0.5}, "label_names": ["a"]})  # before Record
    assert old.validation == 0 and old.metrics == {"mse": 0.5} and old.label_names == ["a"]


def test_trainer_applies_the_lr_warm_down_over_all_epochs(tmp_path, tiny_cfg, monkeypatch):
    seen = []
    real = vae_core.training.loop.lr_at

    def recording(cfg, progress):
        seen.append(progress)
        return real(cfg, progress)

    monkeypatch.setattr(vae_core.training.loop, "lr_at", recording)
    cfg = tiny_cfg(epochs=2, batch_size=100)  # 1438 training digits, 144 held out for validation: 12 steps an epoch
    train(cfg, tmp_path / "run", log=quiet)
    assert len(seen) == 24 and seen[0] == 0.0 and seen == sorted(seen) and seen[-1] == pytest.approx(23 / 24)


# --- the time budget (a fake clock: the tests assert what the trainer does, never how long it took) ----------
class FakeClock:
    """time.time() for vae_core.train and vae_core.training.loop that moves `per_call` seconds each time it is read."""

    def __init__(self, per_call: float):
        self.now, self.per_call = 1000.0, per_call

    def time(self) -> float:
        self.now += self.per_call
        return self.now


@pytest.mark.slow
def test_time_budget_stops_the_run_and_spreads_the_warm_down_over_it(tmp_path, tiny_cfg, monkeypatch):
    fake = FakeClock(per_call=0.01)
    monkeypatch.setattr(vae_core.train, "time", fake)
    monkeypatch.setattr(vae_core.training.loop, "time", fake)
    lrs = []
    lr_at = vae_core.training.loop.lr_at
    monkeypatch.setattr(vae_core.training.loop, "lr_at", lambda cfg, p: lrs.append(lr_at(cfg, p)) or lrs[-1])
    cfg = tiny_cfg(epochs=1000, time_budget=5.0, lr=1e-3)  # a cap far beyond what the budget allows
    metrics = train(cfg, tmp_path / "run", log=quiet)
    epochs = [r["epoch"] for r in history(tmp_path / "run")]
    assert 1 <= len(epochs) < 1000 and metrics["epoch"] == epochs[-1]
    assert load(tmp_path / "run").cfg.time_budget == 5.0  # recorded with the checkpoint
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] < 0.2e-3  # warmed down by the clock, not by the 1000 epochs
    # stopped at the budget (counted from the call), evaluation and saving included
    assert fake.now - 1000.0 < 5.0 + 2.0


def test_short_epochs_under_a_budget_are_evaluated_less_often(monkeypatch):
    """At most EVALUATION_SHARE of the time goes to evaluating: with 1 s epochs and a 2 s evaluation, every 8th."""
    fake = FakeClock(per_call=0.0)
    monkeypatch.setattr(vae_core.training.loop, "time", fake)
    clock = vae_core.training.loop.Clock(Config(time_budget=1000.0), started=fake.now)
    evaluated = []
    for epoch in range(1, 41):
        fake.now += 1.0  # an epoch of training
        if clock.evaluate_now(last_epoch=epoch == 40):
            evaluated.append(epoch)
            fake.now += 2.0  # evaluating and saving
            clock.evaluated_and_saved(2.0)
    assert evaluated[0] == 1 and evaluated[-1] == 40  # the first epoch and the last one
    assert evaluated[1:4] == [9, 17, 25]  # 8 s of training for each 2 s of evaluating: 20%
    no_budget = vae_core.training.loop.Clock(Config(), started=fake.now)
    no_budget.evaluated_and_saved(2.0)
    assert no_budget.evaluate_now(last_epoch=False)  # without a budget every epoch is evaluated


@pytest.mark.slow
def test_a_budgeted_run_ends_with_an_evaluated_checkpoint_of_its_last_epoch(tmp_path, tiny_cfg, monkeypatch):
    fake = FakeClock(per_call=0.01)
    monkeypatch.setattr(vae_core.train, "time", fake)
    monkeypatch.setattr(vae_core.training.loop, "time", fake)
    real_evaluate = vae_core.train.evaluate

    def slow_evaluate(*args, **kwargs):  # each evaluation costs 5 s of the 20 s budget
        fake.now += 5.0
        return real_evaluate(*args, **kwargs)
    monkeypatch.setattr(vae_core.train, "evaluate", slow_evaluate)
    cfg = tiny_cfg(epochs=1000, time_budget=20.0)
    metrics = train(cfg, tmp_path / "run", log=quiet)
    rows = history(tmp_path / "run")
    epochs = [r["epoch"] for r in rows]
    assert epochs[0] == 1 and epochs == sorted(epochs) and epochs[-1] > len(epochs)  # some epochs not evaluated
    assert metrics["epoch"] == epochs[-1] == load(tmp_path / "run").cfg.metrics["epoch"]  # saved after the last
    # each row counts all the training since the row before: every full epoch's steps appear once
    ds = load_dataset(cfg.data, seed=cfg.seed, log=quiet)
    steps_per_epoch = len(hold_out(ds, validation_size(len(ds.x_train)), cfg.seed).x_train) // cfg.batch_size
    trained = sum(r["images_per_sec"] * r["seconds"] for r in rows) / cfg.batch_size
    assert (epochs[-1] - 1) * steps_per_epoch < round(trained) <= epochs[-1] * steps_per_epoch


def test_clock_progress_and_stop():
    cfg = Config(time_budget=100.0)
    clock = vae_core.training.loop.Clock(cfg)
    clock.elapsed = lambda: 50.0
    assert clock.progress(0.1) == pytest.approx(50 / 95)  # 5% kept for the last evaluation until one is timed
    assert clock.progress(0.9) == 0.9  # the epoch cap can be the nearer end
    assert not clock.must_stop()
    clock.evaluated_and_saved(45.0)  # evaluating and saving took 45 s: 54 s are kept, and 50 + 54 > 100
    assert clock.must_stop()
    no_budget = vae_core.training.loop.Clock(Config())
    assert no_budget.progress(0.3) == 0.3 and not no_budget.must_stop()


def test_restored_adam_moments_take_their_parameters_layout():
    """Saved moments are contiguous; a channels_last conv weight with contiguous moments makes fused Adam (which
    walks memory) update the wrong elements. Restored, the next step equals the step of an optimizer never saved."""
    from vae_core.training.device import adam
    from vae_core.training.run_folder import restore_training_state

    def fresh():
        torch.manual_seed(0)
        p = torch.nn.Parameter(torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last))
        return p, adam([p], 0.1, "cpu")

    p, opt = fresh()
    for _ in range(2):
        p.grad = torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last)
        opt.step()
    saved = {f"optim.0.{k}": v.contiguous().clone() for k, v in opt.state[p].items()}  # as a file holds them
    saved.update({"rng.torch": torch.get_rng_state(), "epoch": torch.tensor(2)})
    q, restored = fresh()
    q.data.copy_(p.data)
    restore_training_state(restored, saved)
    assert restored.state[q]["exp_avg"].stride() == q.stride()
    p.grad = q.grad = torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last)
    opt.step()
    restored.step()
    assert torch.equal(p.data, q.data)


@pytest.mark.parametrize("model_name", ["vae", "vqvae"])
def test_fused_adam_step_equals_the_plain_one_on_a_channels_last_model(tiny_cfg, digits, model_name):
    """Fused Adam walks raw memory: it is right only while every gradient has its parameter's strides (autograd's
    layout contract). One training step of a channels-last conv model, fused and plain, must agree."""
    import copy

    from vae_core.training.device import adam
    from vae_core.training.precision import training_losses, training_model

    cfg = tiny_cfg(model=model_name, amp=False)
    torch.manual_seed(0)
    fused = training_model(build_model(cfg), cfg, torch.device("cpu"))
    assert any(p.dim() == 4 and not p.is_contiguous() for p in fused.parameters())  # some weights are NHWC
    plain = copy.deepcopy(fused)
    x = to_float(digits.x_train[:32])
    for model, opt in ((fused, adam(fused.parameters(), 1e-2, "cpu")),
                       (plain, torch.optim.Adam(plain.parameters(), lr=1e-2))):
        for _ in range(2):
            torch.manual_seed(1)
            loss = training_losses(model, x, cfg, torch.device("cpu"))["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            assert all(p.grad.stride() == p.stride() for p in model.parameters() if p.grad is not None)
            opt.step()
    for (name, a), b in zip(fused.named_parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
