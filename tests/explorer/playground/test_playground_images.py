"""The playground's image case without a browser: vae_core's VAE and VQ-VAE on the 8x8 digits (and Fashion-MNIST
where it is installed), what a snapshot holds and when it changes, refused data sets, and saving as a checkpoint."""
import json
import pickle

import numpy as np
import pytest
import torch

import vae_core.data
from explorer.errors import PlaygroundError
from explorer.figures.binary_arrays import decode_array
from explorer.playground import data as playground_data
from explorer.playground.run import Curves, PlaygroundRun
from explorer.playground.scenes import playground_scene, playground_stats
from explorer.playground.settings import PlaygroundSettings, check_settings
from vae_core import load, save_checkpoint

pytestmark = pytest.mark.usefixtures("vc_one_thread")
DIGITS = 1438  # the digits' training split: every image of it
FASHION_INSTALLED = vae_core.data.local_folder("fashion-mnist") is not None


def digits_run(**settings) -> PlaygroundRun:
    return PlaygroundRun(PlaygroundSettings(data="digits", **settings))


def train_epochs(run: PlaygroundRun, epochs: int) -> None:
    while run.seen < epochs * len(run.data):
        run.train_for(1.0, max_steps=5)


def test_an_image_vae_learns_the_digits_in_nats_per_image():
    run = digits_run()
    assert isinstance(run.model, vae_core.VAE) and run.model.cfg.likelihood == "discretized_logistic"
    for _ in range(25):
        run.train_for(1.0, max_steps=4)
    first, last = np.mean(run.curves.loss[:3]), np.mean(run.curves.loss[-3:])
    assert last < first - 10, (first, last)  # nats per image (64 pixels)
    stats = playground_stats(run.snapshot(), "training")
    assert "nats per image" in stats and "bits/dim" in stats and "epoch" in stats


def test_an_image_vae_snapshot_holds_the_latent_map_by_label_and_the_strip():
    run = digits_run(latent_dim=2)
    run.train_for(1.0, max_steps=3)
    s = run.snapshot()
    assert s["case"] == "images" and s["mu"].shape == (500, 2) and s["sigma"].shape == (500, 2)
    assert s["labels"].shape == (500,) and len(s["label_names"]) == 10
    for row in ("strip_data", "strip_recon", "strip_samples"):
        assert s[row].shape == (8, 8, 8) and s[row].dtype == np.uint8
    assert len(set(s["labels"].tolist())) == 10  # the seeded subset covers every class
    scene = json.loads(playground_scene(s, 1))
    kinds = [p.get("kind", "plane") for p in scene["panels"]]
    assert kinds == ["plane", "strip"]
    labelled = [layer for layer in scene["panels"][0]["layers"] if layer["type"] == "labelled"][0]
    assert len(decode_array(labelled["xy"])) == 1000 and labelled["names"] == [str(i) for i in range(10)]
    strip = scene["panels"][1]["rows"]
    assert np.array_equal(decode_array(strip[0]["images"]).reshape(8, 8, 8), s["strip_data"])


def test_a_one_dimensional_latent_is_mapped_across_with_the_label_up():
    s = digits_run(latent_dim=1).snapshot()
    assert s["mu"].shape == (500, 1)
    layers = json.loads(playground_scene(s, 1))["panels"][0]["layers"]
    xy = decode_array([la for la in layers if la["type"] == "labelled"][0]["xy"]).reshape(-1, 2)
    assert np.allclose(xy[:, 0], s["mu"][:, 0]) and np.all(np.abs(xy[:, 1] - s["labels"]) <= 0.31)


def test_the_strip_and_map_change_only_at_an_epoch_end_and_are_reused_between():
    run = digits_run(batch_size=128)  # an epoch: 1,438 images, the 12th step ends it
    start = run.snapshot()
    assert start["epoch"] == 0
    for _ in range(11):
        run.train_for(1.0, max_steps=1)
    middle = run.snapshot()
    assert middle["steps"] == 11 and middle["epoch"] == 0 and 0.9 < middle["epoch_progress"] < 1
    assert middle["strip_recon"] is start["strip_recon"] and middle["mu"] is start["mu"]  # kept, not redrawn
    run.train_for(1.0, max_steps=1)
    after = run.snapshot()
    assert after["epoch"] == 1 and after["epoch_progress"] < 0.1
    assert not np.array_equal(after["strip_recon"], start["strip_recon"])
    assert not np.allclose(after["mu"], start["mu"])
    assert np.array_equal(after["strip_data"], start["strip_data"])  # the same fixed images


