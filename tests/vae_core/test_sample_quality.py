"""Sample-quality metrics on sets whose answer is known: identical sets, Gaussians with a closed-form Frechet
distance, a blurred copy of the data, samples far off it, and the inputs that are refused."""
import numpy as np
import pytest

from vae_core.evaluation.sample_quality import SampleQuality, frechet_distance, precision_recall, sample_quality


def gaussian(rng, n, mean, std):
    return rng.normal(size=(n, len(mean))) * np.asarray(std) + np.asarray(mean)


def test_identical_sets_score_perfectly():
    x = gaussian(np.random.default_rng(0), 500, [0.0, 3.0, -1.0, 2.0], [1.0, 2.0, 0.5, 4.0])
    scale = np.trace(np.cov(x, rowvar=False))
    assert frechet_distance(x, x) < 1e-6 * scale
    assert precision_recall(x, x, k=3) == (1.0, 1.0)


def test_identical_sets_with_singular_covariance():
    # fewer samples than features: S is rank 4 in 10 dimensions, where sqrtm(S_a S_b) goes complex
    x = np.random.default_rng(1).normal(size=(5, 10)) * 3.0
    assert frechet_distance(x, x) < 1e-9
    assert np.isfinite(frechet_distance(x, x + 1.0))


def test_fd_of_two_gaussians_matches_closed_form():
    rng = np.random.default_rng(2)
    mu_a, mu_b = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, -1.0, 0.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25, 2.0]), np.array([2.0, 1.0, 1.0, 2.0])
    a = gaussian(rng, 40_000, mu_a, np.sqrt(var_a))
    b = gaussian(rng, 40_000, mu_b, np.sqrt(var_b))
    # diagonal covariances: FD = ||dmu||^2 + sum_j (sqrt(s_a,j) - sqrt(s_b,j))^2
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, abs=0.2)  # expected 10.42; sampling sd ~0.05


def test_fd_matches_sqrtm_on_full_rank_covariances():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 1.0
    s_a, s_b, dmu = np.cov(a, rowvar=False), np.cov(b, rowvar=False), a.mean(0) - b.mean(0)
    expected = dmu @ dmu + np.trace(s_a + s_b - 2 * sqrtm(s_a @ s_b).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_fd_is_symmetric_and_sees_a_mean_shift():
    rng = np.random.default_rng(3)
    a, b = gaussian(rng, 2000, [0.0] * 3, [1.0] * 3), gaussian(rng, 2000, [0.0] * 3, [1.0] * 3)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    assert frechet_distance(a, b + [3.0, 0.0, 0.0]) == pytest.approx(9.0 + frechet_distance(a, b), abs=0.3)


def test_blurred_samples_score_worse_than_held_out_data():
    rng = np.random.default_rng(4)
    data = gaussian(rng, 2000, [0.0] * 6, [1.0, 2.0, 1.0, 0.5, 1.5, 1.0])
    real, held_out = data[:1000], data[1000:]
    blurred = held_out.mean(axis=0) + 0.5 * (held_out - held_out.mean(axis=0))  # shrunk toward the mean
    good, blur = sample_quality(real, held_out), sample_quality(real, blurred)
    assert blur.fd > good.fd + 1.0
    assert blur.recall < good.recall - 0.2
    assert blur.precision > 0.9  # still inside the data: blur costs coverage, not realism


def test_far_samples_have_no_precision():
    rng = np.random.default_rng(5)
    real = gaussian(rng, 300, [0.0] * 4, [1.0] * 4)
    fake = gaussian(rng, 300, [100.0] * 4, [1.0] * 4)
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_half_overlap_gives_half_precision():
    # the fakes are the reals plus as many points far off: half the fakes are inside, every real is covered
    rng = np.random.default_rng(6)
    real = gaussian(rng, 400, [0.0] * 3, [1.0] * 3)
    fake = np.concatenate([real, real + 1000.0])
    precision, recall = precision_recall(real, fake, k=3)
    assert precision == 0.5
    assert recall == 1.0


def test_exact_test_beyond_the_nearest_ball(monkeypatch):
    # p's nearest centre has a tiny ball; a farther centre's big ball holds it: the quick accept misses it
    import vae_core.evaluation.sample_quality as sq

    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [-4.0, 0.0],  # spread out: big balls
                        [10.0, 0.0], [10.0, 0.05], [10.0, 0.1], [10.0, 0.15]])  # tight: small balls
    radii = sq._knn_radii(centres, 3)
    p = np.array([[9.5, 0.0]])
    assert radii[4] < 0.5 < 5.5 < radii[1]  # nearest centre (10, 0) does not reach p, (4, 0) does
    monkeypatch.setattr(sq, "CHUNK_ELEMENTS", 1)  # one point per chunk
    assert sq._share_inside(p, centres, radii) == 1.0


def test_sample_quality_reports_sizes():
    rng = np.random.default_rng(7)
    q = sample_quality(gaussian(rng, 50, [0.0] * 2, [1.0] * 2), gaussian(rng, 40, [0.0] * 2, [1.0] * 2), k=5)
    assert isinstance(q, SampleQuality)
    assert (q.n_real, q.n_fake, q.k) == (50, 40, 5)
    assert 0.0 <= q.precision <= 1.0 and 0.0 <= q.recall <= 1.0 and q.fd >= 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))), "at least 2 are needed"),
    (lambda: frechet_distance(np.zeros((5, 3)), np.zeros((5, 4))), "3 features per sample but b has 4"),
    (lambda: frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3))), "NaN or infinite"),
    (lambda: frechet_distance(np.zeros((5, 3)), np.array([[np.inf, 0, 0]] * 5)), "b has 5 samples with NaN"),
    (lambda: frechet_distance(np.zeros(5), np.zeros((5, 1))), "must be a 2-D array"),
    (lambda: precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3), "real has 3 samples but at least 4"),
    (lambda: precision_recall(np.zeros((10, 2)), np.zeros((10, 5))), "compute both with the same"),
    (lambda: precision_recall(np.zeros((10, 2)), np.zeros((10, 2)), k=0), "k must be a whole number"),
    (lambda: sample_quality(np.zeros((10, 2)), np.zeros((2, 2))), "fake has 2 samples"),
])
def test_refuses_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
