"""The VQ-VAE trained for squared error, the VQ-VAE trained on the decoder's discretised logistic, and FSQ, at equal
training time, each with a short prior of equal length.

    flock /tmp/heavy.lock python -m benchmarks.vq_likelihood_benchmark --seconds 240 --prior-epochs 1 \
        --workdir /tmp/vq-likelihood --json benchmarks/results_vq_likelihood.json

Runs, one after the other, in one process, each `vae_core.train` with --time-budget SECONDS (the clock from the
call, data loading and the per-epoch validation passes included; the lr warm-down spread over the budget), then
`vae_core.train_prior` for --prior-epochs epochs (its defaults otherwise), all with the trainer's defaults (K = 512
codes on a 7 x 7 grid, batch 64, lr 3e-3, seed 0):

    vq-mse        --vq-likelihood mse (the command's default): its bound fits one scale per
                  pixel with the prior
    vq-logistic   --vq-likelihood discretized_logistic (the shipped fashion-vqvae's): the decoder's own location and
                  scale per pixel
    fsq-...       --quantizer fsq --fsq-levels 8,8,8 (K = 512 codes of 3 numbers) with whichever of the two
                  likelihoods gave the lower validation bits/dim

Settings are chosen on the validation split (held out of the training images as the trainer holds it out); the
figures reported are on the test split: MSE of the decoder's location, the codes used and their perplexity, the
reconstruction term -log p(x|z_q) and the prior's -log p(z_q) (nats per image), and the bound on -log p(x) in
bits/dim. Training speed is images/s of the training steps alone (history.jsonl). With vae_core.evaluation.classifier
and its classifier (classifiers/<data>/) present, also vae_core.evaluation.sample_figures.sample_figures of 5,000
samples. A benchmark, not a test: nothing asserts timings.
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.machine import describe, machine
from vae_core import Config, load
from vae_core.data import hold_out, load_dataset
from vae_core.evaluation.report import evaluate
from vae_core.train import train
from vae_core.train_prior import prior_config, train_prior

LIKELIHOODS = {"mse": "mse", "logistic": "discretized_logistic"}
REPORTED = ("mse", "codes_used", "perplexity", "recon", "recon_bits_per_dim", "prior_nll", "neg_elbo", "bits_per_dim")


def train_variant(name: str, overrides: dict, args, image_shape, work: Path, log) -> Path:
    """Train the VQ-VAE `name` for args.seconds, then its prior for args.prior_epochs; returns its folder."""
    folder = work / name
    if args.reuse and (folder / "prior" / "model.safetensors").exists():
        log(f"{name}: reusing {folder} and its prior (--reuse)")
        return folder
    cfg = Config(model="vqvae", data=args.data, epochs=args.max_epochs, time_budget=args.seconds, seed=args.seed,
                 batch_size=64, lr=3e-3, channels=image_shape[0], image_size=image_shape[1], **overrides)
    log(f"{name}: training for {args.seconds:g} s ({overrides})")
    train(cfg, folder, device=args.device, log=log, started=time.time())
    prior = prior_config(load(folder).cfg, epochs=args.prior_epochs)
    t0 = time.time()
    train_prior(folder, prior, device=args.device, log=log)
    log(f"{name}: prior trained in {time.time() - t0:.0f} s")
    return folder


def training_speed(folder: Path) -> dict:
    """Images/s of the training steps alone over the run, and the epochs trained (history.jsonl)."""
    rows = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    seconds = sum(r["seconds"] for r in rows)
    images = sum(r["seconds"] * r["images_per_sec"] for r in rows)
    return {"images_per_sec": images / seconds, "train_seconds": seconds, "epochs": rows[-1]["epoch"]}


def sample_quality(model, ds, data: str):
    """vae_core.evaluation.sample_figures.sample_figures of 5,000 samples (seed 0) against the test split, or None
    without the data set's classifier."""
    if importlib.util.find_spec("vae_core.evaluation.classifier_lookup") is None:
        return None
    from vae_core.evaluation.classifier_lookup import find_classifier
    from vae_core.evaluation.sample_figures import sample_figures

    clf, _note = find_classifier(data, model.cfg.image_shape, has_labels=ds.y_train is not None)
    return None if clf is None else sample_figures(model, clf, ds.x_test, ds.x_train, n=5000, seed=0)


