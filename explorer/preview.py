"""Train a preview decoder for a slow VAE: a small convolutional decoder that the app shows at once while the full
decode runs, and that the static site ships where the full decoder is too large for a page.

    python -m explorer.precompute checkpoints/my-vae --images my_images.npz     # first: the map's latents, cached
    python -m explorer.preview checkpoints/my-vae --images my_images.npz        # then: preview.safetensors + .json
    python -m explorer.preview checkpoints/my-vae --minutes 3                   # a shorter budget (default 10)

It is fitted to the full decoder's images of the cached latents (or to the images themselves when decoding them all
would take too long; preview.json says which) and its fidelity is the PSNR against the full decoder on held-out
latents, recorded in preview.json and shown in the app's labels.
"""
import argparse
import sys

from explorer.errors import UserError
from explorer.service.explorer import Explorer
from explorer.service.preview import MINUTES, train_preview


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="the VAE's model folder")
    p.add_argument("--images", metavar="PATH", help="the images its map shows, as app.py --images takes them")
    p.add_argument("--minutes", type=float, default=MINUTES, help=f"training budget (default {MINUTES:g})")
    args = p.parse_args(argv)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    try:
        ex = Explorer([args.checkpoint], images=args.images, log=log)
        names = ex.store.names("vae")
        if len(names) != 1:
            raise UserError(f"{args.checkpoint} is not one VAE's model folder (found VAEs: {names or 'none'})")
        flag = f" --images {args.images}" if args.images else ""
        path = train_preview(ex.store, names[0], args.minutes, log, flag)
    except UserError as e:
        p.exit(2, f"preview: {e}\n")
    print(path.read_text())
    print(f"written: {path} and {path.with_suffix('.safetensors').name}")


if __name__ == "__main__":
    main()
