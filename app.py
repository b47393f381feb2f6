"""vae-explorer: explore the latent spaces of VAEs and VQ-VAEs in the browser.

    python app.py [--checkpoints DIR ...] [--images PATH] [--port 7860] [--share]
"""
import argparse
import os

from explorer.errors import ImageSetError
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
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"))
    p.add_argument("--share", action="store_true", help="make a public gradio.live link")
    args = p.parse_args(argv)
    try:
        ex = Explorer(args.checkpoints, images=args.images)
    except ImageSetError as e:
        p.error(str(e))  # the message and the usage, exit code 2
    serve(ex, args.host, args.port, args.share)


if __name__ == "__main__":
    main()
