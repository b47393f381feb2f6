"""Checkpoint folders: exact round trips, and clear CheckpointErrors (never unpickling) for broken folders."""
import json
import pickle
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vae_core
from vae_core import VAE, CheckpointError, Config, build_model, load, save_checkpoint
from vae_core.config import Record
from vae_core.data import to_float

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def _trained(cfg, digits, steps=5):
    """A model a few optimizer steps away from its initialisation (so EMA buffers, log scales... are not defaults)."""
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for i in range(steps):
        loss = model(to_float(digits.x_train[32 * i:32 * (i + 1)]))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture
def vae_folder(tmp_path, tiny_cfg, digits):
    folder = tmp_path / "vae"
    save_checkpoint(folder, _trained(tiny_cfg(), digits), tiny_cfg())
    return folder


@pytest.mark.parametrize("overrides", [
    {"model": "vae"},
    {"model": "vae", "arch": "mlp", "hidden": 32, "likelihood": "discretized_gaussian", "scale": "shared"},
    {"model": "vae", "likelihood": "discretized_gaussian", "scale": "fixed", "fixed_scale": 0.2},
    {"model": "vae", "arch": "mlp", "hidden": 32, "likelihood": "bernoulli"},
    {"model": "vqvae"},
    {"model": "vqvae", "codebook": "loss", "kmeans_init": True},
])
def test_round_trip_is_exact(tmp_path, tiny_cfg, digits, overrides):
    cfg = tiny_cfg(**overrides)
    model = _trained(cfg, digits)
    save_checkpoint(tmp_path / "ckpt", model, cfg, epoch=3, record=Record(list("0123456789"), metrics={"mse": 0.25}))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load(tmp_path / "ckpt")
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.cfg == cfg and loaded.cfg.version == vae_core.__version__
    assert loaded.cfg.metrics == {"mse": 0.25} and loaded.cfg.label_names == list("0123456789")
    assert cfg.version == "" and cfg.metrics == {}  # saving records into the file, not into the caller's Config
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
    x = to_float(digits.x_test[:8])
    assert torch.equal(model.reconstruct(x), loaded.reconstruct(x))
    torch.manual_seed(5)
    out_a = model.loss(x)
    torch.manual_seed(5)
    out_b = loaded.loss(x)
    for k in out_a:
        assert torch.equal(out_a[k], out_b[k])


def test_training_state_is_saved_with_its_epoch(tmp_path, tiny_cfg, digits):
    from safetensors import safe_open

    model = _trained(tiny_cfg(), digits, steps=1)
    state = {"epoch": torch.tensor(7), "opt.x": torch.arange(3.0)}
    save_checkpoint(tmp_path / "c", model, tiny_cfg(), state, epoch=7)
    got = load_file(str(tmp_path / "c" / "training_state.safetensors"))
    assert torch.equal(got["opt.x"], state["opt.x"]) and int(got["epoch"]) == 7
    for name in ("training_state.safetensors", "model.safetensors"):
        with safe_open(str(tmp_path / "c" / name), framework="pt") as f:
            assert f.metadata()["epoch"] == "7"
    assert not [p for p in (tmp_path / "c").iterdir() if "tmp" in p.name]  # no temporaries left


def test_save_over_an_existing_checkpoint(tmp_path, tiny_cfg, digits):
    cfg = tiny_cfg()
    save_checkpoint(tmp_path / "c", _trained(cfg, digits, steps=1), cfg)
    newer = _trained(cfg, digits, steps=3)
    save_checkpoint(tmp_path / "c", newer, cfg)
    assert all(torch.equal(v, newer.state_dict()[k]) for k, v in load(tmp_path / "c").state_dict().items())


# --- errors --------------------------------------------------------------------------------------
def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load(tmp_path / "nope")


