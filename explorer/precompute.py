"""Compute and cache the projections of checkpoints, so that the app opens them at once (no encoding, no UMAP).

    python -m explorer.precompute checkpoints/my-vae checkpoints/my-vqvae     # checkpoint folders
    python -m explorer.precompute checkpoints/                                # or folders of them
    python -m explorer.precompute checkpoints/ --images my_images.npz         # the maps of --images, as app.py shows
    python -m explorer.precompute checkpoints/fashion-vae --parquet out/      # and each map as out/<model>.parquet
    python -m explorer.precompute checkpoints/ --device cuda                  # encode the images on a GPU
    python -m explorer.precompute checkpoints/ --images big_folder --sample 5000   # as app.py --sample 5000 shows

A map's Parquet (explorer/service/parquet_map.py) opens in Embedding Atlas (`embedding-atlas out/fashion-vae.parquet
--x x --y y`), in pandas, and in the app (`--images out/fashion-vae.parquet`: that model's map without encoding).
"""
import argparse
import sys
from pathlib import Path

from explorer.errors import UserError
from explorer.models.device import DEVICE_HELP
from explorer.service.explorer import Explorer
from explorer.service.parquet_map import write_map


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="*", default=["checkpoints"], help="model folders, or folders of them")
    p.add_argument("--images", metavar="PATH", help="the images app.py --images PATH shows (its five forms)")
    p.add_argument("--sample", type=int, metavar="N", help="a random N of the images, as app.py --sample N shows")
    p.add_argument("--parquet", metavar="DIR", help="also write each model's map as DIR/<model>.parquet")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    args = p.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        p.error("--sample takes a positive number of images")
    try:
        ex = Explorer(args.folders, images=args.images, sample=args.sample, device=args.device)
    except UserError as e:  # --images, --sample or --device
        p.error(str(e))
    for name in ex.store.names("vae") + ex.store.names("vqvae"):
        def progress(fraction: float, what: str, name=name):
            print(f"{name}: {what}", file=sys.stderr, flush=True)
        open_view = ex.store.latent_view if ex.store.found(name).kind == "vae" else ex.store.codebook_view
        try:
            open_view(name, progress=progress)
        except UserError as e:  # a model too large for the device, its data missing: the message, not a traceback
            p.exit(2, f"precompute: {e}\n")
        print(f"{name}: projection cached")
        if args.parquet:
            out = write_map(ex.store, name, Path(args.parquet) / f"{name.replace('/', '-')}.parquet", progress)
            print(f"{name}: map written to {out}")


if __name__ == "__main__":
    main()