def measure(folder: Path, ds, data: str) -> dict:
    model = load(folder)
    split = hold_out(ds, model.cfg.validation, model.cfg.seed)
    val, test = evaluate(model, split.x_val), evaluate(model, ds.x_test)
    out = {"validation": {k: val[k] for k in REPORTED}, "test": {k: test[k] for k in REPORTED},
           "samples": sample_quality(model, split, data), **training_speed(folder)}
    return out


def run(args, log) -> dict:
    ds = load_dataset(args.data, seed=args.seed, log=lambda m: None)
    with tempfile.TemporaryDirectory(prefix="vq-likelihood-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = {}
        for short, likelihood in LIKELIHOODS.items():
            folder = train_variant(f"vq-{short}", {"vq_likelihood": likelihood}, args, ds.image_shape, work, log)
            results[f"vq-{short}"] = measure(folder, ds, args.data)
        better = min(LIKELIHOODS, key=lambda s: results[f"vq-{s}"]["validation"]["bits_per_dim"])
        fsq = {"quantizer": "fsq", "fsq_levels": "8,8,8", "num_codes": 512, "vq_likelihood": LIKELIHOODS[better]}
        folder = train_variant(f"fsq-{better}", fsq, args, ds.image_shape, work, log)
        results[f"fsq-{better}"] = measure(folder, ds, args.data)
    return results


def report(results: dict) -> str:
    base = results["vq-mse"]["images_per_sec"]
    lines = ["| run | train images/s (vs vq-mse) | epochs | validation bits/dim | test MSE | codes used | "
             "perplexity | recon (nats) | recon bits/dim | prior NLL (nats) | bits/dim |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        t = r["test"]
        lines.append(f"| {name} | {r['images_per_sec']:.0f} ({r['images_per_sec'] / base:.2f}) | {r['epochs']} | "
                     f"{r['validation']['bits_per_dim']:.3f} | {t['mse']:.5f} | {t['codes_used']:.3f} | "
                     f"{t['perplexity']:.0f} | {t['recon']:.1f} | {t['recon_bits_per_dim']:.3f} | "
                     f"{t['prior_nll']:.1f} | {t['bits_per_dim']:.3f} |")
    samples = {n: r["samples"] for n, r in results.items() if r["samples"]}
    if samples:
        lines += ["", "| run | " + " | ".join(next(iter(samples.values()))) + " |"]
        lines += ["|---|" + "---:|" * len(next(iter(samples.values())))]
        lines += [f"| {n} | " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in s.values()) + " |"
                  for n, s in samples.items()]
    else:
        lines += ["", "sample figures: skipped (no vae_core.evaluation.classifier here)"]
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=240.0, help="training budget of each VQ-VAE (--time-budget)")
    p.add_argument("--max-epochs", type=int, default=20, help="--epochs of each VQ-VAE: a cap under the budget")
    p.add_argument("--prior-epochs", type=int, default=1, help="epochs of each prior (the same work for each)")
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workdir", help="keep the checkpoints here (default: a temporary folder)")
    p.add_argument("--reuse", action="store_true",
                   help="measure the runs already in --workdir (with their priors) instead of training them again")
    p.add_argument("--json", help="write settings, machine and per-run figures to this file")
    args = p.parse_args(argv)
    m, load_before = machine(args.device), os.getloadavg()[0]
    print(f"{args.data}: {args.seconds:g} s of VQ-VAE training and {args.prior_epochs} prior epoch(s) per run on "
          f"{args.device}, {torch.get_num_threads()} threads; {describe(m)}; load average {load_before:.2f}",
          flush=True)
    results = run(args, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(report(results))
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    out = {"settings": vars(args), "machine": m, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
