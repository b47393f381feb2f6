"""The decoder's scale, decided by measurement: which --scale gives the better VAE at equal training?

    python -m benchmarks.decoder_scale_benchmark --epochs 4 --json benchmarks/results_decoder_scale.json

Trains the default VAE (conv, latent 16, discretised logistic) once per --scale (decoder: a scale per pixel as a
function of z; shared: one learned scale per pixel; shared_scalar: one learned scale, the sigma-VAE's shared one;
optimal: the sigma-VAE's calibrated decoder, one scale in closed form from each batch's MSE), for the same epochs
over the same data in the same order, as vae_core.train trains (seed 0, its validation split held out of the
training images, its lr warm-down over the epochs, bf16 where it uses it). Equal epochs, not equal seconds: the
variants' steps cost about the same (the per-step time ratio is printed), and epochs do not depend on what else runs
on a shared machine. Then, in float32, on the validation split (where the setting is chosen) and the test split
(the figures reported): bits/dim of the -ELBO over the whole split, the IWAE bound with --iwae-k samples on its
first --iwae-n images, MSE of the location at z = mu(x), KL per image, the median posterior sigma, the scale the
evaluation used, and, where the Fashion-MNIST classifier is there (vae_core.classifier), the sample figures of
x ~ N(0, I) decoded (Frechet distance, precision and recall in its features). A benchmark, not a test.
"""
import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import describe, machine
from vae_core.config import Config
from vae_core.data import hold_out, load_dataset, to_float, validation_size
from vae_core.device import adam
from vae_core.evaluate import evaluate, keep_freed_memory
from vae_core.loop import Clock, train_epoch
from vae_core.models import build_model
from vae_core.precision import training_losses, training_model

VARIANTS = ("decoder", "shared", "shared_scalar", "optimal")
SPLITS = ("validation", "test")


def train_variant(cfg: Config, x_train: np.ndarray, device: torch.device, log=print) -> tuple:
    """The model trained as vae_core.train trains it (no checkpoints, no per-epoch evaluation): (model, stats)."""
    torch.manual_seed(cfg.seed)
    model = training_model(build_model(cfg), cfg, device)
    opt = adam(model.parameters(), cfg.lr, device)
    clock = Clock(cfg)
    x = torch.from_numpy(x_train).to(device)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        return training_losses(model, x[idx.sort().values].float().div_(255.0), cfg, device)["loss"]

    steps, seconds, loss_sum = 0, 0.0, 0.0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        n, loss = train_epoch(loss_of, opt, len(x), cfg, epoch, clock, device, Path("."), show=False)
        steps, seconds, loss_sum = steps + n, seconds + time.perf_counter() - t0, loss
        log(f"  {cfg.scale}: epoch {epoch}/{cfg.epochs}, train loss {loss / n:.1f} nats, "
            f"{1000 * seconds / steps:.1f} ms/step")
    return model, {"steps": steps, "train_seconds": seconds, "ms_per_step": 1000 * seconds / steps,
                   "last_epoch_loss": loss_sum / max(n, 1)}


@torch.no_grad()
def scale_summary(model, x: np.ndarray, device) -> dict:
    """The median posterior sigma over x's latents, and the median of the decoder's scale at z = mu(x) (for every
    variant but decoder one value, fixed at evaluation)."""
    model.eval()
    sigmas, scales = [], []
    for i in range(0, len(x), 500):
        mu, log_sigma = model.encode(to_float(x[i:i + 500], device))
        sigmas.append(log_sigma.exp().flatten())
        scales.append(model.likelihood.location_and_log_scale(model.decode(mu))[1].exp().flatten())
    return {"posterior_sigma_median": torch.cat(sigmas).median().item(),
            "decoder_scale_median": torch.cat(scales).median().item()}


def sample_figures_or_none(model, x_test: np.ndarray, x_train: np.ndarray, n: int) -> dict | None:
    """FD, precision and recall of n samples in the classifier's features, or None where it is not there."""
    try:
        from vae_core import classifier
        from vae_core.sample_quality import sample_figures
    except ImportError:
        return None
    clf = classifier.load_default()
    model.eval()
    figures = sample_figures(model, clf, x_test, x_train, n=n, seed=0)
    return figures if isinstance(figures, dict) else {k: getattr(figures, k) for k in ("fd", "precision", "recall")}


