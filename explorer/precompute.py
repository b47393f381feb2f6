"""Compute and cache the projections of every checkpoint in some folders, so the app starts with nothing to fit.

    python -m explorer.precompute checkpoints/
"""
import sys

from .service import Explorer


def main(argv=None):
    folders = (argv if argv is not None else sys.argv[1:]) or ["checkpoints"]
    ex = Explorer(folders)
    for name in ex.registry.checkpoints:
        ex.latent_view(name) if ex.registry.get(name).kind == "vae" else ex.codebook_view(name)
        print(f"{name}: projection cached")


if __name__ == "__main__":
    main()