def test_missing_weights(vae_folder):
    (vae_folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing model.safetensors") as e:
        load(vae_folder)
    assert "python -m vae_core.train" in str(e.value)


def test_missing_config(vae_folder):
    (vae_folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match="missing config.json"):
        load(vae_folder)


class _Trap:
    """Unpickling this creates a marker file: proof that someone ran code from a pickle."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("with_config", [False, True])
def test_pickle_files_are_refused_never_unpickled(tmp_path, tiny_cfg, monkeypatch, with_config):
    # the trap works: unpickling it does create its marker
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Trap(proof)))
    assert proof.exists()

    folder, marker = tmp_path / "pickled", tmp_path / "marker"
    folder.mkdir()
    torch.save({"state_dict": _Trap(marker)}, folder / "model.pt")
    if with_config:
        tiny_cfg().save(folder / "config.json")

    def no_unpickling(*args, **kwargs):
        raise AssertionError("vae_core.load must never unpickle")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    with pytest.raises(CheckpointError) as e:
        load(folder)
    msg = str(e.value)
    assert "model.pt" in msg and "pickle files are never loaded" in msg and "safetensors" in msg
    assert not marker.exists()


def test_pickle_renamed_to_safetensors_is_refused(vae_folder, tmp_path):
    marker = tmp_path / "marker"
    torch.save({"w": _Trap(marker)}, vae_folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="corrupt or truncated safetensors"):
        load(vae_folder)
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0.5, 0.99, 10])
def test_truncated_safetensors(vae_folder, keep):
    p = vae_folder / "model.safetensors"
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data[:keep])
    with pytest.raises(CheckpointError, match="corrupt or truncated safetensors file") as e:
        load(vae_folder)
    assert "model.safetensors" in str(e.value)


@pytest.mark.parametrize("change,words", [
    ({"latent_dim": 6}, "wrong shape"),
    ({"width": 16}, "wrong shape"),
    ({"model": "vqvae"}, "missing"),
    ({"scale": "shared"}, "missing: \\['likelihood.log_scale'\\]"),
    ({"arch": "mlp"}, "unexpected"),
])
def test_config_that_does_not_match_the_weights(vae_folder, change, words):
    d = json.loads((vae_folder / "config.json").read_text())
    (vae_folder / "config.json").write_text(json.dumps({**d, **change}))
    with pytest.raises(CheckpointError, match="config.json does not match model.safetensors") as e:
        load(vae_folder)
    assert re.search(words, str(e.value))


def test_unknown_model_class(vae_folder):
    d = json.loads((vae_folder / "config.json").read_text())
    (vae_folder / "config.json").write_text(json.dumps({**d, "model": "diffusion"}))
    with pytest.raises(CheckpointError, match="not a valid vae_core config.*model must be one of"):
        load(vae_folder)


def test_unknown_config_key(vae_folder):
    d = json.loads((vae_folder / "config.json").read_text())
    (vae_folder / "config.json").write_text(json.dumps({**d, "optimizer": "sgd"}))
    with pytest.raises(CheckpointError, match="unknown keys \\['optimizer'\\]"):
        load(vae_folder)


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '"a string"'])
def test_invalid_json(vae_folder, text):
    (vae_folder / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match="config.json: not a valid vae_core config"):
        load(vae_folder)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_conv_vae_from_before_0_2_0_gets_a_retrain_hint(tmp_path, tiny_cfg):
    """0.2.0 changed the conv VAE's layers: an older checkpoint says so instead of only listing keys."""
    from torch import nn

    from vae_core.models.nets import conv_decoder, conv_encoder

    cfg = tiny_cfg(model="vae")
    old, w, k, g = VAE(cfg), cfg.width, cfg.latent_dim, cfg.image_size // 4  # the body vae_core 0.1.0 built
    old.encoder = nn.Sequential(conv_encoder(1, w, 2 * w), nn.ReLU(), nn.Flatten(), nn.Linear(2 * w * g * g, 2 * k))
    old.decoder = nn.Sequential(nn.Linear(k, 2 * w * g * g), nn.ReLU(), nn.Unflatten(1, (2 * w, g, g)),
                                conv_decoder(2 * w, w, 1))
    save_checkpoint(tmp_path / "old", old, cfg)
    d = json.loads((tmp_path / "old" / "config.json").read_text())
    (tmp_path / "old" / "config.json").write_text(json.dumps({**d, "version": "0.1.0"}))
    with pytest.raises(CheckpointError, match="written by vae_core 0.1.0.*changed in 0.2.0: retrain it"):
        load(tmp_path / "old")


def test_continuous_gaussian_checkpoints_load_as_discretised(tmp_path, tiny_cfg, digits):
    """Checkpoints from before 0.3.0 named continuous Gaussians; the same weights are now discretised ones."""
    cfg = tiny_cfg(likelihood="discretized_gaussian", scale="shared")
    model = _trained(cfg, digits)
    save_checkpoint(tmp_path / "old", model, cfg)
    d = json.loads((tmp_path / "old" / "config.json").read_text())
    del d["scale"]
    (tmp_path / "old" / "config.json").write_text(json.dumps({**d, "likelihood": "gaussian", "version": "0.2.0"}))
    loaded = load(tmp_path / "old")
    assert (loaded.cfg.likelihood, loaded.cfg.scale) == ("discretized_gaussian", "shared")
    torch.testing.assert_close(loaded.likelihood.log_scale, model.likelihood.log_scale)
    d["likelihood"] = "gaussian_fixed"
    (tmp_path / "old" / "config.json").write_text(json.dumps(d))
    assert Config.load(tmp_path / "old" / "config.json").scale == "fixed"


def test_the_run_folder_module_imports_no_training_machinery():
    """The explorer reads HISTORY from vae_core.training.run_folder: importing it must not pull in torch.distributed or
    tqdm (nor torch itself: its functions that need torch import it)."""
    import subprocess
    import sys

    code = ("import sys, vae_core.training.run_folder as r; print(r.HISTORY, *(m in sys.modules for m in "
            "('torch.distributed', 'tqdm', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], check=False,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["history.jsonl", "False", "False", "False"]
