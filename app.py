"""vae-explorer: explore the latent spaces of VAEs and VQ-VAEs in the browser.

    python app.py [--checkpoints DIR ...] [--images PATH] [--sample N] [--device auto] [--port 7860] [--share]
                  [--playground-runs 2] [--playground-minutes 10] [--no-playground]
"""
import argparse
import os

# isort: off
from explorer.service import gpu  # noqa: F401  first: on a ZeroGPU Space it imports spaces before torch does
# isort: on
from explorer.errors import DeviceUnavailable, ImageSetError
from explorer.models.device import DEVICE_HELP
from explorer.playground.pool import PlaygroundPool
from explorer.service.explorer import Explorer
from explorer.web.launch import serve


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"],
                   help="folders of checkpoint folders (or checkpoint folders) to offer")
    p.add_argument("--images", metavar="PATH",
                   help="images for every model's map, neighbours, selection, Compare and codes, converted to each "
                        "model's input: a folder of images (class sub-folders become labels), an .npz with x (and "
                        "optional y), a folder of IDX files, or a data set name (fashion-mnist, mnist, digits); "
                        "default: each checkpoint's own test split")
    p.add_argument("--sample", type=int, metavar="N",
                   help="show a random N of the images (seeded: the same N every run), for a large image set")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"))
    p.add_argument("--share", action="store_true", help="make a public gradio.live link")
    p.add_argument("--playground-runs", type=int, default=2, metavar="N",
                   help="playground runs that train at once; more wait in line (default 2, for 2 cores)")
    p.add_argument("--playground-minutes", type=float, default=10.0, metavar="M",
                   help="a playground run stops after this many minutes (default 10)")
    p.add_argument("--no-playground", action="store_true",
                   help="no Playground tab (a demo that only serves checkpoints)")
    args = p.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        p.error("--sample takes a positive number of images")
    if args.playground_runs < 1 or args.playground_minutes <= 0:
        p.error("--playground-runs must be at least 1 and --playground-minutes positive (or use --no-playground)")
    try:
        ex = Explorer(args.checkpoints, images=args.images, sample=args.sample, background=True, device=args.device)
    except (DeviceUnavailable, ImageSetError) as e:
        p.error(str(e))  # the message and the usage, exit code 2
    pool = None if args.no_playground else PlaygroundPool(args.playground_runs, 60 * args.playground_minutes)
    serve(ex, args.host, args.port, args.share, playground=pool)


if __name__ == "__main__":
    main()
