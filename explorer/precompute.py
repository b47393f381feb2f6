"""Compute and cache the projections of checkpoints, so that the app opens them at once (no encoding, no UMAP).

    python -m explorer.precompute checkpoints/my-vae checkpoints/my-vqvae     # checkpoint folders
    python -m explorer.precompute checkpoints/                                # or folders of them
    python -m explorer.precompute checkpoints/ --images my_images.npz         # the maps of --images, as app.py shows
    python -m explorer.precompute checkpoints/ --images big_folder --sample 5000   # as app.py --sample 5000 shows
"""
import argparse
import sys

from explorer.errors import ImageSetError
from explorer.service.explorer import Explorer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="*", default=["checkpoints"], help="model folders, or folders of them")
    p.add_argument("--images", metavar="PATH", help="the images app.py --images PATH shows (its four forms)")
    p.add_argument("--sample", type=int, metavar="N", help="a random N of the images, as app.py --sample N shows")
    args = p.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        p.error("--sample takes a positive number of images")
    try:
        ex = Explorer(args.folders, images=args.images, sample=args.sample)
    except ImageSetError as e:
        p.error(str(e))
    for name in ex.store.names("vae") + ex.store.names("vqvae"):
        def progress(fraction: float, what: str, name=name):
            print(f"{name}: {what}", file=sys.stderr, flush=True)
        open_view = ex.store.latent_view if ex.store.found(name).kind == "vae" else ex.store.codebook_view
        open_view(name, progress=progress)
        print(f"{name}: projection cached")


if __name__ == "__main__":
    main()