def run(args, log=print) -> dict:
    device = torch.device(args.device)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=0, log=lambda m: None)
    ds = hold_out(ds, validation_size(len(ds.x_train)), Config().seed)  # vae_core.train's validation split
    x_train = ds.x_train[:args.train_subset or None]
    x_split = {"validation": ds.x_val[:args.eval_subset or None], "test": ds.x_test[:args.eval_subset or None]}
    results = {}
    for scale in args.variants:
        cfg = Config(scale=scale, epochs=args.epochs, width=args.width)
        log(f"training --scale {scale} for {args.epochs} epochs on {len(x_train)} images ...")
        model, stats = train_variant(cfg, x_train, device, log)
        model = model.to(memory_format=torch.channels_last)  # evaluate's fast float32 layout, as vae_core.evaluate
        r = {"train": stats}
        for split in SPLITS:
            m = evaluate(model, x_split[split], iwae_k=args.iwae_k, iwae_n=args.iwae_n, seed=0, device=device)
            m.update(scale_summary(model, x_split[split], device))
            r[split] = m
        t0 = time.perf_counter()
        r["samples"] = sample_figures_or_none(model, ds.x_test, x_train, args.samples)
        if r["samples"] is not None:
            r["samples"]["seconds"] = time.perf_counter() - t0
        results[scale] = r
        log(f"  {scale}: validation {r['validation']['bits_per_dim']:.4f} bits/dim, "
            f"test {r['test']['bits_per_dim']:.4f}")
    return {"data": ds.name, "train_images": len(x_train), "validation_images": len(x_split["validation"]),
            "test_images": len(x_split["test"]), "results": results}


def report(out: dict, epochs: int) -> str:
    res = out["results"]
    base = next(iter(res.values()))["train"]["ms_per_step"]
    fmt = lambda v, spec: "—" if v is None else format(v, spec)
    lines = []
    for split in SPLITS:
        lines += ["", f"{split} split ({out[f'{split}_images']} images; IWAE on the first "
                      f"{next(iter(res.values()))[split].get('iwae_n', 0)}), after {epochs} epochs each:", "",
                  "| --scale | ms/step (ratio) | bits/dim (-ELBO) | IWAE bits/dim | MSE | KL (nats) | "
                  "posterior sigma | scale at evaluation |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for scale, r in res.items():
            m, t = r[split], r["train"]
            lines.append(f"| {scale} | {t['ms_per_step']:.1f} ({t['ms_per_step'] / base:.2f}) | "
                         f"{m['bits_per_dim']:.4f} | {fmt(m.get('iwae_bits_per_dim'), '.4f')} | {m['mse']:.5f} | "
                         f"{m['kl']:.1f} | {m['posterior_sigma_median']:.3f} | {m['decoder_scale_median']:.4f} |")
    if any(r["samples"] for r in res.values()):
        lines += ["", "samples from N(0, I), in the classifier's features:", "",
                  "| --scale | FD | precision | recall |", "|---|---:|---:|---:|"]
        for scale, r in res.items():
            s = r["samples"] or {}
            lines.append(f"| {scale} | {fmt(s.get('fd'), '.1f')} | {fmt(s.get('precision'), '.3f')} | "
                         f"{fmt(s.get('recall'), '.3f')} |")
    else:
        lines += ["", "no sample figures: vae_core.classifier is not there"]
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=4, help="training epochs of every variant")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, metavar="SCALE",
                   help="the --scale values to train; default: all")
    p.add_argument("--width", type=int, default=Config().width, help="the conv width (the default's, unless a "
                                                                      "smoke test makes it small)")
    p.add_argument("--iwae-k", type=int, default=100, help="importance samples of the IWAE bound")
    p.add_argument("--iwae-n", type=int, default=500, help="first images of each split the IWAE bound is taken on")
    p.add_argument("--samples", type=int, default=5000, help="samples for the sample figures")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default="fashion-mnist", help="data set name or path (images conformed to 1x28x28)")
    p.add_argument("--train-subset", type=int, default=0, help="train on the first N training images (0: all)")
    p.add_argument("--eval-subset", type=int, default=0, help="evaluate on the first N images of each split (0: all)")
    p.add_argument("--json", help="write the settings, machine and figures to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    load_before = os.getloadavg()[0]
    m = machine(args.device)
    print(f"{describe(m)}; {args.threads} threads; load average {load_before:.2f}", flush=True)
    out = run(args, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(f"{out['data']}: {out['train_images']} training images (validation held out), {args.epochs} epochs per "
          f"variant, batch {Config().batch_size}, lr {Config().lr:g} with the default warm-down")
    print(report(out, args.epochs))
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    assert all(math.isfinite(r[s]["bits_per_dim"]) for r in out["results"].values() for s in SPLITS)
    out.update(settings={k: v for k, v in vars(args).items() if k != "json"}, machine=m)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
