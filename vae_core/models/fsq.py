"""Finite scalar quantisation (FSQ; Mentzer et al. 2023): round each of a code's d numbers to one of L_i levels.

The codebook is not learned: it is the grid of levels, K = prod_i L_i codes of d numbers (8, 8, 8: K = 512, d = 3).

    bound:  b_i(z) = h_i tanh(z_i + s_i) - o_i,   h_i = (L_i - 1)(1 + eps) / 2,   o_i = 1/2 for even L_i, else 0,
            s_i = atanh(o_i / h_i)   (so b_i(0) = 0); b_i(z) lies in (-h_i - o_i, h_i - o_i), whose integers are the
            L_i levels -floor(L_i / 2) .. L_i - 1 - floor(L_i / 2)
    z_e   = b(z) / floor(L / 2)                    the encoder's output in the codebook's units (the codes in [-1, 1])
    z_q   = round(b(z)) / floor(L / 2),            straight-through gradient: z_q = z_e + sg[round(...) / ... - z_e]
    index k = sum_i (n_i + floor(L_i / 2)) prod_{j < i} L_j,   n_i = round(b_i(z)): the mixed-radix number of the digits
    codebook[k] = the levels of k's digits, / floor(L / 2): so codebook[index] = z_q

The grid is rectangular, so the nearest code of z_e in Euclidean distance is its rounding number by number: a code
model's views that look for nearest codes (the explorer's quantisation view) agree with FSQ. There is no codebook or
commitment loss (the loss returned is 0) and no code can die, so there are no restarts.
"""
import torch
from torch import nn

# h_i slightly above (L_i - 1) / 2, so that o_i / h_i < 1 and s_i = atanh(o_i / h_i) is finite also for L_i = 2 (the
# paper's code has (1 - eps) and tan in place of atanh: its b(0) is not quite 0); b still rounds to the L_i levels only
EPS = 1e-3


class FiniteScalarQuantizer(nn.Module):
    def __init__(self, levels: tuple[int, ...]):
        super().__init__()
        self.levels = tuple(int(n) for n in levels)
        self.num_codes, self.code_dim = int(torch.tensor(self.levels).prod()), len(self.levels)
        L = torch.tensor(self.levels, dtype=torch.float32)
        # not saved with the weights: every buffer here follows from the levels in config.json
        self.register_buffer("half_levels", torch.floor(L / 2), persistent=False)  # floor(L_i / 2)
        self.register_buffer("half_range", (L - 1) * (1 + EPS) / 2, persistent=False)  # h_i
        self.register_buffer("offset", torch.where(L % 2 == 0, 0.5, 0.0), persistent=False)  # o_i
        self.register_buffer("level_counts", L.long(), persistent=False)  # L_i
        self.register_buffer("basis", torch.cumprod(torch.tensor((1,) + self.levels[:-1]), 0), persistent=False)
        self.register_buffer("codebook", self.codes(torch.arange(self.num_codes)), persistent=False)
        self.restarts = 0  # no code is ever restarted (the training log asks, as of the VQ)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """b(z) = h tanh(z + atanh(o / h)) - o, per number (last dim d), in level units."""
        shift = torch.atanh(self.offset / self.half_range)
        return self.half_range * torch.tanh(z + shift) - self.offset

    def squash(self, z: torch.Tensor) -> torch.Tensor:
        """z_e = b(z) / floor(L / 2): the encoder's output in the codebook's units (last dim d)."""
        return self.bound(z.float()) / self.half_levels

    def digits(self, z_e: torch.Tensor) -> torch.Tensor:
        """n_i + floor(L_i / 2) in 0..L_i - 1, n_i = round(b_i(z)), of bounded z_e (last dim d): long."""
        digits = (torch.round(z_e * self.half_levels) + self.half_levels).long()
        return digits.clamp(torch.zeros_like(self.level_counts), self.level_counts - 1)

    def index(self, digits: torch.Tensor) -> torch.Tensor:
        """k = sum_i digit_i prod_{j < i} L_j (last dim d -> a number)."""
        return (digits * self.basis).sum(-1)

    def codes(self, idx: torch.Tensor) -> torch.Tensor:
        """The code of index k: digit_i = floor(k / prod_{j < i} L_j) mod L_i, then (digit_i - floor(L_i / 2)) /
        floor(L_i / 2): (..., d), float32."""
        digits = (idx.long()[..., None] // self.basis) % self.level_counts
        return (digits - self.half_levels) / self.half_levels

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z_e: (B, N, d), bounded (squash) -> (z_q with straight-through gradient, indices (B, N), loss 0 per
        image)."""
        z_e = z_e.float()
        z_q = torch.round(z_e * self.half_levels) / self.half_levels  # round(b(z)) / floor(L / 2)
        idx = self.index(self.digits(z_e.detach()))
        z_q = z_e + (z_q - z_e).detach()  # straight-through estimator
        return z_q, idx, z_e.new_zeros(z_e.shape[0])

    def pop_restarts(self) -> int:
        """Always 0: FSQ's codes are fixed, none dies."""
        return 0
