"""Vector quantizer: nearest codes, straight-through gradients, EMA updates, dead-code restarts, k-means, usage."""
import math

import pytest
import torch

from vae_core.models.quantize import VectorQuantizer, codebook_usage

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def _vq(num_codes=4, code_dim=2, **kw):
    torch.manual_seed(0)
    return VectorQuantizer(num_codes, code_dim, **kw)


def test_nearest_is_the_argmin_of_distances():
    vq = _vq(16, 8)
    z = torch.randn(100, 8)
    assert torch.equal(vq.nearest(z), torch.cdist(z, vq.embedding).argmin(1))


@pytest.mark.parametrize("codebook,weight", [("ema", 1.0), ("loss", 1.0), ("loss", 0.0), ("loss", 2.5)])
def test_forward_snaps_to_codes_and_returns_the_vq_loss(codebook, weight):
    vq = _vq(8, 3, commitment=0.25, codebook=codebook, codebook_weight=weight).eval()
    z = torch.randn(2, 5, 3)
    z_q, idx, loss = vq(z)
    assert z_q.shape == z.shape and idx.shape == (2, 5) and loss.shape == (2,)
    torch.testing.assert_close(z_q, vq.embedding.detach()[idx])
    sq = (z - z_q).pow(2).flatten(1).sum(1)  # ||z_e - e||^2 per image, summed over its N x D elements
    # ema: 0.25 ||z_e - sg[e]||^2;  loss: 0.25 ||z_e - sg[e]||^2 + weight ||sg[z_e] - e||^2
    expected = 0.25 * sq if codebook == "ema" else (0.25 + weight) * sq
    torch.testing.assert_close(loss.detach(), expected)


def test_straight_through_passes_the_gradient_unchanged():
    vq = _vq(8, 3)
    z = torch.randn(2, 5, 3, requires_grad=True)
    z_q, _, _ = vq(z)
    g = torch.randn_like(z)
    (z_q * g).sum().backward()
    torch.testing.assert_close(z.grad, g)  # d z_q / d z_e = identity


@pytest.mark.parametrize("weight", [1.0, 3.0])
def test_loss_mode_codebook_gets_gradient_from_the_codebook_loss(weight):
    vq = _vq(8, 3, codebook="loss", codebook_weight=weight, dead_threshold=0.0).train()
    vq.initialized.fill_(True)  # keep the random codes (the first batch would put them onto its vectors)
    assert isinstance(vq.embedding, torch.nn.Parameter)
    z = torch.randn(1, 4, 3, requires_grad=True)
    _, idx, loss = vq(z)
    loss.sum().backward()
    used = torch.zeros(8, dtype=torch.bool)
    used[idx.flatten()] = True
    grad = vq.embedding.grad
    assert grad[used].abs().sum(1).min() > 0  # every used code is pulled toward its vectors
    assert grad[~used].abs().sum() == 0  # unused codes get nothing
    # d/de weight ||sg[z] - e||^2 = weight 2 (e - z) summed over the vectors assigned to e
    expected = torch.zeros(8, 3).index_add_(0, idx.flatten(),
                                            2 * weight * (vq.embedding[idx.flatten()] - z[0]).detach())
    torch.testing.assert_close(grad, expected)
    # the commitment term sends 0.25 * 2 (z - e) to the encoder
    torch.testing.assert_close(z.grad[0], 0.5 * (z[0] - vq.embedding[idx.flatten()]).detach())


def test_ema_codebook_is_a_buffer_and_gets_no_gradient():
    vq = _vq(8, 3).train()
    assert "embedding" in dict(vq.named_buffers()) and list(vq.parameters()) == []
    vq.initialized.fill_(True)  # keep the random codes, so that z_e - e is not 0
    z = torch.randn(1, 4, 3, requires_grad=True)
    _, _, loss = vq(z)
    loss.sum().backward()
    assert z.grad.abs().sum() > 0