def test_an_image_vq_vae_counts_every_cell_of_every_image_and_marks_dead_codes():
    run = digits_run(model="vqvae", num_codes=16)
    assert isinstance(run.model, vae_core.VQVAE) and run.model.grid_size == 2
    first = run.snapshot()
    assert not first["initialized"]  # epoch 0: the placeholder codebook, before the k-means init
    train_epochs(run, 2)
    s = run.snapshot()
    assert s["initialized"] and s["counts"].shape == (16,)
    assert s["counts"].sum() == DIGITS * 4  # 2 x 2 cells per image
    assert np.array_equal(s["dead"], s["counts"] == 0)
    c = run.curves  # over each update's batches
    assert len(c.perplexity) == len(c.loss) and all(1 <= p <= 16 for p in c.perplexity)
    assert s["strip_samples"].shape == (8, 8, 8)
    scene = playground_scene(s, 1)
    assert '"kind":"bars"' in scene and "Generate tab" in scene
    assert "dead codes" in playground_stats(s, "training")


def test_without_restarts_some_codes_die_and_the_bars_mark_them():
    run = digits_run(model="vqvae", num_codes=64, kmeans_init=False, restarts=False)
    train_epochs(run, 2)
    s = run.snapshot()
    assert s["dead"].sum() > 0, s["counts"]
    bars = json.loads(playground_scene(s, 1))["panels"][0]
    assert np.array_equal(decode_array(bars["dead"]).astype(bool), s["dead"])


def test_a_snapshot_is_plain_picklable_data():
    for model in ("vae", "vqvae"):
        run = digits_run(model=model)
        run.train_for(1.0, max_steps=2)
        s = pickle.loads(pickle.dumps(run.snapshot()))
        assert isinstance(s["curves"], Curves) and s["curves"].loss == run.curves.loss
        assert not any(isinstance(v, torch.Tensor) for v in s.values())


def test_a_diverging_image_run_pauses_with_a_note():
    run = digits_run()
    with torch.no_grad():
        run.model.decoder[-2].weight.fill_(float("nan"))  # the MLP body: Linear, then Unflatten
    assert run.train_for(1.0, max_steps=3) == 0
    assert "lower the learning rate" in run.paused_note


def test_bad_image_controls_are_refused():
    with pytest.raises(PlaygroundError, match="arch must be one of"):
        check_settings({"data": "digits", "arch": "resnet"})
    with pytest.raises(PlaygroundError, match="data must be one of"):
        check_settings({"data": "cifar"})
    assert check_settings({"data": "digits", "arch": "conv"}).shape() != check_settings({"data": "digits"}).shape()
    assert check_settings({"arch": "conv"}).shape() == PlaygroundSettings().shape()  # points have one body


def test_fashion_mnist_missing_is_refused_with_what_to_install_and_the_digits_still_work(tmp_path, monkeypatch):
    monkeypatch.setattr(vae_core.data, "SYSTEM_DIR", tmp_path / "no-datasets")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.setattr(playground_data, "_sets", {})  # nothing loaded in this process yet
    with pytest.raises(PlaygroundError, match="apt-get install dataset-fashion-mnist"):
        check_settings({"data": "fashion-mnist"})
    with pytest.raises(PlaygroundError, match="apt-get install dataset-fashion-mnist"):
        PlaygroundRun(PlaygroundSettings(data="fashion-mnist"))
    assert not (tmp_path / "no-cache").exists()  # nothing was downloaded
    assert digits_run().snapshot()["strip_data"].shape == (8, 8, 8)


@pytest.mark.skipif(not FASHION_INSTALLED, reason="Fashion-MNIST is not installed (apt-get install "
                                                  "dataset-fashion-mnist)")
def test_fashion_mnist_runs_on_2000_images_with_named_labels_and_a_compact_scene():
    run = PlaygroundRun(PlaygroundSettings(data="fashion-mnist", model="vqvae"))
    run.train_for(1.0, max_steps=2)
    s = run.snapshot()
    assert len(run.data) == 2000 and s["pixels"] == 784 and s["strip_recon"].shape == (8, 28, 28)
    assert s["label_names"][0] == "T-shirt/top" and run.model.grid_size == 7
    assert len(playground_scene(s, 1)) < 60_000  # tens of kilobytes a tick


@pytest.mark.parametrize("model", ["vae", "vqvae"])
def test_a_saved_image_run_loads_back_with_vae_core_and_decodes_the_same_images(tmp_path, model):
    run = digits_run(model=model, arch="conv", seed=3)
    train_epochs(run, 1)
    net, cfg = run.to_checkpoint()
    assert cfg.data == "digits" and cfg.label_names == [str(i) for i in range(10)] and cfg.epochs == 1
    save_checkpoint(tmp_path / "run", net, cfg)
    loaded = load(tmp_path / "run")
    assert type(loaded) is type(run.model) and loaded.cfg.settings() == cfg.settings()
    x = run.data[:16]
    run.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.reconstruct(x), run.model.reconstruct(x))
    run.train_for(1.0, max_steps=2)  # training on leaves the saved copy as it was
    assert torch.equal(net.reconstruct(x), loaded.reconstruct(x))


def test_a_point_run_cannot_be_saved_as_a_checkpoint():
    with pytest.raises(PlaygroundError, match="Save as checkpoint is for image runs"):
        PlaygroundRun(PlaygroundSettings(data="moons")).to_checkpoint()
