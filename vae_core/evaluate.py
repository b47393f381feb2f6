"""Evaluate a checkpoint on a data set's test split.

    python -m vae_core.evaluate checkpoints/fashion-vae [--json]          about a minute: a quick look
    python -m vae_core.evaluate checkpoints/fashion-vae --full --json     the protocol of the README's table

The figures (vae_core/evaluation/report.py, where each is defined): the -ELBO and its terms in nats per image, and in
bits/dim where p(x|z) is a code length; the IWAE bound on -log p(x) with --iwae-k samples on the first --iwae-n
images, beside the -ELBO over exactly them (neg_elbo_iwae_subset); MSE and PSNR of the reconstruction and MSE of
E[x|z] (mse_expectation); a VQ-VAE's codebook usage; a VAE with a fitted prior the same bounds under it (*_fitted).
Each mean comes with its standard error over the images (key_se).

By default the figures cover the first --test-n test images with a smaller IWAE bound and fewer samples, so that
a shipped checkpoint answers in about a minute on a 2-core CPU (docs/benchmarks.md); --full is the protocol the
README's table reports: every test image, the IWAE bound with k = 1000 on the first 1,000, 5,000 samples. A flag
given beside --full overrides its value. The output's "protocol" names which one ran.

Sample quality (vae_core.evaluation.samples), for a model that can sample: the Frechet distance and k-NN
precision/recall of --sample-n samples against the test split in a classifier's features (sample_fd,
sample_precision, sample_recall), beside the test split against as many training images (sample_floor_fd, ...).
The classifier is the data set's (vae_core.evaluation.classifier_lookup; --classifier FOLDER to choose one); without
one, or without labels to train one on, sample_note says why the figures are skipped. --samples-only computes just
these, and --update FILE merges what is computed into a JSON file such as the checkpoint's eval.json:
    python -m vae_core.evaluate checkpoints/fashion-vae --full --samples-only --update checkpoints/fashion-vae/eval.json
"""
import argparse
import ctypes
import json
import sys

import torch

from .checkpoint import CheckpointError, load
from .data import DataError, load_dataset
from .evaluation.classifier import ClassifierError
from .evaluation.classifier_lookup import find_classifier
from .evaluation.report import evaluate
from .evaluation.samples import merge_into, sample_metrics
from .training.device import pick_device

# the settings of each protocol; test_n 0: every test image
QUICK = {"test_n": 2000, "iwae_k": 100, "iwae_n": 50, "sample_n": 1000}
FULL = {"test_n": 0, "iwae_k": 1000, "iwae_n": 1000, "sample_n": 5000}


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed memory instead of handing it back to the kernel after each chunk.

    The IWAE bound allocates and frees the same tens of megabytes for every chunk of decodes; handed back and faulted
    in again each time, that cost a large share of `evaluate`'s time in the kernel on a 2-core CPU
    (docs/benchmarks.md). Elsewhere (no glibc) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters (malloc.h)
    libc.mallopt(m_mmap_threshold, 1 << 30)  # allocations up to 1 GiB come from the heap, not from mmap
    libc.mallopt(m_trim_threshold, 1 << 30)  # and up to 1 GiB of free heap stays mapped


def protocol(args: argparse.Namespace) -> str:
    """"full" or "quick" when the settings are that protocol's, else "custom"."""
    settings = {key: getattr(args, key) for key in FULL}
    return "full" if settings == FULL else "quick" if settings == QUICK else "custom"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vae_core.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--full", action="store_true",
                   help="the full protocol of the README's table: " + ", ".join(f"{k} {v}" for k, v in FULL.items()))
    p.add_argument("--data", help="data set name or path (default: the one the model was trained on)")
    p.add_argument("--data-dir", default="", help="folder to look for named data sets in first")
    p.add_argument("--test-n", type=int, help=f"the first N test images the figures cover (0: all; default "
                                              f"{QUICK['test_n']}, --full all)")
    p.add_argument("--iwae-k", type=int, help=f"importance samples for the IWAE bound (0: skip; default "
                                              f"{QUICK['iwae_k']}, --full {FULL['iwae_k']})")
    p.add_argument("--iwae-n", type=int, help=f"the first N test images the IWAE bound (and neg_elbo_iwae_subset) is "
                                              f"computed on (default {QUICK['iwae_n']}, --full {FULL['iwae_n']})")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--device", default="auto")
    p.add_argument("--sample-n", type=int, help=f"samples (and test and training images) for the sample-quality "
                                                f"figures (0: skip them; default {QUICK['sample_n']}, --full "
                                                f"{FULL['sample_n']})")
    p.add_argument("--classifier", help="classifier folder whose features score the samples (default: the data "
                                        "set's, vae_core.evaluation.classifier_lookup)")
    p.add_argument("--samples-only", action="store_true",
                   help="compute only the sample-quality figures (not the test metrics or the IWAE bound)")
    p.add_argument("--update", metavar="FILE", help="also merge the figures into the JSON object in FILE (e.g. "
                                                    "the checkpoint's eval.json), keeping its other keys")
    p.add_argument("--json", action="store_true", help="print one flat JSON object")
    args = p.parse_args(argv)
    for key, value in (FULL if args.full else QUICK).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.samples_only and args.sample_n < 1:
        p.error("--samples-only needs --sample-n >= 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = pick_device(args.device)
    keep_freed_memory()
    try:
        model = load(args.checkpoint, device)
        cfg = model.cfg
        ds = load_dataset(args.data or cfg.data, args.data_dir or cfg.data_dir, cfg.channels, cfg.image_size,
                          seed=cfg.seed, log=lambda m: None if args.json else print(m))
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    if cfg.model == "prior":
        print(f"error: {args.checkpoint} is a prior: evaluate the VQ-VAE folder that holds it", file=sys.stderr)
        sys.exit(1)
    if getattr(model, "prior_problem", None):  # a stale prior: no bound until it is retrained
        print(f"note: {model.prior_problem}", file=sys.stderr)
    if cfg.arch == "conv":  # oneDNN's and cuDNN's fast float32 conv kernels are NHWC (docs/benchmarks.md)
        model = model.to(memory_format=torch.channels_last)
    x_test = ds.x_test[:args.test_n] if args.test_n > 0 else ds.x_test
    metrics = {"model": cfg.model} if args.samples_only else evaluate(
        model, x_test, args.batch_size, args.iwae_k, args.iwae_n, device=device, progress=True)
    metrics["protocol"] = protocol(args)
    if args.sample_n > 0:
        try:
            clf, note = find_classifier(args.data or cfg.data, (cfg.channels, cfg.image_size, cfg.image_size),
                                        args.checkpoint, args.classifier, ds.y_train is not None, device)
        except ClassifierError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)
        metrics.update(sample_metrics(model, clf, note, ds.x_test, ds.x_train, args.sample_n))
        if "sample_note" in metrics and not args.json:
            print(f"note: {metrics['sample_note']}", file=sys.stderr)
    if args.update:
        merge_into(args.update, metrics)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(ds.describe())
        for k, v in metrics.items():
            print(f"{k:>14}: {v:.4f}" if isinstance(v, float) else f"{k:>14}: {v}")
    return metrics


if __name__ == "__main__":
    main()
