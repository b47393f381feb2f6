"""Which convolutional VAE body beats the reference MLP VAE in the same wall-clock time on this CPU?

    python benchmarks/conv_vae_sweep.py --seconds 60

The default conv VAE does not yet (see train_benchmark.py). This trains the reference of train_benchmark.py and a
few candidate bodies, each with its own Adam learning rate, with the same loop, data order and budget, then prints
train images/s and test -ELBO side by side with the reference's. All candidates: latent 16, Bernoulli likelihood.
"""
import math
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import train_benchmark as tb

from vae_core.config import Config
from vae_core.data import load_dataset
from vae_core.evaluate import evaluate
from vae_core.models import VAE

K = 16


def with_body(encoder: list[nn.Module], decoder: list[nn.Module]) -> VAE:
    """A Bernoulli VAE (latent K, 1x28x28) with the given encoder -> (2K) and decoder -> logits bodies."""
    model = VAE(Config(arch="conv", latent_dim=K, likelihood="bernoulli"))
    model.encoder, model.decoder = nn.Sequential(*encoder), nn.Sequential(*decoder)
    return model


def lean(w: int) -> VAE:
    """Two stride-2 4x4 convolutions and a linear layer each way (the default without its 3x3 convolution)."""
    f = 2 * w * 7 * 7
    return with_body([nn.Conv2d(1, w, 4, 2, 1), nn.ReLU(), nn.Conv2d(w, 2 * w, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                      nn.Linear(f, 2 * K)],
                     [nn.Linear(K, f), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)), nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
                      nn.ReLU(), nn.ConvTranspose2d(w, 1, 4, 2, 1)])


def patches(c: int) -> VAE:
    """One 4x4 stride-4 convolution (7x7 patches of c channels) and a linear layer each way."""
    f = c * 7 * 7
    return with_body([nn.Conv2d(1, c, 4, 4), nn.ReLU(), nn.Flatten(), nn.Linear(f, 2 * K)],
                     [nn.Linear(K, f), nn.ReLU(), nn.Unflatten(1, (c, 7, 7)), nn.ConvTranspose2d(c, 1, 4, 4)])


CANDIDATES = {  # name -> (build, Adam learning rate)
    "default conv VAE (width 32)": (lambda: VAE(Config(arch="conv", latent_dim=K, likelihood="bernoulli")), 1e-3),
    "lean, width 32": (lambda: lean(32), 2e-3),
    "lean, width 16": (lambda: lean(16), 3e-3),
    "4x4 patches, 64 channels": (lambda: patches(64), 2e-3),
}


def main(argv=None) -> list[dict]:
    args = tb.budget_arguments(__doc__).parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=tb.SEED, log=lambda m: None)
    x_train, x_test = ds.x_train[:args.train_subset or None], ds.x_test[:args.test_subset or None]
    loss = lambda m, x: m.loss(x)["loss"]
    rows = []
    for name, (build, lr) in {"reference (pytorch/examples VAE)": (tb.ReferenceVAE, tb.LR), **CANDIDATES}.items():
        ref = build is tb.ReferenceVAE
        loss_fn = tb.reference_loss if ref else loss
        tb.warm_up(build, loss_fn, x_train)
        torch.manual_seed(tb.SEED)
        model = build()
        r = tb.train_for(model, loss_fn, x_train, args.seconds, lr=lr)
        m = tb.evaluate_reference(model, x_test) if ref else evaluate(model, x_test, batch_size=tb.EVAL_BATCH,
                                                                         seed=tb.SEED)
        rows.append({"name": name, "lr": lr, "images_per_sec": r["images_per_sec"],
                     "epochs": r["train_images"] / len(x_train), "neg_elbo": m["neg_elbo"],
                     "parameters": sum(q.numel() for q in model.parameters())})
        print(f"{name}: done", file=sys.stderr, flush=True)
    base = rows[0]
    print("| model | lr | params | train images/s | vs reference | epochs | test neg ELBO | minus reference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['lr']:g} | {r['parameters']} | {r['images_per_sec']:.0f} | "
              f"{r['images_per_sec'] / base['images_per_sec']:.2f} | {r['epochs']:.1f} | {r['neg_elbo']:.2f} | "
              f"{r['neg_elbo'] - base['neg_elbo']:+.2f} |")
    assert all(math.isfinite(r["neg_elbo"]) for r in rows)
    return rows


if __name__ == "__main__":
    main()
