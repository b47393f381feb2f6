"""How fast the app answers a slider on 64 x 64 RGB models, beside the shipped 28 x 28 fashion-vae in the same run.

    python -m benchmarks.rgb64_benchmark [--interactions 40] [--images 200] [--calls 50] [--json out.json]

The models, written with random weights (seed 0) into a temporary folder (what is timed is the forward pass, which
the weights do not change):
- `rgb64-kl`: a diffusers AutoencoderKL with a realistic small body: block_out_channels (32, 64, 64),
  layers_per_block 1, 32 groups, latent 4 x 16 x 16 (1,024 numbers, mapped and moved flattened), 0.95 M parameters;
- `rgb64-conv`: vae_core's conv VAE at --channels 3 --image-size 64 (its defaults otherwise: width 32, latent 16).
Both are served by one `python app.py --checkpoints <tmp> --images <npz>` over --images synthetic 64 x 64 RGB
images; the reference is `python app.py` over the shipped checkpoints/ (its page opens on fashion-vae). The maps'
projection caches are written before the apps start, with a PCA standing in for UMAP (the map's method does not
change a slider's path: a slider decodes its latent, nothing else), so no UMAP runs.

Measured, per model: server side, Explorer.decode_latent (validation, decoder, PIL image) beside the bare decoder
forward, with 1 torch thread as the app runs (VAE_EXPLORER_THREADS, default 1); in headless Chromium, slider 0
moved to a random value (app_benchmark.slides: from the range input's `input` event to the new decoded image
drawn), the three pages in alternating rounds. Goal: the 64 x 64 models' slider -> image p95 <= 50 ms on the 2-core
machine.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.app_benchmark import open_page, slides, stats, timed
from benchmarks.machine import describe, machine
from tests.launch import CHROMIUM, CHROMIUM_ARGS, ROOT, start_app, stop_app

GOAL_P95_MS = 50.0
SIDE = 64
REFERENCE = "fashion-vae"
KL, CONV = "rgb64-kl", "rgb64-conv"
ROUNDS = 2
KL_BODY = {"down_block_types": ("DownEncoderBlock2D",) * 3, "up_block_types": ("UpDecoderBlock2D",) * 3,
           "block_out_channels": (32, 64, 64), "layers_per_block": 1, "norm_num_groups": 32, "latent_channels": 4,
           "sample_size": SIDE, "in_channels": 3, "out_channels": 3}


def blob_images(n: int, seed: int = 0) -> np.ndarray:
    """n smooth RGB images (N, 64, 64, 3) uint8: a coloured Gaussian blob on a coloured background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    out = np.empty((n, SIDE, SIDE, 3), dtype=np.float32)
    for i in range(n):
        cx, cy = rng.uniform(0.2, 0.8, 2)
        r = rng.uniform(0.1, 0.4)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
        out[i] = blob * rng.uniform(0, 1, 3) + (1 - blob) * rng.uniform(0, 1, 3)
    return (255 * out).round().astype(np.uint8)


def write_models(folder: Path, n_images: int) -> Path:
    """The two random-weight models in `folder`, the images beside them; returns the images' .npz."""
    import diffusers

    from vae_core import Config
    from vae_core.checkpoint import save_checkpoint
    from vae_core.models import build_model

    torch.manual_seed(0)
    diffusers.AutoencoderKL(**KL_BODY).save_pretrained(folder / "models" / KL)
    images = folder / "rgb64.npz"
    np.savez(images, x=blob_images(n_images), y=np.arange(n_images) % 5)
    cfg = Config(model="vae", arch="conv", channels=3, image_size=SIDE, data=str(images))
    save_checkpoint(folder / "models" / CONV, build_model(cfg), cfg)
    return images


def warm_caches(models: Path, images: Path):
    """Write each model's projection cache (PCA in place of UMAP, in this process only); the Explorer that did."""
    from explorer.service import projection
    from explorer.service.explorer import Explorer

    umap_2d = projection.umap_2d
    projection.umap_2d = lambda points, progress=None: projection.pca_2d(points)
    try:
        ex = Explorer([models], log=lambda *a: None, images=images)
        for name in (KL, CONV):
            ex.store.latent_view(name)
    finally:
        projection.umap_2d = umap_2d
    return ex


@torch.no_grad()
def bench_server(ex, name: str, calls: int) -> dict:
    """Explorer.decode_latent and the bare decoder forward, on the images' latents, `calls` of each."""
    latents = ex.store.latent_view(name).proj.latents
    model = ex.store.model(name)
    zs = [latents[i].tolist() for i in np.random.default_rng(0).integers(0, len(latents), calls)]
    it, tz = iter(zs), iter([torch.tensor(z, dtype=torch.float32)[None] for z in zs])
    for z in zs[:3]:
        ex.map.decode_latent(name, z)
    return {"latent_numbers": len(zs[0]), "decode_latent_ms": stats(timed(lambda: ex.map.decode_latent(name, next(it)),
                                                                           calls)),
            "forward_ms": stats(timed(lambda: model.decode_location(next(tz)), calls))}


