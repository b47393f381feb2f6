"""Finite scalar quantisation (vae_core/models/fsq.py): bounds, rounding, the mixed-radix index and its implicit
codebook, the straight-through gradient, and an FSQ VQ-VAE trained, evaluated, given a prior and opened in the
Explorer."""
import json

import numpy as np
import pytest
import torch

from explorer.compute.code_grid import set_cell
from explorer.service.explorer import Explorer
from vae_core import Config, build_model, load
from vae_core.data import hold_out
from vae_core.evaluation.report import evaluate
from vae_core.models.fsq import FiniteScalarQuantizer
from vae_core.train import parse_args, train
from vae_core.train_prior import prior_config, train_prior

pytestmark = pytest.mark.usefixtures("vc_one_thread")
LEVELS = (8, 5, 2)  # even and odd level counts


def quiet(*args):
    pass


def test_the_bound_reaches_every_level_and_no_more():
    q = FiniteScalarQuantizer(LEVELS)
    z = torch.linspace(-20, 20, 4001)[:, None].expand(-1, 3)
    digits = q.digits(q.squash(z))
    for i, n in enumerate(LEVELS):
        assert digits[:, i].unique().tolist() == list(range(n))  # all L_i levels, each reached
        b = q.bound(z)[:, i]
        assert b.min() > -(n // 2) - 0.5 and b.max() < n - 1 - n // 2 + 0.5  # rounds inside the levels
    assert q.bound(torch.zeros(3)).abs().max() < 1e-6  # b(0) = 0: even counts are shifted by half a level


def test_rounding_is_to_the_nearest_level_and_the_codebook_holds_z_q():
    q = FiniteScalarQuantizer(LEVELS)
    z_e = q.squash(torch.randn(4, 6, 3) * 3)
    z_q, idx, loss = q(z_e)
    np.testing.assert_allclose(z_q * q.half_levels, torch.round(z_e * q.half_levels), atol=1e-6)
    assert torch.equal(q.codebook[idx], z_q)  # decoding an index grid gives the quantised latents
    assert loss.shape == (4,) and loss.abs().sum() == 0  # no codebook or commitment term
    nearest = torch.cdist(z_e.reshape(-1, 3), q.codebook).argmin(1)  # the grid is rectangular: rounding = nearest
    assert torch.equal(nearest, idx.flatten())


def test_index_to_levels_to_index_round_trips_over_the_whole_grid():
    q = FiniteScalarQuantizer(LEVELS)
    assert q.num_codes == 8 * 5 * 2 == len(q.codebook) and q.codebook.shape[1] == 3
    k = torch.arange(q.num_codes)
    assert torch.equal(q.index(q.digits(q.codes(k))), k)
    assert len(torch.unique(q.codebook, dim=0)) == q.num_codes  # K distinct codes
    assert q.codebook.min() == -1 and q.codebook.max() <= 1
    assert not q.state_dict()  # nothing to save: it all follows from the levels


def test_the_straight_through_gradient_reaches_the_encoder(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(model="vqvae", quantizer="fsq", fsq_levels="5,4", num_codes=20))
    assert model.encoder[-1].out_channels == 2 and model.decoder[0].in_channels == 2  # one channel per level count
    model.loss(torch.rand(4, 1, 8, 8))["loss"].backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0


def test_fsq_settings_are_checked_and_the_trainer_fills_in_k(tmp_path):
    with pytest.raises(ValueError, match="num_codes must be their product, 20"):
        Config(model="vqvae", quantizer="fsq", fsq_levels="5,4", num_codes=16)
    with pytest.raises(ValueError, match="fsq_levels"):
        Config(model="vqvae", quantizer="fsq", fsq_levels="8,x")
    cfg, _ = parse_args(["--out", str(tmp_path / "a"), "--model", "vqvae", "--quantizer", "fsq", "--fsq-levels",
                         "5,4", "--data", "digits"])
    assert cfg.num_codes == 20


def test_configs_written_before_fsq_and_the_likelihood_option_load_as_vq_and_mse(tmp_path):
    d = Config(model="vqvae").to_dict()
    for key in ("quantizer", "fsq_levels", "vq_likelihood"):
        del d[key]
    cfg = Config.from_dict(d)
    assert (cfg.quantizer, cfg.vq_likelihood) == ("vq", "mse")
    shipped = json.loads(open("checkpoints/fashion-vqvae/config.json").read())  # written with the option: kept
    assert Config.from_dict(shipped).vq_likelihood == shipped["vq_likelihood"] == "discretized_logistic"


@pytest.fixture(scope="module")
def fsq_ckpt(tmp_path_factory):
    """A tiny digits FSQ VQ-VAE (levels 5,4: K = 20, 2x2 grids) with a tiny prior."""
    out = tmp_path_factory.mktemp("fsq") / "fsq"
    cfg = Config(model="vqvae", quantizer="fsq", fsq_levels="5,4", num_codes=20, width=8, channels=1, image_size=8,
                 data="digits", epochs=1, batch_size=32, vq_likelihood="discretized_logistic")
    train(cfg, out, device="cpu", log=quiet)
    prior = prior_config(load(out).cfg, epochs=1, batch_size=32, prior_dim=16, prior_layers=1, prior_heads=2)
    train_prior(out, prior, device="cpu", log=quiet)
    return out


def test_an_fsq_vq_vae_trains_evaluates_and_samples_with_its_prior(fsq_ckpt, digits):
    vq = load(fsq_ckpt)
    assert vq.prior is not None and vq.codebook.shape == (20, 2)
    x_val = hold_out(digits, vq.cfg.validation, vq.cfg.seed).x_val
    m = evaluate(vq, x_val)
    assert 0 < m["codes_used"] <= 1 and 1 <= m["perplexity"] <= 20
    assert m["dead_codes"] == round(20 * (1 - m["codes_used"]))
    assert m["neg_elbo"] == pytest.approx(m["recon"] + m["prior_nll"]) and m["bits_per_dim"] > 0
    grid = vq.encode_indices(torch.from_numpy(x_val[:3]).float() / 255)
    assert grid.shape == (3, 2, 2) and grid.max() < 20
    images = vq.sample(4, torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 8, 8) and 0 <= images.min() and images.max() <= 1


def test_the_codes_views_open_an_fsq_checkpoint_and_edits_change_the_image(fsq_ckpt):
    ex = Explorer([fsq_ckpt.parent], log=quiet)
    cb = ex.store.codebook_view("fsq")
    assert cb.coords.shape == (20, 2) and cb.counts.sum() == cb.grids.size
    g = cb.grids[0]
    a = np.asarray(ex.codes.decode_codes("fsq", g.tolist()))
    k = int(cb.coords[:, 0].argmax()) if g[0, 0] != cb.coords[:, 0].argmax() else int(cb.coords[:, 0].argmin())
    b = np.asarray(ex.codes.decode_codes("fsq", set_cell(g, 0, 0, k).tolist()))
    assert a.shape == b.shape and not np.array_equal(a, b)
    q = ex.codes.quantization("fsq", 0)  # the view's nearest codes are FSQ's rounding
    np.testing.assert_array_equal(q.indices, g)
    assert (q.flip_distance >= 0).all() and "FSQ" in ex.store.model("fsq").description
    assert "FSQ levels 5,4: K = 20 codes" in ex.store.found("fsq").summary()
