"""What each CPU change bought: images/s of training steps, each change on and off, against the PyTorch example.

    python -m benchmarks.cpu_step_benchmark                 # float32, as on a CPU without native bf16
    python -m benchmarks.cpu_step_benchmark --seconds 2 --rounds 15 --json benchmarks/results_cpu_step.json

Every variant trains on the same random binary 28x28 images (the step's cost does not depend on their content) with
its own model and optimizer. The variants take turns: each round gives each of them --seconds of steps, so that a
noisy neighbour on a shared machine slows them all alike; the table shows each one's median over the rounds and its
ratio to the example's median. Variants, in float32 with vae_core's CPU defaults (batch 64) unless named:
    example                  the PyTorch example VAE (784-400-20), batch 128, Adam, as in train_benchmark.py;
    <model> before           NCHW tensors, Adam's per-tensor loop, and for the VQ-VAE the one-hot quantizer:
                             the trainer before these three changes;
    + quantizer              bincount/index_add counts and sums, distances by one addmm (vae_core/models/quantize.py);
    + channels-last          conv weights and images NHWC (vae_core/training/precision.py);
    + fused Adam             = vae_core's trainer now (vae_core/training/device.py);
    res_blocks=N             the VQ-VAE with N residual blocks instead of 2, everything else as now.
Each variant's FLOPs per training image (forward and backward, 2 per multiply-add, torch's FlopCounterMode) times
its images/s gives the rate its step sustains; beside it, the rate of a large float32 matmul on the same CPU (a
practical peak), and the rate that the speed goals (0.5x the example's images/s for the conv VAE, 0.25x for the
VQ-VAE) would need at these FLOPs per image.
A benchmark, not a test: nothing here asserts timings.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.machine import describe, machine
from benchmarks.pytorch_example_vae import VAE as ReferenceVAE
from benchmarks.train_benchmark import BATCH, LR, reference_loss
from vae_core.config import Config
from vae_core.models import build_model
from vae_core.models.quantize import VectorQuantizer
from vae_core.training.device import adam


def one_hot_counts_and_sums(self, z, idx):
    """The quantizer's counts and sums before this change: a one-hot (N, K) matrix and its matmul."""
    onehot = F.one_hot(idx, self.num_codes).type(z.dtype)
    return onehot.sum(0), onehot.T @ z


def full_distance_nearest(self, z):
    """The quantizer's nearest code before this change: ||z||^2 - 2 z.e + ||e||^2 in three ops."""
    e = self.embedding
    return (z.pow(2).sum(1, keepdim=True) - 2 * z @ e.T + e.pow(2).sum(1)).argmin(1)


class OldQuantizer(VectorQuantizer):
    counts_and_sums = one_hot_counts_and_sums
    nearest = full_distance_nearest


def example_step():
    model = ReferenceVAE()
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def step(x):
        loss = reference_loss(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step, BATCH


def vae_core_step(model_name: str, old_quantizer=False, channels_last=True, fused=True, **overrides):
    cfg = Config(model=model_name, likelihood="bernoulli", amp=False, **overrides)
    torch.manual_seed(0)
    model = build_model(cfg)
    if old_quantizer:
        model.quantizer.__class__ = OldQuantizer
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    opt = adam(model.parameters(), cfg.lr, "cpu") if fused else torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step(x):
        loss = model(x.contiguous(memory_format=layout))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step, cfg.batch_size


def variants(res_blocks: list[int]) -> dict:
    v = {"example": example_step,
         "conv VAE before": lambda: vae_core_step("vae", channels_last=False, fused=False),
         "conv VAE + channels-last": lambda: vae_core_step("vae", fused=False),
         "conv VAE + fused Adam (now)": lambda: vae_core_step("vae"),
         "VQ-VAE before": lambda: vae_core_step("vqvae", old_quantizer=True, channels_last=False, fused=False),
         "VQ-VAE + quantizer": lambda: vae_core_step("vqvae", channels_last=False, fused=False),
         "VQ-VAE + channels-last": lambda: vae_core_step("vqvae", fused=False),
         "VQ-VAE + fused Adam (now)": lambda: vae_core_step("vqvae")}
    for n in res_blocks:
        v[f"VQ-VAE res_blocks={n}"] = lambda n=n: vae_core_step("vqvae", res_blocks=n)
    return v


def flops_per_image(step, batch: int) -> float:
    """FLOPs of one training step (forward and backward) per image."""
    with FlopCounterMode(display=False) as counter:
        step(torch.rand(batch, 1, 28, 28).round())
    return counter.get_total_flops() / batch


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    """A large float32 matmul's FLOP/s: about the most a step of convolutions and matmuls can sustain here."""
    a = torch.randn(n, n)
    a @ a
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * n ** 3 * repeats / (time.perf_counter() - t0)


def measure(seconds: float, rounds: int, res_blocks: list[int]) -> dict[str, list[float]]:
    images = torch.randint(0, 2, (8192, 1, 28, 28)).float()
    steps = {name: build() for name, build in variants(res_blocks).items()}
    for step, batch in steps.values():  # first-call costs (oneDNN primitive creation) are not timed
        for _ in range(3):
            step(images[:batch])
    rates = {name: [] for name in steps}
    for _ in range(rounds):
        for name, (step, batch) in steps.items():
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                i = (n * batch) % (len(images) - batch)
                step(images[i:i + batch])
                n += 1
            rates[name].append(n * batch / (time.perf_counter() - t0))
    return rates


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=1.5, help="seconds of steps per variant per round")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--res-blocks", type=int, nargs="*", default=[0, 1], help="VQ-VAE shapes to add")
    p.add_argument("--json", help="write the rates here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rates = measure(args.seconds, args.rounds, args.res_blocks)
    flops = {name: flops_per_image(*build()) for name, build in variants(args.res_blocks).items()}
    peak = statistics.median(matmul_flops_per_second() for _ in range(3))
    # each round's ratio to the example's rate in the same round: the machine's noise mostly cancels
    ratios = {name: [a / b for a, b in zip(r, rates["example"])] for name, r in rates.items()}
    m = machine()
    print(f"{describe(m)}; {args.threads} threads, all variants float32; {args.rounds} rounds of {args.seconds:g} s "
          "each")
    print("| variant | images/s (median) | vs example (median of rounds) | range over rounds | MFLOP per image "
          "| GFLOP/s |\n|---|---:|---:|---:|---:|---:|")
    for name, r in rates.items():
        q = ratios[name]
        print(f"| {name} | {statistics.median(r):,.0f} | {statistics.median(q):.3f}x | {min(q):.3f}-{max(q):.3f}x "
              f"| {flops[name] / 1e6:.1f} | {statistics.median(r) * flops[name] / 1e9:.0f} |")
    example = statistics.median(rates["example"])
    needed = {"conv VAE (0.5x)": 0.5 * example * flops["conv VAE + fused Adam (now)"],
              "VQ-VAE (0.25x)": 0.25 * example * flops["VQ-VAE + fused Adam (now)"]}
    print(f"\nA {2048}x{2048} float32 matmul: {peak / 1e9:.0f} GFLOP/s. The goals would need, at these FLOPs per "
          "image: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in needed.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({**m, "threads": args.threads, "rates": rates, "ratios": ratios,
                                               "flops_per_image": flops, "matmul_flops_per_second": peak,
                                               "goal_flops_per_second": needed}, indent=1))


if __name__ == "__main__":
    main()
