"""How soon a new model's first map is drawn: page open to the first map, beside page open to UMAP's map.

    python -m benchmarks.first_map_benchmark [--images 3000] [--size 28] [--checkpoint DIR] [--json out.json]

A new model (a fresh copy of --checkpoint, default an untrained conv VAE with a 16-number latent made here) and
--images images (the 8x8 digits, resized to --size and repeated with a little noise, as an .npz), with no cache
anywhere (a fresh folder for the checkpoint and for $VAE_EXPLORER_CACHE): `python app.py --images` is started,
headless Chromium opens the page, and two times are taken from page.goto: the first map drawn (the plot's
data-ready, its key naming the map: "|pca" for the linear map) and the map switched to UMAP (the key ends in
"|umap"; the reference: what a newcomer waited for before the linear map came first). The machine (CPU name,
native bf16) is printed with them.

Goal: a new model with 3,000 images and no cache: a map drawn <= 15 s after the page opens.
"""
import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe, machine
from tests.launch import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

GOAL_FIRST_MAP_S = 15.0
READY = "#latent-map .vx-plot[data-ready]"
KEY_JS = "() => (document.querySelector('#latent-map .vx-plot') || {dataset: {}}).dataset.key || ''"


def make_images(n: int, size: int, path: Path, seed: int = 0) -> Path:
    """n grey size x size images (the digits resized, repeated with noise) and their labels, as an .npz."""
    from PIL import Image

    from vae_core.data import load_dataset

    ds = load_dataset("digits", log=lambda *a: None)
    base = np.concatenate([ds.x_train, ds.x_test])[:, 0]
    labels = np.concatenate([ds.y_train, ds.y_test])
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), n)
    big = np.stack([np.asarray(Image.fromarray(base[i]).resize((size, size), Image.BILINEAR)) for i in pick])
    noisy = np.clip(big.astype(np.int16) + rng.integers(-12, 13, big.shape), 0, 255).astype(np.uint8)
    np.savez(path, x=noisy[:, None], y=labels[pick])
    return path


def make_model(folder: Path, size: int) -> Path:
    """An untrained conv VAE for grey size x size images with a 16-number latent (its map needs UMAP)."""
    from vae_core import Config, build_model, save_checkpoint

    cfg = Config(model="vae", data="digits", channels=1, image_size=size, latent_dim=16, width=32)
    save_checkpoint(folder, build_model(cfg).eval(), cfg)
    return folder


def measure(n: int, size: int, checkpoint: Path | None = None, env: dict | None = None,
            timeout_s: float = 3600) -> dict:
    """Page open -> first map, and -> UMAP's map, for a new model and n images without any cache."""
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="first-map-"))
    try:
        models = work / "models"
        if checkpoint:
            shutil.copytree(checkpoint, models / Path(checkpoint).name, ignore=shutil.ignore_patterns("projections"))
        else:
            make_model(models / "new-vae", size)
        images = make_images(n, size, work / "images.npz")
        env = {"VAE_EXPLORER_CACHE": str(work / "cache"), "GRADIO_TEMP_DIR": str(work / "gradio"), **(env or {})}
        proc, url, start_s = start_app([models], work / "app.log", env, timeout=600,
                                       args=("--images", str(images), "--no-playground"))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t0 = time.perf_counter()
                page.goto(url, timeout=timeout_s * 1000)
                page.wait_for_selector(READY, timeout=timeout_s * 1000)
                first_s, first_key = time.perf_counter() - t0, page.evaluate(KEY_JS)
                page.wait_for_function(f"() => ({KEY_JS})().endsWith('|umap')", timeout=timeout_s * 1000)
                umap_s = time.perf_counter() - t0
                note = page.evaluate("() => document.querySelector('#latent-map .vx-plot-note').textContent")
                browser.close()
        finally:
            stop_app(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"images": n, "size": size, "start_to_serving_s": round(start_s, 2), "first_map_s": round(first_s, 2),
            "first_map": first_key.rpartition("|")[2], "umap_map_s": round(umap_s, 2), "note_after": note,
            "goal_first_map_s": GOAL_FIRST_MAP_S}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=3000, help="images to map (default 3000)")
    p.add_argument("--size", type=int, default=28, help="their side in pixels (default 28)")
    p.add_argument("--checkpoint", type=Path, help="a model folder to copy as the new model (default: made here)")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    m = machine()
    out = {"machine": m, **measure(args.images, args.size, args.checkpoint)}
    print(describe(m))
    print(f"{args.images} images of {args.size}x{args.size}, a new model, no cache; from page open:")
    print(f"  first map drawn ({out['first_map']}): {out['first_map_s']:.1f} s  (goal <= {GOAL_FIRST_MAP_S:g} s)")
    print(f"  UMAP's map drawn (reference):  {out['umap_map_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
