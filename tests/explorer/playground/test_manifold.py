"""GAN Lab's views in the Playground without a browser: the decoder's warped grid, slow motion, and each step's
arrows on the reconstructions."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from explorer.playground.manifold import grid_box, latent_grid, warped_grid
from explorer.playground.pool import PlaygroundPool
from explorer.playground.run import ARROWS, PlaygroundRun
from explorer.playground.scene_parts import arrow_scale
from explorer.playground.scenes import SLOW_PACE, playground_scene, vae_panels, vq_panels
from explorer.playground.settings import PlaygroundSettings
from explorer.playground.workers import LocalRuns

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def test_the_grid_of_latents_is_regular_and_a_1d_latent_gives_one_line():
    z = latent_grid(-3, 3, 2, lines=5)
    assert z.shape == (5, 5, 2)
    assert torch.allclose(z[2, :, 0], torch.zeros(5)) and torch.allclose(z[:, 4, 1], torch.full((5,), 3.0))
    assert latent_grid(-1, 1, 1, lines=7).shape == (1, 7, 1)
    with pytest.raises(ValueError, match="1 or 2 latent dimensions"):
        latent_grid(-1, 1, 3)
    assert grid_box(np.array([[0.0, 1.0], [2.0, -1.0]])) == pytest.approx((-1.15, 2.15))  # mid 0.5, half 1.5 x 1.1


def test_an_affine_decoder_warps_the_grid_into_its_affine_image():
    A, c = torch.tensor([[2.0, 1.0], [-0.5, 3.0]]), torch.tensor([0.5, -1.0])
    z, x = warped_grid(lambda v: v @ A.T + c, -3, 3, 2, lines=15)
    assert np.allclose(x, z @ A.numpy().T + c.numpy(), atol=1e-5)
    steps = np.diff(x, axis=0)  # a parallelogram grid: every step along a column is the same vector
    assert np.allclose(steps, steps[0, 0], atol=1e-5)


def test_a_vae_run_draws_its_decoder_over_the_grid_in_one_decode():
    run = PlaygroundRun(PlaygroundSettings(data="moons"))
    decoder = nn.Sequential(nn.Linear(2, 4))  # loc = the first two outputs: an affine decoder
    run.model.decoder = decoder
    s = run.snapshot()
    assert s["grid_z"].shape == (15, 15, 2) and s["grid_z"].min() == -3 and s["grid_z"].max() == 3
    with torch.no_grad():
        expected = decoder(torch.from_numpy(s["grid_z"]))[..., :2].numpy()
    assert np.allclose(s["grid_x"], expected, atol=1e-5)
    data = vae_panels(s)[0]
    grid = data["layers"][0]
    assert grid["type"] == "grid" and (grid["rows"], grid["cols"]) == (15, 15)
    assert vae_panels(s)[1]["layers"][0]["type"] == "grid"  # the regular grid in latent space too


def test_a_vq_vae_run_draws_dec_z_over_a_grid_of_the_codes_plane():
    run = PlaygroundRun(PlaygroundSettings(model="vqvae", data="ring"))
    run.train_for(1.0, max_steps=2)
    s = run.snapshot()
    lo, hi = s["grid_z"].min(), s["grid_z"].max()
    assert lo <= s["z_e"].min() and s["z_e"].max() <= hi and lo <= s["codes"].min() and s["codes"].max() <= hi
    with torch.no_grad():
        expected = run.model.decode(torch.from_numpy(s["grid_z"].reshape(-1, 2))).numpy().reshape(15, 15, 2)
    assert np.allclose(s["grid_x"], expected, atol=1e-5)
    types = [[layer["type"] for layer in p["layers"]] for p in vq_panels(s, 16)]
    assert types[0][0] == "grid" and types[1][0] == "grid" and types[1][-1] == "arrows"


@pytest.mark.parametrize("model", ["vae", "vqvae"])
def test_a_steps_arrows_are_the_reconstructions_measured_move_over_the_last_step(model):
    run = PlaygroundRun(PlaygroundSettings(model=model, data="ring", seed=2))
    run.train_for(1.0, max_steps=2)
    points = run.data[run.shown[::len(run.shown) // ARROWS]]
    twin = copy.deepcopy(run)  # the same model, optimiser and batches: it takes the same steps
    torch.manual_seed(0)  # and the same draws of the global generator (a VQ-VAE's dead-code restarts)
    twin.train_for(1.0, max_steps=2)
    twin.model.eval()
    before = twin.model.reconstruct(points)
    twin.train_for(1.0, max_steps=1)
    twin.model.eval()
    after = twin.model.reconstruct(points)
    torch.manual_seed(0)
    run.train_for(1.0, max_steps=3)  # slow motion: three steps a scene, the arrows of the last
    move = run.snapshot()["step_move"]
    assert move["step"] == 5 and move["move"].shape == (ARROWS, 2)
    assert np.allclose(move["from"], before.numpy(), atol=1e-5)
    assert np.allclose(move["move"], (after - before).numpy(), atol=1e-5)
    assert np.abs(move["move"]).max() > 0
    run.train_for(0.01)  # full speed: no arrows
    assert "step_move" not in run.snapshot()


def test_the_arrows_are_scaled_by_a_power_of_ten_that_the_legend_names():
    assert arrow_scale(np.array([[0.0025, 0.0], [0.0, 0.003], [0.002, 0.0]])) == 100
    assert arrow_scale(np.array([[1.0, 0.0]])) == 1 and arrow_scale(np.zeros((3, 2))) == 1
    run = PlaygroundRun(PlaygroundSettings())
    run.train_for(0.0, max_steps=1)
    arrows = vae_panels(run.snapshot())[0]["layers"][-1]
    assert arrows["role"] == "step" and f"x{arrows['scale']:g}" in arrows["name"] and "step 1" in arrows["name"]


def test_slow_motion_trains_its_steps_per_scene_and_asks_for_scenes_slower():
    pool = PlaygroundPool(max_running=1, slice_s=0.001, runs=LocalRuns())
    s = PlaygroundSettings(steps_per_scene=10)
    pool.play("a", s)
    steps = pool.steps_of("a")
    u = pool.tick("a")
    assert u.snapshot["steps"] == steps + 10 and u.snapshot["step_move"]["step"] == steps + 10
    assert f'"pace":{SLOW_PACE}' in playground_scene(u.snapshot, 1, slow=True)
    one = pool.step_once("a", s)  # paused, one step: its arrows
    assert one.snapshot["steps"] == steps + 11 and one.snapshot["step_move"]["step"] == steps + 11
