"""Train five models for the same wall-clock budget on the same data, then compare them on the test set.

    python -m benchmarks.train_benchmark --seconds 60 --threads 2 --json benchmarks/results_train.json
    python -m benchmarks.train_benchmark --seconds 20 --device cuda --data /data/fashion-mnist   # IDX folder

(a) reference: the PyTorch example VAE (github.com/pytorch/examples, vae/main.py; benchmarks/pytorch_example_vae.py),
    trained as the example trains it: float32, Adam lr 1e-3, batch 128;
(b) vae_core's MLP preset  VAE(Config(arch="mlp", latent_dim=20, likelihood="bernoulli")) with the example's
    batch 128 and constant lr 1e-3, so that its throughput compares like for like;
(c) vae_core's conv VAE    VAE(Config(arch="conv", latent_dim=16, likelihood="bernoulli")): the defaults with the
    example's Bernoulli loss, so that its -ELBO compares like for like with the reference's;
(d) the same conv VAE with vae_core's default likelihood (discretised logistic, scale from the decoder), whose
    -ELBO is a code length: its bits/dim are reported beside (a Bernoulli loss on grey pixels is not one);
(e) vae_core's VQ-VAE      VQVAE(Config(model="vqvae"))  (K=512, D=64), the defaults.
vae_core's models train as `python -m vae_core.train` trains them: their config's batch size and Adam lr, the lr
warm-down (over the time budget instead of the epochs), bf16 autocast and channels-last where
vae_core.training.precision uses them, with the batch size and lr that vae_core.training.device.training_defaults gives
the device. Every model: seed 0, epochs over a seeded permutation of the training images (the same order for every
model, indexed on the device where they are kept as uint8) until --seconds are spent (the clock is checked every step).
This loop is the same for every model; benchmarks/command_benchmark.py runs `python -m vae_core.train` itself against
the example's script. Then on the test set, in float32: -ELBO in nats per image (one z sample, fixed seed), MSE per
pixel of the posterior-mean reconstruction, and for the VQ-VAE the share of codes used. A benchmark, not a test:
nothing here asserts timings.
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
from benchmarks.pytorch_example_vae import VAE as ReferenceVAE
from benchmarks.pytorch_example_vae import loss_function
from vae_core.config import Config
from vae_core.data import load_dataset, to_float
from vae_core.evaluation.report import evaluate
from vae_core.models import build_model
from vae_core.training.device import adam, training_defaults
from vae_core.training.loop import lr_at
from vae_core.training.precision import training_losses, training_model

SEED, BATCH, LR, EVAL_BATCH = 0, 128, 1e-3, 500


# --- (a) the reference: the example's model and loss (benchmarks/pytorch_example_vae.py) ------------------
def reference_loss(model, x):
    recon, mu, logvar = model(x)
    return loss_function(recon, x, mu, logvar)


@torch.no_grad()
def evaluate_reference(model, x_uint8: np.ndarray, device="cpu") -> dict:
    """Same protocol as vae_core.evaluate: batches of 500, torch seed 0, one z sample per image."""
    model.eval()
    torch.manual_seed(SEED)
    neg_elbo, se = 0.0, 0.0
    for i in range(0, len(x_uint8), EVAL_BATCH):
        x = to_float(x_uint8[i:i + EVAL_BATCH], device)
        neg_elbo += reference_loss(model, x).item()
        mu, _ = model.encode(x.view(-1, 784))
        se += (model.decode(mu) - x.view(-1, 784)).pow(2).sum().item()
    n = len(x_uint8)
    return {"neg_elbo": neg_elbo / n, "mse": se / (n * x_uint8[0].size)}


# --- the shared training loop --------------------------------------------------------------------------
def train_for(model, loss_fn, x_train: np.ndarray, seconds: float, batch: int = BATCH, lr=lambda progress: LR,
              device="cpu", optimizer=torch.optim.Adam) -> dict:
    """optimizer(params, lr) (Adam), seeded epoch permutations (same for every model); lr(share of the budget spent);
    stop when it is spent. The images stay uint8 on `device` and are indexed there; the loss is read back once."""
    opt = optimizer(model.parameters(), lr=lr(0.0))
    model.train()
    x_dev = torch.from_numpy(x_train).to(device)
    images, steps, epoch, loss = 0, 0, 0, torch.tensor(float("nan"))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        epoch += 1
        perm = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(SEED * 100003 + epoch))
        perm = perm.to(device)
        for i in range(0, len(perm) - batch + 1, batch):  # drop the last partial batch, like vae_core.train
            spent = time.perf_counter() - t0
            if spent >= seconds:
                break
            for group in opt.param_groups:
                group["lr"] = lr(spent / seconds)
            x = x_dev[perm[i:i + batch].sort().values].float().div_(255.0)
            loss = loss_fn(model, x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images, steps = images + len(x), steps + 1
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()  # the queued steps count too
    elapsed = time.perf_counter() - t0
    last_loss = loss.item() / (batch if isinstance(model, ReferenceVAE) else 1)
    return {"train_images": images, "steps": steps, "epochs": epoch, "train_seconds": elapsed,
            "images_per_sec": images / elapsed, "last_train_loss": last_loss}


def warm_up(build, loss_fn, x_train: np.ndarray, steps: int = 3, batch: int = BATCH, device="cpu") -> None:
    """A few untimed steps on a throwaway model, so first-call costs do not count against whoever goes first."""
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for i in range(steps):
        loss = loss_fn(model, to_float(x_train[i * batch:(i + 1) * batch], device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def as_vae_core_trains(cfg: Config, device="cpu") -> tuple:
    """(build, loss on a batch, train_for settings) for a vae_core model trained as vae_core.train does."""
    device = torch.device(device)
    return (lambda: training_model(build_model(cfg), cfg, device),
            lambda model, x: training_losses(model, x, cfg, device)["loss"],
            {"batch": cfg.batch_size, "lr": lambda progress: lr_at(cfg, progress),
             "optimizer": lambda params, lr: adam(params, lr, device)})


def as_the_example_trains(device="cpu") -> tuple:
    return lambda: ReferenceVAE().to(device), reference_loss, {"batch": BATCH, "lr": lambda progress: LR}


REF, MLP, CONV, CONV_DISCRETE, VQ = ("reference (pytorch/examples VAE)", "vae_core MLP preset (latent 20)",
                                     "vae_core conv VAE (latent 16)", "vae_core conv VAE, discretised logistic",
                                     "vae_core VQ-VAE (K=512, D=64)")


def models(device="cpu") -> dict:
    """name -> (build, loss on a batch, train_for settings) on `device`."""
    device = torch.device(device)
    batch, lr = training_defaults(device)  # as `python -m vae_core.train --device ...` picks them
    return {
        REF: as_the_example_trains(device),
        MLP: as_vae_core_trains(Config(arch="mlp", latent_dim=20, likelihood="bernoulli", batch_size=BATCH, lr=LR,
                                       warmdown=0.0), device),
        CONV: as_vae_core_trains(Config(arch="conv", latent_dim=16, likelihood="bernoulli", batch_size=batch, lr=lr),
                                 device),
        CONV_DISCRETE: as_vae_core_trains(Config(arch="conv", latent_dim=16, batch_size=batch, lr=lr), device),
        VQ: as_vae_core_trains(Config(model="vqvae", batch_size=batch, lr=lr), device),
    }


MODELS = models()  # on the CPU


def run(x_train, x_test, seconds: float, log=print, device="cpu") -> dict:
    results = {}
    for name, (build, loss_fn, settings) in models(device).items():
        warm_up(build, loss_fn, x_train, batch=settings["batch"], device=device)
        torch.manual_seed(SEED)
        model = build()
        log(f"training {name} for {seconds:g} s ...")
        r = train_for(model, loss_fn, x_train, seconds, **settings, device=device)
        r["batch_size"] = settings["batch"]
        r.update(evaluate_reference(model, x_test, device) if name == REF else
                 {k: v for k, v in evaluate(model, x_test, batch_size=EVAL_BATCH, seed=SEED).items()
                  if k in ("neg_elbo", "mse", "psnr", "codes_used", "perplexity", "recon", "kl", "bits_per_dim")})
        r.setdefault("psnr", 10 * math.log10(1.0 / max(r["mse"], 1e-12)))
        r["parameters"] = sum(p.numel() for p in model.parameters())
        results[name] = r
    ref = results[REF]
    for r in results.values():
        r["speed_ratio"] = r["images_per_sec"] / ref["images_per_sec"]
        if "neg_elbo" in r and "bits_per_dim" not in r:  # the Bernoulli loss of the reference: like for like
            r["neg_elbo_ratio"] = r["neg_elbo"] / ref["neg_elbo"]
    return results


def goals(results: dict) -> dict:
    ref, mlp, conv, vq = (results[k] for k in (REF, MLP, CONV, VQ))
    return {
        "mlp_throughput_ge_reference": mlp["speed_ratio"] >= 1.0,
        "conv_neg_elbo_lt_reference": conv["neg_elbo"] < ref["neg_elbo"],
        "vqvae_mse_lt_conv_with_90pct_codes": vq["mse"] < conv["mse"] and vq["codes_used"] >= 0.9,
    }


def report(results: dict, g: dict) -> str:
    fmt = lambda v, spec: "—" if v is None else format(v, spec)
    lines = [("| model | batch | train images/s | images/s ratio vs reference | test neg ELBO (nats) | "
              "ratio vs reference | test bits/dim | test MSE | codes used |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['batch_size']} | {r['images_per_sec']:.0f} | {r['speed_ratio']:.2f} | "
                     f"{fmt(r.get('neg_elbo'), '.2f')} | {fmt(r.get('neg_elbo_ratio'), '.3f')} | "
                     f"{fmt(r.get('bits_per_dim'), '.3f')} | "
                     f"{r['mse']:.5f} | {fmt(r['codes_used'] * 100, '.1f') + '%' if 'codes_used' in r else '—'} |")
    yn = lambda b: "yes" if b else "no"
    ref, mlp, conv, vq = (results[k] for k in (REF, MLP, CONV, VQ))
    lines += ["", ("neg ELBO of the Bernoulli rows: the example's loss on grey pixels, comparable between them but not "
                   "a code length; bits/dim: the discretised likelihood's -ELBO / (784 ln 2), a code length."),
              (f"MLP preset throughput >= reference: {yn(g['mlp_throughput_ge_reference'])} "
              f"(ratio {mlp['speed_ratio']:.2f}x)"),
              (f"conv VAE neg ELBO < reference in same time: {yn(g['conv_neg_elbo_lt_reference'])} "
              f"({conv['neg_elbo']:.2f} vs {ref['neg_elbo']:.2f} nats)"),
              (f"VQ-VAE MSE < conv VAE MSE with >= 90% codes used: {yn(g['vqvae_mse_lt_conv_with_90pct_codes'])} "
              f"(MSE {vq['mse']:.5f} vs {conv['mse']:.5f}, {100 * vq['codes_used']:.1f}% codes used)")]
    return "\n".join(lines)


def budget_arguments(doc: str) -> argparse.ArgumentParser:
    """The flags every training benchmark takes: time budget, threads, data and subsets."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="training wall-clock budget per model")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--data", default="fashion-mnist", help="data set name or path (images conformed to 1x28x28)")
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training images (0: all)")
    p.add_argument("--test-subset", type=int, default=0, help="use only the first N test images (0: all)")
    return p


def main(argv=None) -> dict:
    p = budget_arguments(__doc__)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where every model trains")
    p.add_argument("--json", help="write settings, per-model figures and goal checks to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=SEED, log=lambda m: None)
    x_train = ds.x_train[:args.train_subset or None]
    x_test = ds.x_test[:args.test_subset or None]
    load_before = os.getloadavg()[0]  # other CPU work skews every figure here: check this is near 0
    m = machine(args.device)
    print(f"{ds.name}: {len(x_train)} train / {len(x_test)} test images; {args.seconds:g} s per model on "
          f"{args.device}, {args.threads} threads; {describe(m)}; load average {load_before:.2f}", flush=True)
    results = run(x_train, x_test, args.seconds, log=lambda s: print(s, file=sys.stderr, flush=True),
                  device=args.device)
    g = goals(results)
    print(report(results, g))
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    out = {"settings": {"data": ds.name, "train_images": len(x_train), "test_images": len(x_test),
                        "seconds": args.seconds, "threads": args.threads, "reference_batch_size": BATCH,
                        "reference_lr": LR, "seed": SEED, "torch": torch.__version__, "device": args.device,
                        "load_average_before": load_before, "load_average_after": os.getloadavg()[0]},
           "machine": m, "results": results, "goals": g}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
