"""Sample grids of the default models for the README: docs/samples-<checkpoint>.png, one per model.

    PYTHONPATH=. python scripts/samples.py [--checkpoints checkpoints/fashion-vae ...] [--n 64] [--seed 0]

A VAE decodes z from its fitted prior (N(0, I) when it has none); a VQ-VAE decodes a code grid drawn from its
prior (python -m vae_core.train_prior).
"""
import argparse
from pathlib import Path

import torch

import vae_core
from vae_core.data.images import save_grid

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = [ROOT / "checkpoints" / name for name in ("fashion-vae", "fashion-vae-2d", "fashion-vqvae")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", type=Path, default=DEFAULTS)
    p.add_argument("--n", type=int, default=64, help="samples per model, in rows of 8")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    args = p.parse_args(argv)
    for folder in args.checkpoints:
        model = vae_core.load(folder)
        path = args.out / f"samples-{folder.name.removeprefix('fashion-')}.png"
        save_grid(model.sample(args.n, torch.Generator().manual_seed(args.seed)), path, nrow=8)
        print(f"{folder.name}: {path}")


if __name__ == "__main__":
    main()
