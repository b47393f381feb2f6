"""Quantisation cell by cell: error, margin to the second-nearest code, top-3 codes, decodes of z_q and z_e."""
import numpy as np
import torch

from explorer.compute.quantization import code_distances, margins, nearest_codes, quantization


def test_margin_is_zero_exactly_where_two_codes_tie_and_positive_elsewhere():
    codebook = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [5.0, 5.0]])
    z = np.array([[0.0, 0.0],    # equidistant from codes 0 and 1: a tie
                  [0.5, 0.0],    # nearer code 0
                  [0.0, 2.5],    # nearest code 2
                  [0.25, 0.5]])
    d = code_distances(z, codebook)
    m = margins(d)
    assert m[0] == 0.0 and (m[1:] > 0).all()
    codes, near = nearest_codes(d)
    assert codes[0, :2].tolist() == [0, 1]  # a tie goes to the lower index, as the quantizer's argmin
    assert codes[1, 0] == 0 and codes[2, 0] == 2
    np.testing.assert_array_equal(np.diff(near, axis=1) >= 0, True)


def test_distances_and_margins_on_random_codes():
    rng = np.random.default_rng(0)
    z, e = rng.normal(size=(49, 8)), rng.normal(size=(32, 8))
    d = code_distances(z, e)
    np.testing.assert_allclose(d, ((z[:, None] - e[None]) ** 2).sum(-1), rtol=1e-12)
    m = margins(d)
    s = np.sort(d, 1)
    assert (m >= 0).all()
    np.testing.assert_allclose(m, s[:, 1] - s[:, 0])
    _, near = nearest_codes(d, 3)
    np.testing.assert_allclose(near, s[:, :3])
    assert margins(d[:, :1]).tolist() == [0.0] * 49  # one code: nothing to flip to


def test_quantization_of_an_image_agrees_with_the_model(teach_ex):
    model = teach_ex.registry.model("vq")
    x = teach_ex.data("vq").x_test[3]
    q = quantization(model, x)
    xt = torch.from_numpy(x[None]).float() / 255
    with torch.no_grad():
        z_e = model.encode(xt)
        np.testing.assert_array_equal(q.indices, model.encode_indices(xt)[0].numpy())
        np.testing.assert_allclose(q.decode_q, model.reconstruct(xt)[0].numpy(), atol=1e-6)
        np.testing.assert_allclose(q.decode_e, model.decode(z_e).clamp(0, 1)[0].numpy(), atol=1e-6)
    e = model.codebook.numpy()[q.indices]  # (h, w, D)
    np.testing.assert_allclose(q.error, ((z_e[0].permute(1, 2, 0).numpy() - e) ** 2).sum(-1), rtol=1e-5)
    assert q.error.shape == q.margin.shape == (2, 2) and (q.margin >= 0).all()
    assert q.top_codes.shape == q.top_distances.shape == (2, 2, 3)
    np.testing.assert_array_equal(q.top_codes[..., 0], q.indices)
    np.testing.assert_allclose(q.top_distances[..., 1] - q.top_distances[..., 0], q.margin)
