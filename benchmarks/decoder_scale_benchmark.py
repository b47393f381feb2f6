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
evaluation used, and, where the Fashion-MNIST classifier is there (vae_core.evaluation.classifier), the sample figures
of x ~ N(0, I) decoded against each split (vae_core.evaluation.sample_figures: Frechet distance, precision and recall in
the classifier's features, beside the floor of real images). A benchmark, not a test.
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
from vae_core.checkpoint import load, save_checkpoint
from vae_core.config import Config
from vae_core.data import hold_out, load_dataset, to_float, validation_size
from vae_core.evaluate import keep_freed_memory
from vae_core.evaluation.report import evaluate
from vae_core.models import build_model
from vae_core.models.likelihood import DISCRETIZED, LOG_SCALE_FLOOR, soft_clamp
from vae_core.training.device import adam
from vae_core.training.loop import Clock, train_epoch
from vae_core.training.precision import training_losses, training_model

VARIANTS = ("decoder", "shared", "shared_scalar", "optimal")
SPLITS = ("validation", "test")
TRAIN_STATS = "train_stats.json"  # beside each variant's checkpoint under --checkpoints


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


def step_times(cfgs: list[Config], x_train: np.ndarray, device: torch.device, rounds: int = 5,
               steps: int = 20) -> list[float]:
    """Median ms per training step of each config, timed in interleaved rounds (round r times `steps` steps of
    every model in turn), so that a load that comes and goes on a shared machine falls on all of them alike."""
    x = torch.from_numpy(x_train[:steps * cfgs[0].batch_size]).float().div_(255.0).to(device)
    runs = []
    for cfg in cfgs:
        torch.manual_seed(cfg.seed)
        model = training_model(build_model(cfg), cfg, device).train()
        runs.append((cfg, model, adam(model.parameters(), cfg.lr, device)))
    times = [[] for _ in cfgs]
    for r in range(rounds + 1):  # round 0 warms up, untimed
        for i, (cfg, model, opt) in enumerate(runs):
            t0 = time.perf_counter()
            for step in range(steps):
                loss = training_losses(model, x[step * cfg.batch_size:(step + 1) * cfg.batch_size], cfg,
                                       device)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            loss.item()
            if r:
                times[i].append(1000 * (time.perf_counter() - t0) / steps)
    return [float(np.median(t)) for t in times]


@torch.no_grad()
def exact_scalar_scale(model, x_fit: np.ndarray, x_eval: np.ndarray, device) -> dict:
    """For a model with one scale: the log s that maximises sum log p(x|z), z ~ q(z|x) drawn once (seed 0), over
    the training images x_fit (the exact argmax of the discretised likelihood, where `optimal` takes the
    moment-matched s; a grid of step 0.1 over +-3 around the evaluation's log s, then of step 0.005 around the
    best), and what that s would change in the -ELBO on x_eval, in bits/dim (KL and z unchanged: only the
    reconstruction term moves)."""
    lik = model.likelihood

    def drawn(x_uint8: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:  # (x, loc at z ~ q) of every image
        g, xs, locs = torch.Generator(device=device).manual_seed(0), [], []
        for i in range(0, len(x_uint8), 500):
            xb = to_float(x_uint8[i:i + 500], device)
            mu, log_sigma = model.encode(xb)
            xs.append(xb)
            locs.append(model.decode(model.reparameterize(mu, log_sigma, 1, g)[0]).float())
        return torch.cat(xs), torch.cat(locs)

    def recon(data, log_s: float) -> float:  # -sum log p(x|z) over the images, nats
        x, loc = data
        log_s = soft_clamp(torch.tensor(log_s), LOG_SCALE_FLOOR)
        return -DISCRETIZED[lik.kind](x, loc, log_s.expand_as(loc)).double().sum().item()

    fit, held = drawn(x_fit), drawn(x_eval)
    own = lik.log_scale.flatten()[0].item()
    best = min((own + 0.1 * k for k in range(-30, 31)), key=lambda v: recon(fit, v))
    best = min((best + 0.005 * k for k in range(-20, 21)), key=lambda v: recon(fit, v))
    dims = int(np.prod(x_eval.shape[1:]))
    scale = lambda log_s: soft_clamp(torch.tensor(log_s), LOG_SCALE_FLOOR).exp().item()  # as the likelihood uses it
    return {"exact_scale": scale(best), "evaluation_scale": scale(own),
            "bits_per_dim_change": (recon(held, best) - recon(held, own)) / (len(x_eval) * dims * math.log(2))}


def trained(cfg: Config, x_train: np.ndarray, device: torch.device, folder: Path | None, log=print) -> tuple:
    """train_variant's (model, stats); with a folder, the checkpoint and stats saved there by an earlier run with
    the same settings, else trained and saved there (so that figures added later need no retraining)."""
    if folder is not None and (folder / TRAIN_STATS).exists():
        saved = json.loads((folder / TRAIN_STATS).read_text())
        if saved["config"] == cfg.settings() and saved["train_images"] == len(x_train):
            log(f"--scale {cfg.scale}: trained before, loaded from {folder}")
            return load(folder, device), saved["stats"]
    log(f"training --scale {cfg.scale} for {cfg.epochs} epochs on {len(x_train)} images ...")
    model, stats = train_variant(cfg, x_train, device, log)
    if folder is not None:
        save_checkpoint(folder, model, cfg)
        (folder / TRAIN_STATS).write_text(json.dumps({"config": cfg.settings(), "train_images": len(x_train),
                                                      "stats": stats}, indent=2))
    return model, stats


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


def sample_references(x_split: dict, x_train: np.ndarray, n: int, log=print) -> dict | None:
    """{split: (classifier, Reference)}: the real side of the sample figures on each split (its images against n
    training images: the floor), or None where no classifier for the data is there."""
    try:
        from vae_core.evaluation.classifier_lookup import find_classifier
        from vae_core.evaluation.sample_figures import reference
    except ImportError:
        log("no sample figures: this vae_core has no classifier")
        return None
    clf, note = find_classifier("fashion-mnist", (1, 28, 28))
    log(note)
    if clf is None:
        return None
    return {split: (clf, reference(clf, x, x_train, n, seed=0)) for split, x in x_split.items()}


def sample_figures_on(model, refs: dict | None, x_split: dict, x_train: np.ndarray) -> dict | None:
    """FD, precision and recall of samples of `model` against each split, in the classifier's features."""
    if refs is None:
        return None
    from vae_core.evaluation.sample_figures import sample_figures
    model.eval()
    return {split: sample_figures(model, clf, x_split[split], x_train, ref.n, seed=0, ref=ref)
            for split, (clf, ref) in refs.items()}


def run(args, log=print) -> dict:
    device = torch.device(args.device)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=0, log=lambda m: None)
    ds = hold_out(ds, validation_size(len(ds.x_train)), Config().seed)  # vae_core.train's validation split
    x_train = ds.x_train[:args.train_subset or None]
    x_split = {"validation": ds.x_val[:args.eval_subset or None], "test": ds.x_test[:args.eval_subset or None]}
    refs = sample_references(x_split, x_train, args.samples, log) if args.samples else None
    results = {}
    for scale in args.variants:
        cfg = Config(scale=scale, epochs=args.epochs, width=args.width)
        model, stats = trained(cfg, x_train, device, Path(args.checkpoints) / scale if args.checkpoints else None,
                               log)
        model = model.to(memory_format=torch.channels_last)  # evaluate's fast float32 layout, as vae_core.evaluate
        r = {"train": stats}
        for split in SPLITS:
            m = evaluate(model, x_split[split], iwae_k=args.iwae_k, iwae_n=args.iwae_n, seed=0, device=device)
            m.update(scale_summary(model, x_split[split], device))
            r[split] = m
        if scale != "decoder" and model.likelihood.log_scale.numel() == 1:
            r["exact_scale"] = exact_scalar_scale(model, x_train[:args.fit_images], x_split["validation"], device)
        r["samples"] = sample_figures_on(model, refs, x_split, x_train)
        results[scale] = r
        log(f"  {scale}: validation {r['validation']['bits_per_dim']:.4f} bits/dim, "
            f"test {r['test']['bits_per_dim']:.4f}")
    cfgs = [Config(scale=scale, epochs=args.epochs, width=args.width) for scale in args.variants]
    for scale, ms in zip(args.variants, step_times(cfgs, x_train, device)):
        results[scale]["ms_per_step_interleaved"] = ms
    return {"data": ds.name, "train_images": len(x_train), "validation_images": len(x_split["validation"]),
            "test_images": len(x_split["test"]), "results": results}


def report(out: dict, epochs: int) -> str:
    res = out["results"]
    base = next(iter(res.values()))["ms_per_step_interleaved"]
    fmt = lambda v, spec: "—" if v is None else format(v, spec)
    lines = []
    for split in SPLITS:
        lines += ["", f"{split} split ({out[f'{split}_images']} images; IWAE on the first "
                      f"{next(iter(res.values()))[split].get('iwae_n', 0)}), after {epochs} epochs each:", "",
                  "| --scale | ms/step (ratio) | bits/dim (-ELBO) | IWAE bits/dim | MSE | KL (nats) | "
                  "posterior sigma | scale at evaluation |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for scale, r in res.items():
            m = r[split]
            ms = r["ms_per_step_interleaved"]
            lines.append(f"| {scale} | {ms:.1f} ({ms / base:.2f}) | "
                         f"{m['bits_per_dim']:.4f} | {fmt(m.get('iwae_bits_per_dim'), '.4f')} | {m['mse']:.5f} | "
                         f"{m['kl']:.1f} | {m['posterior_sigma_median']:.3f} | {m['decoder_scale_median']:.4f} |")
    exact = {scale: r["exact_scale"] for scale, r in res.items() if "exact_scale" in r}
    if exact:
        lines += ["", "one-scale variants: the exact maximum-likelihood scale on training images, at the final "
                      "weights, and what it would change in the validation -ELBO:", "",
                  "| --scale | scale at evaluation | exact ML scale | validation bits/dim change |",
                  "|---|---:|---:|---:|"]
        for scale, e in exact.items():
            lines.append(f"| {scale} | {e['evaluation_scale']:.4f} | {e['exact_scale']:.4f} | "
                         f"{e['bits_per_dim_change']:+.4f} |")
    if any(r["samples"] for r in res.values()):
        for split in SPLITS:
            first = next(r["samples"][split] for r in res.values() if r["samples"])
            lines += ["", f"{first['sample_n']} samples from N(0, I) against {split} images, in the classifier's "
                          f"features (k = {first['sample_k']}; the floor: {split} against training images, FD "
                          f"{first['sample_floor_fd']:.1f}, precision {first['sample_floor_precision']:.3f}, "
                          f"recall {first['sample_floor_recall']:.3f}):", "",
                      "| --scale | FD | precision | recall |", "|---|---:|---:|---:|"]
            for scale, r in res.items():
                f = (r["samples"] or {}).get(split, {})
                lines.append(f"| {scale} | {fmt(f.get('sample_fd'), '.1f')} | "
                             f"{fmt(f.get('sample_precision'), '.3f')} | {fmt(f.get('sample_recall'), '.3f')} |")
    else:
        lines += ["", "no sample figures (no classifier, or --samples 0)"]
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
    p.add_argument("--samples", type=int, default=5000, help="samples (and images of each side) for the sample "
                                                             "figures; 0: none")
    p.add_argument("--fit-images", type=int, default=5000, help="training images the exact ML scale is fitted on")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default="fashion-mnist", help="data set name or path (images conformed to 1x28x28)")
    p.add_argument("--train-subset", type=int, default=0, help="train on the first N training images (0: all)")
    p.add_argument("--eval-subset", type=int, default=0, help="evaluate on the first N images of each split (0: all)")
    p.add_argument("--checkpoints", help="save each variant's model here (a folder per --scale), and load it from "
                                         "there instead of training where a run with the same settings saved it")
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