def test_ema_update_moves_codes_toward_the_mean_of_their_vectors():
    d = 0.5
    vq = _vq(4, 2, decay=d, dead_threshold=0.0).train()  # no restarts here
    e0 = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    vq.initialized.fill_(True)
    vq.embedding.copy_(e0)
    vq.ema_count.fill_(4.0)
    vq.ema_sum.copy_(4.0 * e0)
    z = torch.tensor([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0], [11.0, 1.0]])  # 3 vectors near code 0, 1 near code 1
    vq(z[None])
    mean0 = z[:3].mean(0)
    # N_k <- d N_k + (1 - d) n_k,  m_k <- d m_k + (1 - d) sum z,  e_k = m_k / N_k
    torch.testing.assert_close(vq.ema_count, torch.tensor([0.5 * 4 + 0.5 * 3, 0.5 * 4 + 0.5 * 1, 2.0, 2.0]))
    e_0 = (0.5 * 4 * e0[0] + 0.5 * z[:3].sum(0)) / (0.5 * 4 + 0.5 * 3)
    torch.testing.assert_close(vq.embedding[0], e_0, atol=1e-4, rtol=1e-4)
    assert (vq.embedding[0] - mean0).norm() < (e0[0] - mean0).norm()
    assert (vq.embedding[1] - z[3]).norm() < (e0[1] - z[3]).norm()
    torch.testing.assert_close(vq.embedding[2:], e0[2:], atol=1e-4, rtol=1e-4)  # unused codes stay put
    # more steps on the same vectors: the codes converge onto the means
    for _ in range(12):
        vq(z[None])
    torch.testing.assert_close(vq.embedding[0], mean0, atol=1e-3, rtol=0)
    torch.testing.assert_close(vq.embedding[1], z[3], atol=1e-3, rtol=0)


def test_bf16_autocast_leaves_codes_and_ema_sums_in_float32():
    """Distances, the EMA update and the VQ loss ignore autocast: bf16 would pick wrong codes and round the sums."""
    z = torch.randn(4, 50, 8) * 3
    plain, mixed = _vq(64, 8).train(), _vq(64, 8).train()
    torch.manual_seed(1)  # the same draws for dead-code restarts
    z_q, idx, loss = plain(z)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z_q16, idx16, loss16 = mixed(z)
    assert z_q16.dtype == loss16.dtype == mixed.ema_sum.dtype == mixed.embedding.dtype == torch.float32
    assert torch.equal(idx16, idx)
    torch.testing.assert_close(z_q16, z_q)
    torch.testing.assert_close(loss16, loss)
    torch.testing.assert_close(mixed.ema_sum, plain.ema_sum)
    torch.testing.assert_close(mixed.embedding, plain.embedding)


def test_no_ema_update_in_eval_mode():
    vq = _vq(4, 2).eval()
    before = vq.embedding.clone()
    vq(torch.randn(1, 10, 2))
    assert torch.equal(vq.embedding, before) and vq.ema_count.sum() == 0


def _initialized(vq, codes, count):
    vq.initialized.fill_(True)
    vq.embedding.data.copy_(codes)
    vq.ema_count.fill_(count)
    if vq.ema:
        vq.ema_sum.copy_(count * codes)
    return vq


@pytest.mark.parametrize("codebook", ["ema", "loss"])
def test_a_code_unused_for_n_steps_is_restarted_and_used_ones_are_not(codebook):
    d, share = 0.9, 0.33
    codes = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [100.0, 100.0]])
    vq = _initialized(_vq(4, 2, decay=d, dead_threshold=share, codebook=codebook).train(), codes, 10.0)
    torch.manual_seed(0)
    batches = [(codes[:3, None] + torch.randn(3, 12, 2)).reshape(1, 36, 2) for _ in range(40)]  # nothing near code 3
    threshold = share * 36 / 4  # a share of the equal split of 36 vectors over 4 codes
    n = math.ceil(math.log(threshold / 10.0) / math.log(d))  # N_3 = 10 d^s falls under it after n unused steps
    for step in range(1, n):
        vq(batches[step])
        assert vq.restarts == 0, step  # unused for fewer than n steps: not yet dead
    vq(batches[n])
    assert vq.restarts == 1  # only code 3, which no vector picked
    assert (vq.ema_count[:3] > threshold).all()
    assert any(torch.equal(vq.embedding[3].detach(), row) for row in batches[n][0])  # onto a vector of the batch
    assert vq.ema_count[3] == pytest.approx(threshold)  # restarted codes start at the threshold
    if codebook == "ema":
        torch.testing.assert_close(vq.ema_sum[3] / vq.ema_count[3], vq.embedding[3])
    else:
        assert isinstance(vq.embedding, torch.nn.Parameter)
    assert vq.pop_restarts() == 1 and vq.restarts == 0


def test_restarted_codes_land_on_distinct_vectors():
    codes = torch.tensor([[0.0, 0.0]] + [[100.0 + i, 100.0] for i in range(7)])
    vq = _initialized(_vq(8, 2, decay=0.5, dead_threshold=0.9).train(), codes, 1.0)
    z = torch.randn(1, 7, 2) * 0.1  # every vector picks code 0: the other 7 codes die at once
    vq(z)
    assert vq.restarts == 7
    restarted = vq.embedding[1:]
    assert torch.cdist(restarted, z[0]).min(1).values.max() == 0  # each onto a vector of the batch
    assert len({tuple(r.tolist()) for r in restarted}) == 7  # distinct ones: sampled without replacement


