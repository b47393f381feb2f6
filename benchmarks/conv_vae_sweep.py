"""What makes the default conv VAE beat the reference MLP VAE in the same wall-clock time on this CPU?

    python benchmarks/conv_vae_sweep.py --seconds 60

Trains the reference of train_benchmark.py, the default conv VAE, and the default with one thing taken away at a
time (bf16 and channels-last, the lr warm-down, batch 64 and lr 3e-3, the narrow encoder), with the same loop,
data order and budget, then prints train images/s and -ELBO on the validation split (held out of the training
images as vae_core.train holds it out: the encoder width and the other defaults are chosen on it, the test split
is left for the reported figures) side by side with the reference's.
All conv VAEs: latent 16, Bernoulli likelihood, trained as train_benchmark.as_vae_core_trains describes.
"""
import math
import sys

import torch
from torch import nn

from benchmarks import train_benchmark as tb
from vae_core.config import Config
from vae_core.data import hold_out, load_dataset, validation_size
from vae_core.evaluation.report import evaluate
from vae_core.models import VAE
from vae_core.models.nets import conv_decoder, conv_encoder, down4
from vae_core.training.precision import training_model

K = 16


def default(**changes) -> Config:
    return Config(arch="conv", latent_dim=K, likelihood="bernoulli", **changes)


def wide_body(cfg: Config) -> VAE:
    """The body before 0.2.0: a 3x3 convolution at H/4 each way, and an encoder as wide as the decoder."""
    model, w = VAE(cfg), cfg.width
    model.encoder = nn.Sequential(conv_encoder(1, w, 2 * w), nn.ReLU(), nn.Flatten(), nn.Linear(2 * w * 49, 2 * K))
    model.decoder = nn.Sequential(nn.Linear(K, 2 * w * 49), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
                                  conv_decoder(2 * w, w, 1))
    return model


def wide_encoder(cfg: Config) -> VAE:
    """The default with an encoder as wide as the decoder."""
    model, w = VAE(cfg), cfg.width
    model.encoder = nn.Sequential(*down4(1, w), nn.ReLU(), nn.Flatten(), nn.Linear(2 * w * 49, 2 * K))
    return model


def candidate(cfg: Config, body=None) -> tuple:
    build, loss, settings = tb.as_vae_core_trains(cfg)
    if body is not None:
        build = lambda: training_model(body(cfg), cfg, torch.device("cpu"))
    return build, loss, settings


CANDIDATES = {  # name -> (build, loss on a batch, train_for settings)
    "default conv VAE": candidate(default()),
    "default, float32": candidate(default(amp=False)),
    "default, constant lr": candidate(default(warmdown=0.0)),
    "default, batch 128, lr 1e-3": candidate(default(batch_size=128, lr=1e-3)),
    "default, lr 2e-3": candidate(default(lr=2e-3)),
    "default, encoder as wide as the decoder": candidate(default(), wide_encoder),
    "default body before 0.2.0 (3x3 convs, wide encoder)": candidate(default(), wide_body),
    "before 0.2.0: that body, float32, batch 128, constant lr 1e-3":
        candidate(default(amp=False, batch_size=128, lr=1e-3, warmdown=0.0), wide_body),
}


def main(argv=None) -> list[dict]:
    parser = tb.budget_arguments(__doc__)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES), metavar="NAME",
                        help="train only these candidates (beside the reference); default: all")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=tb.SEED, log=lambda m: None)
    ds = hold_out(ds, validation_size(len(ds.x_train)), Config().seed)  # vae_core.train's validation split
    # --test-subset (train_benchmark's flag) caps the validation images here
    x_train, x_val = ds.x_train[:args.train_subset or None], ds.x_val[:args.test_subset or None]
    rows = []
    for name, (build, loss_fn, settings) in {"reference (pytorch/examples VAE)": tb.as_the_example_trains(),
                                             **{c: CANDIDATES[c] for c in args.candidates}}.items():
        ref = not rows
        tb.warm_up(build, loss_fn, x_train, batch=settings["batch"])
        torch.manual_seed(tb.SEED)
        model = build()
        r = tb.train_for(model, loss_fn, x_train, args.seconds, **settings)
        m = tb.evaluate_reference(model, x_val) if ref else evaluate(model, x_val, batch_size=tb.EVAL_BATCH,
                                                                       seed=tb.SEED)
        rows.append({"name": name, "batch": settings["batch"], "images_per_sec": r["images_per_sec"],
                     "epochs": r["train_images"] / len(x_train), "neg_elbo": m["neg_elbo"],
                     "parameters": sum(q.numel() for q in model.parameters())})
        print(f"{name}: done", file=sys.stderr, flush=True)
    base = rows[0]
    print("| model | params | batch | train images/s | vs reference | epochs | validation neg ELBO | minus reference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['parameters']} | {r['batch']} | {r['images_per_sec']:.0f} | "
              f"{r['images_per_sec'] / base['images_per_sec']:.2f} | {r['epochs']:.1f} | {r['neg_elbo']:.2f} | "
              f"{r['neg_elbo'] - base['neg_elbo']:+.2f} |")
    assert all(math.isfinite(r["neg_elbo"]) for r in rows)
    return rows


if __name__ == "__main__":
    main()