def bench_browser(pages: dict[str, str], n: int) -> dict:
    """pages: {model: URL opening on it}; slider -> image, ROUNDS alternating rounds of n / ROUNDS moves each."""
    from playwright.sync_api import sync_playwright

    out = {label: {"ms": [], "misses": 0} for label in pages}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for url in pages.values():  # the first visit loads the model and its projection into the server
            open_page(browser, url)[0].close()
        for r in range(ROUNDS):
            for label, url in pages.items():
                page, _ = open_page(browser, url)
                ms, misses = slides(page, n // ROUNDS, np.random.default_rng(r))
                out[label]["ms"] += ms
                out[label]["misses"] += misses
                page.close()
        browser.close()
    return {label: {"slider_ms": stats(o["ms"]), "slider_misses": o["misses"], "slider_all_ms": o["ms"]}
            for label, o in out.items()}


WHAT = {REFERENCE: "fashion-vae (shipped), 1 x 28 x 28, latent 16: the reference",
        KL: "diffusers AutoencoderKL, 3 x 64 x 64, latent 4 x 16 x 16 (1,024)",
        CONV: "vae_core conv VAE, 3 x 64 x 64, latent 16"}


def table(r: dict) -> str:
    rows = ["| model | slider -> image p50 | p95 | moves (missed) | server decode_latent p50 | bare forward p50 |",
            "|---|---:|---:|---:|---:|---:|"]
    for name, what in WHAT.items():
        b, s = r["browser"][name], r["server"][name]
        rows.append(f"| {what} | {b['slider_ms']['median']:.1f} ms | **{b['slider_ms']['p95']:.1f} ms** | "
                    f"{b['slider_ms']['n']} ({b['slider_misses']}) | {s['decode_latent_ms']['median']:.1f} ms | "
                    f"{s['forward_ms']['median']:.1f} ms |")
    start, end = r["load_average"][0], r.get("load_average_end", (None,))[0]
    load = f"load {start:.1f} at the start" + (f", {end:.1f} at the end" if end is not None else "")
    busy = " (above 3: a busy machine)" if max(start, end or 0) > 3 else ""
    lines = [f"{describe(r['machine'])}; {load}{busy}", "", *rows, ""]
    for name in (KL, CONV):
        p95 = r["browser"][name]["slider_ms"]["p95"]
        lines.append(f"Goal: {name} slider -> image p95 <= {GOAL_P95_MS:g} ms: "
                     f"{'met' if p95 <= GOAL_P95_MS else 'NOT met'} ({p95:.1f} ms)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interactions", type=int, default=40, help="slider moves per model")
    p.add_argument("--images", type=int, default=200, help="synthetic 64 x 64 images for --images")
    p.add_argument("--calls", type=int, default=50, help="server-side decodes per model")
    p.add_argument("--no-browser", action="store_true", help="server side only")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--log", type=Path, default=Path("/tmp/rgb64_benchmark.log"), help="the apps' output")
    args = p.parse_args(argv)
    r = {"machine": machine(), "load_average": os.getloadavg(), "interactions": args.interactions,
         "images": args.images}
    if r["load_average"][0] > 3:
        print(f"note: load average {r['load_average'][0]:.1f}: the machine is busy", file=sys.stderr)
    threads = int(os.environ.get("VAE_EXPLORER_THREADS", "1"))  # as the app runs
    torch.set_num_threads(threads)
    r["torch_threads"] = threads
    with tempfile.TemporaryDirectory(prefix="rgb64-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        images = write_models(tmp, args.images)
        ex = warm_caches(tmp / "models", images)
        print(f"models and projections written in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        from explorer.service.explorer import Explorer

        ref = Explorer([ROOT / "checkpoints"], log=lambda *a: None)
        r["server"] = {REFERENCE: bench_server(ref, REFERENCE, args.calls),
                       **{name: bench_server(ex, name, args.calls) for name in (KL, CONV)}}
        if not args.no_browser:
            procs = []
            try:
                proc, ref_url, _ = start_app([ROOT / "checkpoints"], args.log)
                procs.append(proc)
                proc, url, _ = start_app([tmp / "models"], args.log, args=("--images", str(images)))
                procs.append(proc)
                r["browser"] = bench_browser({REFERENCE: f"{ref_url}?vae={REFERENCE}", KL: f"{url}?vae={KL}",
                                              CONV: f"{url}?vae={CONV}"}, args.interactions)
            finally:
                for proc in procs:
                    stop_app(proc)
    r["load_average_end"] = os.getloadavg()
    if "browser" in r:
        r["table"] = table(r)
        print(r["table"])
    else:
        print(json.dumps(r["server"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    return r


if __name__ == "__main__":
    main()