def test_no_mass_restart_at_the_first_step():
    """The first batch sets the codes (k-means) and their counts; only codes of near-empty clusters restart."""
    torch.manual_seed(0)
    vq = _vq(64, 8).train()
    z = torch.randn(64, 49, 8)
    vq(z)
    assert vq.ema_count.sum() == pytest.approx(64 * 49)  # N_k: the first batch's vectors per code
    assert vq.restarts < 64 // 10
    for _ in range(5):
        vq(torch.randn(64, 49, 8))
    assert vq.restarts < 64 // 5


def test_kmeans_init_puts_codes_on_the_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0], [20.0, 20.0]])
    z = (centres[:, None] + 0.5 * torch.randn(4, 50, 2)).reshape(1, 200, 2)
    sampled, vq = _vq(4, 2, kmeans_init=False).train(), _vq(4, 2, kmeans_init=True).train()
    assert not bool(vq.initialized)
    torch.manual_seed(1)
    sampled(z)  # the codes k-means starts from: the same draw of 4 distinct vectors
    torch.manual_seed(1)
    vq(z)
    assert bool(vq.initialized)

    def error(q):
        return (z[0] - q.embedding[q.nearest(z[0])]).pow(2).sum(1).mean()

    assert error(vq) < error(sampled)  # Lloyd's iterations lower the quantization error of their start
    idx = vq.nearest(z[0])  # and converge: each code is the mean of the vectors nearest to it
    for k in idx.unique():
        torch.testing.assert_close(vq.embedding[k], z[0][idx == k].mean(0), atol=0.05, rtol=0)
    # the EMA state starts from the centroids and their cluster sizes
    torch.testing.assert_close(vq.ema_count, torch.bincount(idx, minlength=4).float())
    torch.testing.assert_close(vq.ema_sum / vq.ema_count[:, None], vq.embedding)
    # a second batch does not re-initialise
    before = vq.embedding.clone()
    vq.eval()(z + 100.0)
    assert torch.equal(vq.embedding, before)


@pytest.mark.parametrize("kmeans", [True, False])
def test_init_samples_distinct_vectors(kmeans):
    """K codes from K distinct vectors: without replacement every vector gets its own code (with replacement,
    8 draws from 8 would repeat one with probability 1 - 8!/8^8 > 0.99)."""
    z = (torch.arange(8.0)[:, None] * torch.tensor([10.0, 0.0]))[None]
    for seed in range(5):
        torch.manual_seed(seed)
        vq = VectorQuantizer(8, 2, kmeans_init=kmeans).train()
        vq(z)
        assert torch.equal(vq.embedding.sort(0).values, z[0].sort(0).values)
        assert vq.restarts == 0 and torch.equal(vq.ema_count, torch.ones(8))


def test_kmeans_init_loss_mode_sets_the_parameter():
    torch.manual_seed(0)
    z = torch.randn(1, 64, 3) + 5.0
    vq = _vq(8, 3, codebook="loss", kmeans_init=True).train()
    vq(z)
    assert bool(vq.initialized) and isinstance(vq.embedding, torch.nn.Parameter)
    assert torch.cdist(vq.embedding.detach(), z[0]).min(1).values.max() < 3.0  # near the data, not near 0
    assert vq.embedding.detach().mean() > 3.0


def test_codebook_usage_on_known_counts():
    u = codebook_usage(torch.tensor([10, 10, 0, 0]))
    assert u["perplexity"] == pytest.approx(2.0)
    assert u["codes_used"] == pytest.approx(0.5)
    assert u["dead_codes"] == 2
    u = codebook_usage(torch.tensor([5, 5, 5, 5, 5, 5, 5, 5]))
    assert u == {"perplexity": pytest.approx(8.0), "codes_used": 1.0, "dead_codes": 0}
    u = codebook_usage(torch.tensor([3, 1, 0, 0]))  # p = 3/4, 1/4
    assert u["perplexity"] == pytest.approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))
    u = codebook_usage(torch.tensor([7, 0, 0]))
    assert u["perplexity"] == pytest.approx(1.0) and u["dead_codes"] == 2
    u = codebook_usage(torch.zeros(4, dtype=torch.long))
    assert u["codes_used"] == 0.0 and u["dead_codes"] == 4 and math.isfinite(u["perplexity"])
