"""The IWAE bound on a VQ-VAE's -log p(x): code grids proposed cell by cell, weighted by the prior and the decoder.

A VQ-VAE with a prior over its code grids is a latent-variable model, p(x) = sum_c p(c) p(x|c) over every grid c. The
encoder's grid c*(x) is one term of that sum, which gives the point bound (VQVAE.evaluation_terms):

    -log p(x) <= -log p(c*) - log p(x|c*)                           recon + prior NLL

The sum has many more terms that count: a cell's neighbouring codes decode to nearly the same image. Importance
sampling (Burda et al. 2016, the bound a VAE's IWAE figure uses) counts them, for any proposal q(c|x):

    -log p(x) <= E[-log (1/k) sum_i w_i],  w_i = p(c_i) p(x|c_i) / q(c_i|x),  c_i ~ q(c|x)

The proposal reads the grid in the prior's raster order and draws each cell from the prior's conditional, tilted
toward the codes the encoder's vector z_e,t(x) lies near and toward those the decoder itself prefers there:

    q(c_t | c_<t, x)  ∝  p(c_t | c_<t)^ALPHA exp(-||z_e,t(x) - e_{c_t}||^2 / TAU + BETA swap_t(c_t)),  c_t among the
                         NEAREST codes,  swap_t(j) = log p(x | c* with cell t set to j) - log p(x | c*)

so drawing from q and scoring log p(c_i) share the prior's forward steps (its key-value cache): one prior pass and
one decoder pass per sample, as a VAE's IWAE has one decoder pass, plus NEAREST decodes per cell for swap_t. As
TAU -> 0 (ALPHA = BETA = 0), q is a point mass on c*(x) and the bound is the point bound. Leaving codes out of q only
leaves terms out of the sum: still a bound. TAU, ALPHA, BETA and NEAREST were chosen on the validation split
(benchmarks/code_iwae_benchmark.py, docs/benchmarks.md).
"""
import torch
import torch.nn.functional as F

from .prior import draw_codes

TAU = 4.0  # the tilt's temperature, in the codebook's squared distances
ALPHA = 0.5  # the weight of the prior's conditional in the proposal (0: the encoder's distances alone)
BETA = 0.15  # the weight of swap_t, the decoder's log-likelihood change when one cell's code is swapped
NEAREST = 16  # the codes a cell's proposal may draw: the nearest to z_e,t(x)
MAX_DECODES = 1024  # swapped grids decoded at once


def cell_scores(model, x: torch.Tensor, tau: float = TAU, beta: float = BETA, nearest: int = NEAREST) -> torch.Tensor:
    """-||z_e,t(x) - e_k||^2 / tau + beta swap_t(k) for every cell t and code k, -inf beyond the `nearest` codes of
    each cell: (B, N, K)."""
    z_e = model.encode(x)
    b, d, h, w = z_e.shape
    z = z_e.permute(0, 2, 3, 1).reshape(b, h * w, d).float()
    codebook = model.codebook.float()
    dist2 = (z.pow(2).sum(-1, keepdim=True) - 2 * z @ codebook.T + codebook.pow(2).sum(-1))  # ||z||^2 - 2 z.e + ||e||^2
    near = dist2.topk(min(nearest, len(codebook)), -1, largest=False).indices  # (B, N, m)
    scores = torch.full_like(dist2, float("-inf"))
    scores.scatter_(2, near, -dist2.gather(2, near) / tau)
    if beta:
        scores.scatter_add_(2, near, beta * swap_scores(model, x, dist2.argmin(-1), near))
    return scores


def swap_scores(model, x: torch.Tensor, star: torch.Tensor, near: torch.Tensor) -> torch.Tensor:
    """swap_t(j) = log p(x | c* with cell t set to j) - log p(x | c*) for the m codes j = near[:, t] of every cell t:
    (B, N) encoder's grids c*, (B, N, m) codes -> (B, N, m)."""
    likelihood = model.data_likelihood
    b, n, m = near.shape
    side = model.grid_size
    out = []
    for star_i, near_i, x_i in zip(star, near, x):
        grids = star_i.repeat(n * m + 1, 1)  # row 0: c* itself; row 1 + t m + j: cell t set to near_i[t, j]
        grids[1 + torch.arange(n * m), torch.arange(n).repeat_interleave(m)] = near_i.reshape(-1)
        decode = lambda g: model.decode(model.codebook[g.view(-1, side, side)].permute(0, 3, 1, 2))  # noqa: E731
        log_px = torch.cat([likelihood.log_prob(decode(g), x_i.expand(len(g), -1, -1, -1))
                            for g in grids.split(MAX_DECODES)])
        out.append((log_px[1:] - log_px[0]).view(n, m))
    return torch.stack(out)


@torch.inference_mode()
def log_weights(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None, tau: float = TAU,
                alpha: float = ALPHA, beta: float = BETA, nearest: int = NEAREST,
                grids: torch.Tensor | None = None) -> torch.Tensor:
    """log w_i = log p(c_i) + log p(x|c_i) - log q(c_i|x) for k grids c_i ~ q(c|x) per image: (B, k), nats.
    p(x|c) is the decoder's own likelihood, or (a VQ-VAE trained for squared error) the scale its prior fitted.
    grids (B, k, N) of codes: score these grids instead of drawing them (log q = -inf off q's support)."""
    prior = model.prior
    likelihood = model.data_likelihood
    rows = len(x) * k
    tilts = cell_scores(model, x, tau, beta, nearest).repeat_interleave(k, 0)  # (B k, N, K): row r is image r // k
    codes = torch.zeros(rows, prior.num_cells, dtype=torch.long, device=x.device)
    log_p = torch.zeros(rows, device=x.device)  # log p(c_<t), summed as the cells are drawn
    log_q = torch.zeros(rows, device=x.device)
    cache = prior.new_cache(rows)
    logits = prior.logits(torch.full((rows, 1), prior.bos, device=x.device), cache)[:, -1]
    for t in range(prior.num_cells):
        log_p_t = F.log_softmax(logits, -1)  # log p(c_t | c_<t)
        log_q_t = F.log_softmax(alpha * log_p_t + tilts[:, t], -1)  # log q(c_t | c_<t, x)
        c_t = draw_codes(log_q_t, generator) if grids is None else grids.reshape(rows, -1)[:, t]
        codes[:, t] = c_t
        log_p += log_p_t.gather(1, c_t[:, None]).squeeze(1)
        log_q += log_q_t.gather(1, c_t[:, None]).squeeze(1)
        if t + 1 < prior.num_cells:
            logits = prior.logits(c_t[:, None], cache, pos=t + 1)[:, -1]  # one step: only the new cell
    grids = codes.view(rows, prior.h, prior.w)
    params = model.decode(model.codebook[grids].permute(0, 3, 1, 2))
    log_px = likelihood.log_prob(params, x.repeat_interleave(k, 0))  # log p(x | c_i)
    return (log_p + log_px - log_q).view(len(x), k)
