"""Autoregressive prior over VQ-VAE code grids: a small causal transformer (nanoGPT-style) with a key-value cache.

A grid of h x w code indices c in 0..K-1 is read in raster order (row by row), c_0 ... c_{N-1}, N = h w:

    p(c) = prod_t p(c_t | c_<t)                         the chain rule, no independence assumed
    p(c_t | c_<t) = softmax(f(BOS, c_0, ..., c_{t-1})_t)   f: causal transformer, position t sees inputs 0..t only
    log p(c) = sum_t log p(c_t | c_<t)                  nats per grid (log_prob)

Sampling draws c_0, c_1, ... one at a time; the key-value cache keeps every layer's keys and values of the cells
drawn so far, so each step runs the network on one new token (49 short steps for a 7x7 grid). `step` is the same
step as a pure function (keys and values in, keys and values out), which an ONNX graph can hold.

The module also holds the VQ-VAE decoder's likelihood for the bound on -log p(x) (vae_core.evaluate): the decoder
outputs only a mean (trained with squared error), so train_prior fits one log scale per pixel of a discretised
likelihood on the training split, decoder frozen, and stores it here (a buffer, never touched by the prior's
optimiser) so that the figure is reproducible from the checkpoint.
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from .likelihood import Likelihood


def draw_codes(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One code per row, k ~ softmax(logits): (B, K) -> (B,). Codes whose logit is -inf are never drawn.
    c = the first k with P(c <= k) > u, u ~ U[0, 1): inverse-CDF sampling, 10x cheaper than torch.multinomial."""
    cdf = F.softmax(logits, -1).cumsum(-1)
    u = torch.rand(len(cdf), 1, generator=generator, device=generator.device if generator else cdf.device)
    k = torch.searchsorted(cdf, u.to(cdf.device) * cdf[:, -1:], right=True)
    return k.squeeze(1).clamp_(max=cdf.shape[1] - 1)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None, pos: int = 0) -> torch.Tensor:
        """x: (B, T, C) tokens at positions pos .. pos + T - 1; cache: (2, B, heads, N, C / heads) or None."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # (B, heads, T, hd)
        if cache is not None:  # store this chunk's keys and values, attend to everything up to it
            cache[0, :, :, pos:pos + t], cache[1, :, :, pos:pos + t] = k, v
            k, v = cache[0, :, :, :pos + t], cache[1, :, :, :pos + t]
        # y_i = sum_{j <= i} softmax_j(q_i . k_j / sqrt(hd)) v_j   (one new query sees the whole cache: no mask)
        causal = cache is None or t > 1  # without a cache, always: the ONNX export traces it with T left free
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))

    def step(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, pos: torch.Tensor):
        """forward for one token at position `pos` as a pure function (what an ONNX graph can hold): x (B, 1, C);
        keys, values (B, heads, N, C / heads), filled before pos. -> (y, keys and values with pos filled)."""
        b, _, c = x.shape
        q, k, v = self.qkv(x).view(b, 1, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # (B, heads, 1, hd)
        where = torch.arange(keys.shape[2], device=x.device)
        keys = torch.where((where == pos)[:, None], k, keys)  # this token's key and value at position pos
        values = torch.where((where == pos)[:, None], v, values)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=(where <= pos)[None])  # sees positions 0..pos
        return self.proj(y.transpose(1, 2).reshape(b, 1, c)), keys, values


class Block(nn.Module):
    """x + attn(ln(x)), then x + mlp(ln(x)): the pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))

    def forward(self, x, cache=None, pos=0):
        x = x + self.attn(self.ln1(x), cache, pos)
        return x + self.mlp(self.ln2(x))

    def step(self, x, keys, values, pos):
        """forward for one token as a pure function (CausalSelfAttention.step)."""
        a, keys, values = self.attn.step(self.ln1(x), keys, values, pos)
        x = x + a
        return x + self.mlp(self.ln2(x)), keys, values


