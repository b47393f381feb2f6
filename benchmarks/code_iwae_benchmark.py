"""The IWAE bound of a VQ-VAE with its prior (vae_core.models.code_iwae): the proposal's settings, chosen on validation
images.

    python -m benchmarks.code_iwae_benchmark checkpoints/fashion-vqvae --n 100 --k 1000 \
        --json benchmarks/results_code_iwae.json

Each proposal q(c_t | c_<t, x) ∝ p(c_t | c_<t)^alpha exp(-||z_e,t - e_c||^2 / tau) over the `nearest` codes gives
the IWAE bound with k grids per image on the first --n images of the VQ-VAE's validation split (held out of its
training images, as its trainer held it out). The reference, computed on the same images in the same run, is the
point bound -log p(c*) - log p(x|c*) at the encoder's grid c*, which every proposal must beat. The row with the
lowest bound gives vae_core.models.code_iwae its defaults; `evaluate` reports the bound on the test split. Columns: the
bound in nats per image and bits/dim, its standard error over the images, the gain over the point bound, seconds.
A benchmark, not a test: nothing asserts timings.
"""
import argparse
import functools
import json
import math
import sys
import time

import torch

from benchmarks.machine import describe, machine
from vae_core import load
from vae_core.data import hold_out, load_dataset, to_float
from vae_core.evaluation.iwae import iwae_per_image
from vae_core.models.code_iwae import log_weights
from vae_core.models.prior import CodePrior

PROPOSALS = ((0.0, 3.0, 0.0, 16), (0.25, 3.0, 0.0, 16), (0.5, 2.0, 0.0, 16), (0.5, 3.0, 0.0, 16),
             (0.5, 5.0, 0.0, 16), (0.75, 3.0, 0.0, 16), (1.0, 1.0, 0.0, 16), (1.0, 3.0, 0.0, 16), (1.0, 3.0, 0.0, 64),
             (1.0, 10.0, 0.0, 16), (0.5, 3.0, 0.05, 16), (0.5, 3.0, 0.15, 16), (0.5, 4.0, 0.1, 16),
             (0.5, 4.0, 0.15, 16), (0.5, 4.0, 0.2, 16), (0.7, 4.0, 0.25, 16), (0.5, 6.0, 0.25, 16),
             (0.5, 10.0, 0.4, 16))  # (alpha, tau, beta, nearest)


def parse_proposals(text: str) -> tuple:
    """'1:3:0:16,0.5:4:0.15:16' -> ((1.0, 3.0, 0.0, 16), (0.5, 4.0, 0.15, 16))."""
    try:
        return tuple((float(a), float(t), float(b), int(m))
                     for a, t, b, m in (item.split(":") for item in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected alpha:tau:beta:nearest,..., got {text!r}") from None


def point_bound(model, x) -> torch.Tensor:
    """-log p(c*) - log p(x|c*) per image, c* the encoder's grid: (N,) nats."""
    likelihood = model.likelihood or model.prior.decoder_likelihood
    with torch.no_grad():
        z_q, idx, _ = model.quantize(model.encode(x))
        return -(model.prior.log_prob(idx) + likelihood.log_prob(model.decode(z_q), x)).double()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a VQ-VAE folder with its prior (<checkpoint>/prior/)")
    p.add_argument("--n", type=int, default=100, help="validation images")
    p.add_argument("--k", type=int, default=1000, help="grids per image (evaluate's --iwae-k)")
    p.add_argument("--proposals", type=parse_proposals, default=PROPOSALS,
                   help="alpha:tau:beta:nearest,... (default: the grid in PROPOSALS)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    model = load(args.checkpoint)
    if not isinstance(model.prior, CodePrior):
        sys.exit(f"error: {args.checkpoint} has no prior over its code grids: train one with "
                 f"python -m vae_core.train_prior {args.checkpoint}")
    cfg = model.cfg
    ds = load_dataset(cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, seed=cfg.seed, log=lambda m: None)
    ds = hold_out(ds, cfg.validation, cfg.seed)
    if ds.x_val is None:
        sys.exit(f"error: {args.checkpoint} was trained without a validation split to choose settings on")
    x_u8 = ds.x_val[:args.n]
    x = to_float(x_u8)
    dims = x[0].numel()
    bits = lambda nats: nats / (dims * math.log(2))  # noqa: E731
    point = point_bound(model, x)
    rows = [{"proposal": "point bound (reference)", "nll": point.mean().item(),
             "se": (point.std() / math.sqrt(len(point))).item(), "gain": 0.0, "seconds": 0.0}]
    for alpha, tau, beta, nearest in args.proposals:
        g = torch.Generator().manual_seed(args.seed)
        weights = functools.partial(log_weights, model, tau=tau, alpha=alpha, beta=beta, nearest=nearest)
        t0 = time.perf_counter()
        per = iwae_per_image(model, x_u8, args.k, "cpu", generator=g, weights=weights)
        rows.append({"proposal": f"alpha {alpha:g}, tau {tau:g}, beta {beta:g}, nearest {nearest}", "alpha": alpha,
                     "tau": tau, "beta": beta, "nearest": nearest, "nll": per.mean().item(),
                     "se": (per.std() / math.sqrt(len(per))).item(), "gain": (point - per).mean().item(),
                     "seconds": time.perf_counter() - t0})
    best = min(rows[1:], key=lambda r: r["nll"])
    m = machine()
    print(f"{describe(m)}; {args.checkpoint}, first {args.n} validation images, k = {args.k}")
    print("| proposal | -log p(x) bound, nats | bits/dim | SE, nats | gain over the point bound, nats | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        mark = " (chosen)" if r is best else ""
        print(f"| {r['proposal']}{mark} | {r['nll']:.2f} | {bits(r['nll']):.4f} | {r['se']:.2f} | {r['gain']:.2f} | "
              f"{r['seconds']:.0f} |")
    out = {"machine": m, "checkpoint": args.checkpoint, "n": args.n, "k": args.k, "rows": rows, "chosen": best}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
