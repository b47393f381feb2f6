"""The Explorer's methods for the teaching and projector-like views (explorer/service/explorer.py), on tiny
checkpoints."""
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.errors import LatentError, UserError
from explorer.web.files import export_files


def test_posteriors_are_the_projection_means_and_the_encoder_sigmas(teach_ex):
    post = teach_ex.store.posteriors("vae4")
    np.testing.assert_array_equal(post.mu, teach_ex.store.latent_view("vae4").proj.latents)
    model = teach_ex.store.model("vae4")
    with torch.no_grad():
        mu, log_sigma = model.encode(teach_ex.store.image("vae4", 11))
    np.testing.assert_allclose(post.sigma[11], log_sigma.exp()[0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(post.mu[11], mu[0].numpy(), rtol=1e-4, atol=1e-5)
    assert teach_ex.store.posteriors("vae4") is post  # gathered once
    assert teach_ex.store.latent_view("vae4").proj.log_sigma is not None  # from the projection: no second encoding


def test_a_projection_cached_without_sigmas_gets_them_by_encoding_the_test_set(teach_ex, monkeypatch):
    from dataclasses import replace

    from explorer.service.store import Store

    view = teach_ex.store.latent_view("vae4")
    old = Store.__new__(Store)
    old.__dict__.update(teach_ex.store.__dict__)
    old._posteriors = type(teach_ex.store._posteriors)(4)
    monkeypatch.setattr(old, "latent_view", lambda name, progress=None: replace(view, proj=replace(view.proj,
                                                                                                    log_sigma=None)))
    np.testing.assert_allclose(old.posteriors("vae4").sigma, teach_ex.store.posteriors("vae4").sigma, rtol=1e-6)


def test_latent_axes_and_clicks(teach_ex):
    ax = teach_ex.maths.latent_axes("vae4", 2, 0, selected=[3, 1])
    post = teach_ex.store.posteriors("vae4")
    np.testing.assert_array_equal(ax.points, post.mu[:, [2, 0]])
    assert [e.index for e in ax.ellipses] == [1, 1, 3, 3]
    e = ax.ellipses[0]
    assert (e.x.max() - e.x.min()) / 2 == pytest.approx(post.sigma[1, 2], rel=1e-3)
    assert len(teach_ex.maths.latent_axes("vae4", 0, 1, selected=range(300)).ellipses) == 2 * 100  # capped
    z = teach_ex.maths.axes_latent("vae4", 2, 0, 0.5, -0.5, index=3)
    np.testing.assert_allclose(z, [-0.5, post.mu[3, 1], 0.5, post.mu[3, 3]], rtol=1e-6)
    z = teach_ex.maths.axes_latent("vae4", 0, 1, 1.0, 2.0, base=[0, 0, 0.25, 0])
    assert z.tolist() == [1.0, 2.0, 0.25, 0.0]
    with pytest.raises(LatentError, match="within"):
        teach_ex.maths.axes_latent("vae4", 0, 1, 1e3, 0.0, index=3)


def test_views_get_dataclasses_for_a_test_image(teach_ex):
    mc = teach_ex.maths.monte_carlo("vae4", 2, 8, seed=1)
    assert mc.z.shape == (8, 4) and mc.neg_elbo == pytest.approx(mc.recon + mc.kl)
    d = teach_ex.maths.decoder_output("vae4", mc.z[0])
    assert d.mean.shape == (1, 8, 8)
    q = teach_ex.codes.quantization("vq", 2)
    assert q.indices.tolist() == teach_ex.store.codebook_view("vq").grids[2].tolist()
    t = teach_ex.maths.traversal("vae4", mc.mu, k=2, steps=3)
    assert t.dims.tolist() == teach_ex.store.dims_by_kl("vae4")[:2].tolist()
    nb = teach_ex.map.neighbours("vae4", teach_ex.store.posteriors("vae4").mu[5], k=4, exclude=5)
    assert 5 not in nb.indices.tolist() and len(nb.indices) == 4


def test_exports_and_summary_of_a_selection(teach_ex, tmp_path):
    f = export_files(teach_ex.map.export_selection("vae2", [3, 1, 2]), "vae2", tmp_path)
    assert f.rows == 3 and Path(f.csv).read_text().count("\n") == 4 and f.npz.endswith("vae2-selection-3.npz")
    t = teach_ex.map.export_selection("vae2", [3])
    assert t.label_names[0] == str(t.labels[0])  # the digits' names are their digits
    s = teach_ex.map.selection_summary("vae2", [0, 5])
    assert s.total == 2


def test_wrong_model_kinds_and_indices_are_user_errors(teach_ex):
    for call in (lambda: teach_ex.maths.monte_carlo("vq", 0, 4), lambda: teach_ex.codes.quantization("vae4", 0),
                 lambda: teach_ex.maths.monte_carlo("vae4", 10**6, 4),
                 lambda: teach_ex.maths.monte_carlo("vae4", 0, 65),
                 lambda: teach_ex.maths.decoder_output("vae4", [0, 0]),
                 lambda: teach_ex.maths.latent_axes("vae4", 0, 9),
                 lambda: teach_ex.map.neighbours("vae4", [0, 0, 0, 0], exclude=-1),
                 lambda: teach_ex.map.export_selection("vae4", []),
                 lambda: teach_ex.maths.traversal("vae4", [0] * 4, k=9)):
        with pytest.raises(UserError):
            call()


def test_restore_state_drops_what_does_not_fit_the_models(teach_ex):
    r = teach_ex.restore_state("vae=vae2&vq=nope&z=1,2,3&axes=0,1&index=99999&codes=3&cell=2,0&L=500&tab=axes")
    s = r.state
    assert (s.vae, s.vq, s.z, s.axes, s.index, s.code_index, s.cell, s.samples, s.tab) == \
        ("vae2", None, None, (0, 1), None, 3, None, 8, "axes")
    assert len(r.messages) == 5 and any("nope" in m for m in r.messages)
    ok = teach_ex.restore_state("vae=vae4&z=0.5,0,0,1&axes=3,1&index=7")
    assert ok.messages == [] and ok.state.z == (0.5, 0.0, 0.0, 1.0)


def test_the_iwae_bound_is_kept_per_image_and_seed_so_changing_L_does_not_recompute_it(teach_ex, monkeypatch):
    from explorer.service import maths as teaching

    first = teach_ex.maths.monte_carlo("vae4", 9, 4, seed=5)
    calls = []
    monkeypatch.setattr(teaching, "iwae_bound", lambda *a: calls.append(a) or 0.0)
    again = teach_ex.maths.monte_carlo("vae4", 9, 64, seed=5)
    assert calls == [] and again.iwae == first.iwae and again.iwae.k == teaching.IWAE_K
    assert teach_ex.maths.monte_carlo("vae4", 9, 4, seed=6).iwae == 0.0 and len(calls) == 1  # a new seed: computed