class CodePrior(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.h = self.w = cfg.image_size // 4  # the VQ-VAE's grid
        self.num_codes, n, dim = cfg.num_codes, self.h * self.w, cfg.prior_dim
        self.bos = cfg.num_codes  # the start token: input 0, before any cell
        self.tok_emb = nn.Embedding(cfg.num_codes + 1, dim)
        self.pos_emb = nn.Parameter(torch.zeros(n, dim))
        self.blocks = nn.ModuleList(Block(dim, cfg.prior_heads, cfg.prior_dropout) for _ in range(cfg.prior_layers))
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, cfg.num_codes)
        self.apply(self._init)
        # p(x | z_q) for the likelihood bound: discretised, one log scale per pixel (a buffer), fitted by train_prior
        self.decoder_likelihood = Likelihood(cfg.likelihood, cfg.image_shape, "fixed")

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    @property
    def num_cells(self) -> int:
        return self.h * self.w

    def _device(self) -> torch.device:
        return self.head.weight.device

    # --- the network ---------------------------------------------------------------------------
    def logits(self, inputs: torch.Tensor, cache: torch.Tensor | None = None, pos: int = 0) -> torch.Tensor:
        """Unnormalised log p(c_t | c_<t) for t = pos .. pos + T - 1, from the inputs (BOS, c_0, ...) there:
        (B, T) -> (B, T, K). With a cache, either pos = 0 (a prefix) or T = 1 (one step)."""
        assert cache is None or pos == 0 or inputs.shape[1] == 1, "a cached chunk starts at 0 or is one token"
        x = self.tok_emb(inputs) + self.pos_emb[pos:pos + inputs.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i], pos)
        return self.head(self.ln_f(x)).float()

    def step(self, token: torch.Tensor, pos: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
        """One step of sampling as a pure function, for an ONNX graph (the static page samples with it): the logits
        of cell `pos` given its input token (B,) (BOS, or the code of cell pos - 1) and every layer's keys and values
        of the positions before it, (layers, B, heads, N, C / heads) each. -> (logits (B, K), keys, values with
        position pos filled). Zeros of that shape start a grid; logits(inputs) gives the same numbers at once."""
        x = self.tok_emb(token[:, None]) + self.pos_emb.index_select(0, pos.reshape(1))[None]
        new_keys, new_values = [], []
        for block, k, v in zip(self.blocks, keys, values):
            x, k, v = block.step(x, k, v, pos)
            new_keys.append(k)
            new_values.append(v)
        return self.head(self.ln_f(x))[:, 0].float(), torch.stack(new_keys), torch.stack(new_values)

    def inputs(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, h, w) grid -> (B, N) inputs (BOS, c_0, ..., c_{N-2}): input t is what cell t is conditioned on."""
        c = grid.reshape(len(grid), -1).long()
        return torch.cat([torch.full_like(c[:, :1], self.bos), c[:, :-1]], 1)

    def new_cache(self, batch: int) -> torch.Tensor:
        """Room for every layer's keys and values of all N positions: (layers, 2, B, heads, N, C / heads)."""
        cfg, p = self.cfg, self.head.weight
        return p.new_zeros(cfg.prior_layers, 2, batch, cfg.prior_heads, self.num_cells,
                           cfg.prior_dim // cfg.prior_heads)

    # --- the maths -----------------------------------------------------------------------------
    def _as_batch(self, grid) -> tuple[torch.Tensor, bool]:
        grid = torch.as_tensor(grid, dtype=torch.long, device=self._device())
        single = grid.dim() == 2
        grid = grid[None] if single else grid
        if grid.shape[1:] != (self.h, self.w):
            raise ValueError(f"expected code grids of {self.h}x{self.w}, got {tuple(grid.shape[1:])}")
        if grid.numel() and (grid.min() < 0 or grid.max() >= self.num_codes):
            raise ValueError(f"code indices must be in 0..{self.num_codes - 1}")
        return grid, single

    def conditionals(self, grid: torch.Tensor) -> torch.Tensor:
        """log p(c_t | c_<t) for every cell t and every code: (B, h, w) -> (B, N, K)."""
        grid, _ = self._as_batch(grid)
        return F.log_softmax(self.logits(self.inputs(grid)), -1)

    def log_prob(self, grid: torch.Tensor) -> torch.Tensor:
        """log p(c) = sum_t log p(c_t | c_<t), in nats: (B, h, w) -> (B,)."""
        grid, _ = self._as_batch(grid)
        log_p = self.conditionals(grid)
        return log_p.gather(2, grid.reshape(len(grid), -1, 1)).squeeze(2).sum(1)

    def loss(self, grid: torch.Tensor) -> dict[str, torch.Tensor]:
        """-log p(c) in nats per grid, averaged over the batch (the training loss)."""
        return {"loss": -self.log_prob(grid).mean()}

    forward = loss

    @torch.no_grad()
    def conditional(self, grid: torch.Tensor, row: int, col: int) -> torch.Tensor:
        """p(c_t = k | c_<t), t = row * w + col: the probabilities of every code k for one cell given the cells
        before it in raster order (the cells after it are ignored). (h, w) -> (K,); (B, h, w) -> (B, K)."""
        if not (0 <= row < self.h and 0 <= col < self.w):
            raise ValueError(f"cell ({row}, {col}) is outside the {self.h}x{self.w} grid")
        grid, single = self._as_batch(grid)
        t = row * self.w + col
        p = F.softmax(self.logits(self.inputs(grid)[:, :t + 1])[:, t], -1)
        return p[0] if single else p

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               top_k: int | None = None, prefix: torch.Tensor | None = None,
               start: int | tuple[int, int] = 0) -> torch.Tensor:
        """n grids (n, h, w) drawn cell by cell: c_t ~ softmax(logits_t / temperature), restricted to the top_k
        codes when top_k is set (top_k = 1: the most likely code, greedy).

        Resample from a cell: `prefix` (a grid (h, w), or (n, h, w)) keeps its cells before `start` (a raster index
        or (row, col)); the cells from `start` on are drawn anew given them."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature} (top_k=1 samples greedily)")
        if top_k is not None and not 1 <= top_k <= self.num_codes:
            raise ValueError(f"top_k must be in 1..{self.num_codes} or None, got {top_k}")
        start = start[0] * self.w + start[1] if isinstance(start, (tuple, list)) else int(start)
        if not 0 <= start <= self.num_cells:
            raise ValueError(f"start must be a cell of the {self.h}x{self.w} grid, got {start}")
        if prefix is None:
            if start:
                raise ValueError("start > 0 needs a prefix: the grid whose cells before start are kept")
            c = torch.zeros(n, self.num_cells, dtype=torch.long, device=self._device())
        else:
            p, _ = self._as_batch(prefix)
            if len(p) not in (1, n):
                raise ValueError(f"prefix must be one grid or n = {n} grids, got {len(p)}")
            c = p.reshape(len(p), -1).expand(n, -1).clone()
        with torch.inference_mode():  # cheaper than no_grad for these small steps (docs/benchmarks.md)
            if start < self.num_cells:
                cache = self.new_cache(n)
                logits = self.logits(self.inputs(c.view(n, self.h, self.w))[:, :start + 1], cache)[:, -1]  # prefix
            for t in range(start, self.num_cells):
                c[:, t] = self._draw(logits, generator, temperature, top_k)
                if t + 1 < self.num_cells:
                    logits = self.logits(c[:, t:t + 1], cache, pos=t + 1)[:, -1]  # one step: only the new token
        return c.view(n, self.h, self.w).clone()  # a normal tensor again: callers may edit it in place

    @staticmethod
    def _draw(logits, generator, temperature, top_k) -> torch.Tensor:
        logits = logits / temperature
        if top_k is not None:  # keep the top_k codes: the others get probability 0
            kth = torch.topk(logits, top_k, -1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return draw_codes(logits, generator)
