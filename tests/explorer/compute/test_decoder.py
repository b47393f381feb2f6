"""What the decoder says: the exact mean E[x|z] over the 256 levels, the scale and its heat map, a sample."""
import math

import numpy as np
import pytest
import torch

from explorer.compute.colormap import VIRIDIS, enlarge, heat_map
from explorer.compute.decoder import decoder_output
from vae_core.models.likelihood import LEVELS, Likelihood


def _params(loc, log_scale):
    return torch.cat([torch.as_tensor(loc, dtype=torch.float32), torch.as_tensor(log_scale, dtype=torch.float32)], 1)


@pytest.mark.parametrize("kind", ["discretized_logistic", "discretized_gaussian"])
def test_level_probabilities_sum_to_one_and_give_log_prob(kind):
    lik = Likelihood(kind, (1, 2, 2))
    params = _params(torch.tensor([[[[0.0, 0.3], [0.999, 0.5]]]]), torch.tensor([[[[-1.0, -3.0], [-6.0, -7.9]]]]))
    p = lik.level_probs(params)
    assert p.shape == (1, 1, 2, 2, LEVELS)
    np.testing.assert_allclose(p.sum(-1).numpy(), 1.0, atol=1e-5)
    x = torch.tensor([[[[0.0, 77.0], [255.0, 128.0]]]]) / 255
    lp = torch.log(torch.gather(p, -1, (x * 255).round().long()[..., None])[..., 0]).sum()
    assert float(lp) == pytest.approx(float(lik.log_prob(params, x)[0]), rel=1e-4)


@pytest.mark.parametrize("kind", ["discretized_logistic", "discretized_gaussian"])
def test_expectation_is_the_mean_of_samples_and_feels_the_edge_bins(kind):
    lik = Likelihood(kind, (1, 1, 3))
    params = _params(torch.tensor([[[[0.0, 0.5, 0.9]]]]), torch.tensor([[[[math.log(0.2), -7.5, math.log(0.1)]]]]))
    mean = lik.expectation(params)[0, 0, 0]
    g = torch.Generator().manual_seed(0)
    samples = torch.stack([lik.sample(params, g) for _ in range(4000)])[:, 0, 0, 0]
    np.testing.assert_allclose(mean.numpy(), samples.mean(0).numpy(), atol=0.01)
    assert mean[0] > 0.05  # location 0, wide scale: half the mass lands on level 0, the rest above it
    assert mean[1] == pytest.approx(0.5, abs=1e-3)  # a narrow scale in the middle: the mean is the location
    assert lik.mean(params)[0, 0, 0, 0] == 0.0  # what decode_location shows: the clamped location


def test_bernoulli_has_no_levels_but_a_mean():
    lik = Likelihood("bernoulli", (1, 1, 1))
    assert float(lik.expectation(torch.zeros(1, 1, 1, 1))) == 0.5
    with pytest.raises(ValueError, match="discretised"):
        lik.level_probs(torch.zeros(1, 1, 1, 1))


def test_decoder_output_of_a_vae(teach_ex):
    model = teach_ex.store.model("vae4")
    z = teach_ex.store.posteriors("vae4").mu[0]
    d = decoder_output(model, z, seed=1)
    with torch.no_grad():
        params = model.decode(torch.as_tensor(z)[None])
    _, log_scale = model.likelihood.location_and_log_scale(params)
    np.testing.assert_allclose(d.scale, log_scale.exp()[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(d.location, model.likelihood.mean(params)[0].numpy())
    assert d.mean.shape == d.sample.shape == (1, 8, 8) and 0 <= d.mean.min() and d.mean.max() <= 1
    np.testing.assert_allclose(d.sample * 255, np.round(d.sample * 255), atol=1e-4)  # on the 256 levels
    lo, hi = d.scale_range
    assert lo == pytest.approx(float(log_scale.min()) / math.log(10), abs=1e-5) and hi >= lo
    assert d.scale_map.shape == (8, 8, 3) and d.scale_map.dtype == np.uint8
    np.testing.assert_array_equal(decoder_output(model, z, seed=1).sample, d.sample)


def test_heat_map_runs_from_the_first_to_the_last_viridis_colour():
    rgb = heat_map(np.array([[0.0, 0.5, 1.0, 2.0]]), 0.0, 1.0)
    np.testing.assert_array_equal(rgb[0, 0], np.round(VIRIDIS[0] * 255))
    np.testing.assert_array_equal(rgb[0, 2], np.round(VIRIDIS[-1] * 255))
    np.testing.assert_array_equal(rgb[0, 3], rgb[0, 2])  # clipped above hi
    np.testing.assert_array_equal(rgb[0, 1], np.round(VIRIDIS[4] * 255))  # the middle anchor
    assert (heat_map(np.full((2, 2), 3.0)) == np.round(VIRIDIS[0] * 255)).all()  # constant: no NaN
    assert enlarge(rgb, 3).shape == (3, 12, 3)
