"""Quantisation cell by cell: error, margin, flip distance to the nearest Voronoi face, top-3 codes, decodes."""
import numpy as np
import torch

from explorer.compute.quantization import (
    code_distances,
    flip_distances,
    margins,
    nearest_codes,
    quantization,
)


def nearest(z: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """The quantizer's code of each row of z (its argmin, ties to the lower index)."""
    return nearest_codes(code_distances(z, codebook), 1)[0][:, 0]


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
    model = teach_ex.store.model("vq")
    x = teach_ex.store.data("vq").x_test[3]
    q = quantization(model, x)
    xt = torch.from_numpy(x[None]).float() / 255
    with torch.no_grad():
        z_e = model.encode(xt)
        np.testing.assert_array_equal(q.indices, model.encode_indices(xt)[0].numpy())
        np.testing.assert_allclose(q.decode_q, model.reconstruct(xt)[0].numpy(), atol=1e-6)
        np.testing.assert_allclose(q.decode_e, model.decode(z_e).clamp(0, 1)[0].numpy(), atol=1e-6)
    e = model.codebook.numpy()[q.indices]  # (h, w, D)
    # the view expands ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2 in float32: agreement to float32 rounding of the terms
    np.testing.assert_allclose(q.error, ((z_e[0].permute(1, 2, 0).numpy() - e) ** 2).sum(-1), rtol=1e-4, atol=1e-7)
    assert q.error.shape == q.margin.shape == (2, 2) and (q.margin >= 0).all()
    assert q.top_codes.shape == q.top_distances.shape == (2, 2, 3)
    np.testing.assert_array_equal(q.top_codes[..., 0], q.indices)
    np.testing.assert_allclose(q.top_distances[..., 1] - q.top_distances[..., 0], q.margin)
    flat = z_e[0].permute(1, 2, 0).reshape(-1, z_e.shape[1]).numpy()
    flip, code = flip_distances(model.codebook.numpy(), code_distances(flat, model.codebook.numpy()), q.indices.ravel())
    # z_e here and in quantization() agree to float32 rounding; a difference of squared distances loses digits to it
    np.testing.assert_allclose(q.flip_distance.ravel(), flip, rtol=1e-4)
    np.testing.assert_array_equal(q.flip_code.ravel(), code)
    assert (q.flip_distance > 0).all() and (q.flip_code != q.indices).all()


def test_the_nearest_face_need_not_be_the_second_nearest_codes():
    # e_0 at the origin, e_1 = (0, 2): face y = 1; e_2 = (6, 0): face x = 3. z = (2.5, 0) is nearer e_1 than e_2
    # (d = 10.25 vs 12.25) but nearer e_2's face (0.5 vs 1.0)
    codebook = np.array([[0.0, 0.0], [0.0, 2.0], [6.0, 0.0]])
    z = np.array([[2.5, 0.0]])
    d = code_distances(z, codebook)
    codes, _ = nearest_codes(d)
    assert codes[0].tolist() == [0, 1, 2]  # the second-nearest code is 1
    flip, across = flip_distances(codebook, d, codes[:, 0])
    assert flip[0] == 0.5 and across[0] == 2  # but the nearest face is e_2's
    assert margins(d)[0] == 4.0  # the margin is a squared gap to code 1, not a distance
    normal = np.array([1.0, 0.0])  # (e_2 - e_0) / ||e_2 - e_0||
    assert nearest(z + 0.5 * (1 - 1e-9) * normal, codebook)[0] == 0
    assert nearest(z + 0.5 * (1 + 1e-9) * normal, codebook)[0] == 2
    assert nearest(z + 0.5 * (1 + 1e-9) * np.array([0.0, 1.0]), codebook)[0] == 0  # towards e_1: not yet


def test_moving_z_by_just_over_its_flip_distance_along_the_face_normal_flips_it_and_just_under_does_not():
    rng = np.random.default_rng(1)
    codebook, z = rng.normal(size=(64, 8)), rng.normal(size=(200, 8))
    d = code_distances(z, codebook)
    q = nearest(z, codebook)
    flip, across = flip_distances(codebook, d, q)
    s = np.sort(d, 1)
    proxy = np.argsort(d, 1, kind="stable")[:, 1]
    assert (across != proxy).any()  # random codes: the nearest face is not always the second-nearest code's
    normal = codebook[across] - codebook[q]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    np.testing.assert_array_equal(nearest(z + (flip * (1 - 1e-6))[:, None] * normal, codebook), q)
    np.testing.assert_array_equal(nearest(z + (flip * (1 + 1e-6))[:, None] * normal, codebook), across)
    # no move shorter than the flip distance changes the code, in any direction
    u = rng.normal(size=z.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    np.testing.assert_array_equal(nearest(z + (flip * (1 - 1e-6))[:, None] * u, codebook), q)
    # the face to the second-nearest code is never nearer than the nearest face: (d(2) - d(1)) / (2 ||e - e_q||)
    second_face = (s[:, 1] - s[:, 0]) / (2 * np.linalg.norm(codebook[proxy] - codebook[q], axis=1))
    assert (flip <= second_face + 1e-12).all()


def test_a_tie_is_distance_0_and_a_copy_of_the_nearest_code_has_no_face():
    codebook = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 5.0]])  # code 2 copies code 0
    z = np.array([[0.0, 0.0], [0.5, 0.0]])
    d = code_distances(z, codebook)
    flip, across = flip_distances(codebook, d, nearest(z, codebook))
    assert flip[0] == 0.0 and across[0] == 1  # equidistant from codes 0 and 1: on their face
    assert flip[1] == 0.5 and across[1] == 1  # the copy (d equal, no face between them) is skipped
    one, none = flip_distances(codebook[:1], d[:, :1], np.zeros(2, int))
    assert np.isinf(one).all() and (none == -1).all()  # a single code: nothing to flip to
