"""Compute and cache the projections of checkpoints, so that the app opens them at once (no encoding, no UMAP).

    python -m explorer.precompute checkpoints/my-vae checkpoints/my-vqvae     # checkpoint folders
    python -m explorer.precompute checkpoints/                                # or folders of them
"""
import sys

from explorer.service.explorer import Explorer


def main(argv=None):
    folders = (argv if argv is not None else sys.argv[1:]) or ["checkpoints"]
    ex = Explorer(folders)
    for name in ex.registry.checkpoints:
        def progress(fraction: float, what: str, name=name):
            print(f"{name}: {what}", file=sys.stderr, flush=True)
        open_view = ex.latent_view if ex.registry.get(name).kind == "vae" else ex.codebook_view
        open_view(name, progress=progress)
        print(f"{name}: projection cached")


if __name__ == "__main__":
    main()
