"""Generation in the explorer (explorer/service/sampling.py) on the tiny app checkpoints: samples of both model kinds,
the prior's suggestions for a cell, resampling from a cell, and the messages for bad settings or a missing prior."""
import shutil

import numpy as np
import pytest
import torch

from explorer.service.explorer import Explorer
from explorer.service.sampling import (
    MAX_SAMPLES,
    SampleError,
    SampleSettings,
)


@pytest.fixture(scope="module")
def ex(app_checkpoints):
    return Explorer([app_checkpoints], log=lambda *a: None)


@pytest.mark.parametrize("kind", ["vae", "vq"])
def test_samples_are_reproducible_from_the_seed(ex, app_models, kind):
    name = app_models.vae if kind == "vae" else app_models.vq
    a, b = ex.generate.sample(name, SampleSettings(n=5, seed=3)), ex.generate.sample(name, SampleSettings(n=5, seed=3))
    c = ex.generate.sample(name, SampleSettings(n=5, seed=4))
    assert len(a.images) == 5 and a.ms_per_sample > 0
    assert [np.asarray(i).tobytes() for i in a.images] == [np.asarray(i).tobytes() for i in b.images]
    assert [np.asarray(i).tobytes() for i in a.images] != [np.asarray(i).tobytes() for i in c.images]
    if kind == "vae":
        assert a.grids is None
    else:
        assert a.grids.shape == (5, app_models.grid, app_models.grid)
        assert a.grids.min() >= 0 and a.grids.max() < app_models.num_codes
        # each image is the decode of its grid
        decoded = ex.codes.decode_codes(name, a.grids[0].tolist(), side=0)
        assert np.asarray(decoded).tobytes() == np.asarray(a.images[0]).tobytes()


def test_top_k_one_is_greedy_and_the_same_for_every_seed(ex, app_models):
    a = ex.generate.sample(app_models.vq, SampleSettings(n=2, seed=1, top_k=1)).grids
    b = ex.generate.sample(app_models.vq, SampleSettings(n=2, seed=9, top_k=1)).grids
    assert (a == b).all() and (a[0] == a[1]).all()


@pytest.mark.parametrize("settings, message", [
    (SampleSettings(n=0), "number of samples"),
    (SampleSettings(n=MAX_SAMPLES + 1), "number of samples"),
    (SampleSettings(seed=-1), "seed"),
    (SampleSettings(temperature=0), "temperature"),
    (SampleSettings(temperature=float("nan")), "temperature"),
    (SampleSettings(top_k=-2), "top-k"),
    (SampleSettings(n="many"), "must be numbers"),
])
def test_bad_settings_say_what_is_allowed(ex, app_models, settings, message):
    with pytest.raises(SampleError, match=message):
        ex.generate.sample(app_models.vq, settings)


def test_suggestions_are_the_priors_conditional_most_likely_first(ex, app_models):
    grid = ex.store.codebook_view(app_models.vq).grids[0]
    top = ex.generate.suggestions(app_models.vq, grid.tolist(), 1, 1, k=5)
    probs = [p for _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    prior = ex.store.model(app_models.vq).prior
    p = prior.conditional(torch.as_tensor(grid), 1, 1)
    assert top[0][0] == int(p.argmax()) and top[0][1] == pytest.approx(float(p.max()), rel=1e-5)
    with pytest.raises(SampleError, match="outside"):
        ex.generate.suggestions(app_models.vq, grid.tolist(), app_models.grid, 0)


def test_resampling_from_a_cell_keeps_the_cells_before_it(ex, app_models):
    grid = ex.store.codebook_view(app_models.vq).grids[3]
    n = app_models.grid
    row, col = n // 2, 1
    changed = 0
    for seed in range(4):
        out = ex.generate.resample_from(app_models.vq, grid.tolist(), row, col, SampleSettings(seed=seed))
        t = row * n + col
        assert (out.reshape(-1)[:t] == grid.reshape(-1)[:t]).all()
        changed += int((out.reshape(-1)[t:] != grid.reshape(-1)[t:]).any())
    assert changed > 0  # the rest is drawn anew


def test_a_vq_vae_without_a_prior_says_how_to_train_one(app_checkpoints, app_models, tmp_path):
    folder = tmp_path / "ckpts"
    shutil.copytree(app_checkpoints / app_models.vq, folder / "no-prior", ignore=shutil.ignore_patterns("prior"))
    ex = Explorer([folder], log=lambda *a: None)
    with pytest.raises(SampleError, match="vae_core.train_prior"):
        ex.generate.sample("no-prior", SampleSettings(n=2))
