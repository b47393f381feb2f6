"""The commitment weight swept on the ring of 8 Gaussians: one Playground VQ-VAE run (run.py, its VQ-VAE kind) per
weight, all from the same seed, each trained a few hundred steps, then measured on all the ring's points:

    codes used     share of the K codes some point picks
    perplexity     exp(-sum_k p_k log p_k), p_k the share of points picking code k (8 for 8 equal clusters)
    reconstruction mean ||x - dec(z_q)||^2 over the points (standardised units)
Dead-code restarts are off, so that unused codes show. Deterministic for a seed (the run seeds its weights and
batches; the k-means start is seeded here). One run takes seconds: the service runs a weight when a learner picks
it and keeps each point it ran.
"""
from dataclasses import dataclass

import torch

from explorer.playground.kinds import code_counts
from explorer.playground.run import PlaygroundRun
from explorer.playground.settings import PlaygroundSettings
from vae_core.models.quantize import codebook_usage

WEIGHTS = (0.01, 0.1, 0.25, 1.0, 4.0)  # the commitment weights swept
STEPS = 200  # Adam steps per run


@dataclass(frozen=True)
class SweepPoint:
    commitment: float
    codes_used: float  # share of the K codes
    perplexity: float
    reconstruction: float


def sweep_point(commitment: float, seed: int = 0, steps: int = STEPS, codes: int = 16) -> SweepPoint:
    """One VQ-VAE run on the ring with this commitment weight, measured after `steps` steps."""
    run = PlaygroundRun(PlaygroundSettings(model="vqvae", data="ring", seed=seed, commitment=commitment,
                                           num_codes=codes, restarts=False))
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the quantizer's k-means start draws from the global generator
        for _ in range(steps):
            if run.step() is None:  # a non-finite loss: measure where it stopped
                break
    usage = codebook_usage(code_counts(run.model, run.data))
    with torch.no_grad():
        recon = float((run.model.reconstruct(run.data) - run.data).pow(2).sum(1).mean())
    return SweepPoint(commitment, usage["codes_used"], usage["perplexity"], recon)


def commitment_sweep(weights=WEIGHTS, seed: int = 0, steps: int = STEPS) -> list[SweepPoint]:
    """One point per commitment weight, each its own run from `seed`."""
    return [sweep_point(float(w), seed, steps) for w in weights]
