"""Export the explorer as a static site that decodes in the visitor's browser (onnxruntime-web): no Python server.

    python -m explorer.export_site --checkpoints checkpoints/ --out site/
    python -m explorer.export_site --checkpoints my-vae/ --images my_images.npz --out site/ --max-mb 25
    python -m explorer.export_site --checkpoints sd-vae/ --images photos/ --out site/ --device cuda
    python -m http.server -d site/ 8000      # then open http://localhost:8000

--device is where the images are encoded for the maps; the ONNX parts are always traced on the CPU in float32.

From Python, over your own modules (as explorer.launch takes them):

    from explorer.export_site import export_site
    export_site(models={"my-vae": (module, (1, 28, 28))}, images=x, labels=y, out="site/")
"""
import argparse
import os
import sys

from explorer.errors import UserError
from explorer.models.device import DEVICE_HELP
from explorer.models.onnx_parts import PartMismatch
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet
from explorer.site.export import SiteReport
from explorer.site.export import export_site as export
from explorer.site.vendor import VendorError


def export_site(out, models: dict | None = None, images=None, labels=None, label_names: list[str] | None = None,
                checkpoints=(), force: bool = False, max_mb: float | None = None, log=print,
                device: str = "auto") -> SiteReport:
    """Write a static site of `models` ({name: (module, (C, H, W))}) and folders of `checkpoints` into `out`,
    showing `images` (a path, or an array (N, C, H, W) uint8 or floats in [0, 1], with optional integer `labels`);
    `device` encodes the images for the maps (auto, cpu, cuda, cuda:N, mps)."""
    if images is not None and not isinstance(images, (str, os.PathLike)):
        images = ImageSet.from_arrays(images, labels, label_names)
    ex = Explorer(list(checkpoints), images=images, models=models, log=log, device=device)
    return export(ex, out, force=force, max_mb=max_mb, log=log)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"],
                   help="folders of model folders (or model folders) to export, as app.py takes them")
    p.add_argument("--images", metavar="PATH", help="the images every model's map shows, as app.py --images takes "
                                                    "them; default: each checkpoint's own test split")
    p.add_argument("--out", required=True, help="the site's folder (new, or empty; see --force)")
    p.add_argument("--force", action="store_true", help="replace what is in --out")
    p.add_argument("--max-mb", type=float, metavar="MB",
                   help="refuse a site larger than this (onnxruntime-web's files not counted)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP + "; it encodes the images for the maps (the ONNX "
                                                                  "parts are traced on the CPU)")
    args = p.parse_args(argv)
    try:
        report = export_site(args.out, images=args.images, checkpoints=args.checkpoints, force=args.force,
                             max_mb=args.max_mb, log=lambda *a: print(*a, file=sys.stderr, flush=True),
                             device=args.device)
    except (UserError, PartMismatch, VendorError) as e:  # UserError: images, models and folders it cannot take
        p.exit(2, f"export_site: {e}\n")
    for f, b in report.sizes.items():
        print(f"{b / 1e6:9.3f} MB  {f}")
    print(f"{report.megabytes():.1f} MB besides the libraries in lib/ ({report.megabytes(True):.1f} MB in all), "
          f"{len(report.models)} models, {report.seconds:.0f} s: {report.out}")


if __name__ == "__main__":
    main()
