"""The preview decoder's fidelity on a trained diffusers model, beside the full decoder's own reconstruction error:

    python -m benchmarks.preview_fidelity_benchmark --json benchmarks/results_preview_fidelity.json

1. Trains a small diffusers AutoencoderKL (block_out_channels 32-64-64, latent 4 x 16 x 16, 0.95 M parameters) on
   64 x 64 crops of scikit-learn's two sample photos (seed 0) for --train-minutes: mean squared error plus a small KL,
   as Stable Diffusion's VAE is trained.
2. Maps --images other crops (seed 1) with the explorer, as `python app.py --images` would.
3. Runs what `python -m explorer.preview` runs, with its default budget (--minutes): the preview is fitted on the
   map's latents, and its fidelity is measured on held-out latents of the map (the validation figure).
4. Reports on --test-images crops never seen by either (seed 2): PSNR of the preview against the full decoder (the
   goal: >= 25 dB), as the mean over images with its standard error, and the full decoder against the images (the
   reference: how good the model itself is), with both decoders' time for one latent.
"""
import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.device_benchmark import photos
from benchmarks.machine import describe, machine
from benchmarks.rgb64_benchmark import KL_BODY, SIDE

GOAL_DB = 25.0
BETA = 1e-6  # the KL's weight per latent number, small as Stable Diffusion's VAE has it


def train_autoencoder(images: np.ndarray, seconds: float, log) -> "diffusers.AutoencoderKL":  # noqa: F821
    """A diffusers AutoencoderKL fitted to `images` (N, 3, H, W) uint8 for `seconds`: -ELBO with a small KL weight."""
    import diffusers

    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(**KL_BODY).train()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    rng, x_all = np.random.default_rng(0), torch.from_numpy(images).float() / 127.5 - 1
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        x = x_all[rng.integers(0, len(x_all), 16)]
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample()).sample
        loss = ((recon - x) ** 2).mean() + BETA * posterior.kl().mean()  # ||x - D(z)||^2 + beta KL(q || N(0, I))
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps % 50 == 0:
            log(f"autoencoder step {steps}: {time.perf_counter() - start:.0f} s, loss {float(loss):.4f}")
    return vae.eval(), steps


def psnr_per_image(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    mse = ((a.double() - b.double()) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return (10 * torch.log10(1 / mse)).numpy()  # images in [0, 1]


def mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def time_one(decode, z: torch.Tensor, repeats: int = 20) -> float:
    decode(z)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        decode(z)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv=None) -> dict:
    from explorer.service.preview import MINUTES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-minutes", type=float, default=8.0, help="the autoencoder's training time")
    p.add_argument("--train-images", type=int, default=4000, help="crops the autoencoder is trained on")
    p.add_argument("--images", type=int, default=1000, help="crops mapped (the preview's training and held-out set)")
    p.add_argument("--test-images", type=int, default=200, help="crops the figures are reported on")
    p.add_argument("--minutes", type=float, default=MINUTES, help="the preview's training budget")
    p.add_argument("--width", type=int, help="the preview's channels (default: the explorer's for these images)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    from explorer.service import projection
    from explorer.service.explorer import Explorer
    from explorer.service.preview import train_preview

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vae, ae_steps = train_autoencoder(photos(args.train_images, SIDE, seed=0), 60 * args.train_minutes, log)
        vae.save_pretrained(root / "models" / "photo-kl")
        np.savez(root / "photos.npz", x=photos(args.images, SIDE, seed=1).transpose(0, 2, 3, 1))
        projection.umap_2d = lambda points, progress=None: projection.pca_2d(points)  # the layout is not measured
        ex = Explorer([root / "models"], log=log, images=str(root / "photos.npz"))
        ex.store.latent_view("photo-kl")
        cfg = json.loads(train_preview(ex.store, "photo-kl", args.minutes, log, width=args.width).read_text())

        ex = Explorer([root / "models"], log=log, images=str(root / "photos.npz"))  # opens the model with its preview
        model = ex.store.model("photo-kl")
        test = torch.from_numpy(photos(args.test_images, SIDE, seed=2)).float() / 255
        with torch.no_grad():
            z = model.encode(test)[0]  # q(z|x)'s mean, flattened
            full, preview = model.decode_location(z), model.preview.decode_location(z)
        against_full = psnr_per_image(preview, full)
        full_vs_images, preview_vs_images = psnr_per_image(full, test), psnr_per_image(preview, test)
        full_ms, preview_ms = time_one(model.decode_location, z[:1]), time_one(model.preview.decode_location, z[:1])

    (m, se), (fm, fse), (pm, pse) = mean_se(against_full), mean_se(full_vs_images), mean_se(preview_vs_images)
    results = {"machine": machine(), "settings": vars(args), "autoencoder_steps": ae_steps, "preview": cfg,
               "test_psnr_preview_vs_full_db": [m, se], "test_psnr_full_vs_images_db": [fm, fse],
               "test_psnr_preview_vs_images_db": [pm, pse], "full_decode_ms": full_ms, "preview_decode_ms": preview_ms}
    print(describe(results["machine"]))
    print(f"diffusers AutoencoderKL 32-64-64, {SIDE}x{SIDE} photo crops, trained {ae_steps} steps "
          f"({args.train_minutes:g} min); preview: {cfg['steps']} steps in {cfg['train_seconds']:.0f} s on "
          f"{cfg['pairs']} latents, fitted to the {cfg['target']}, {cfg['width']} channels wide")
    print("| PSNR (dB) | on | value | goal |")
    print("|---|---|---|---|")
    print(f"| preview against the full decoder | {cfg['held_out']} held-out map latents (validation) | "
          f"{cfg['fidelity_db']:.1f} | |")
    print(f"| preview against the full decoder | {args.test_images} test crops | {m:.1f} ± {se:.1f} | >= {GOAL_DB:g} |")
    print(f"| full decoder against the images (reference) | {args.test_images} test crops | {fm:.1f} ± {fse:.1f} | |")
    print(f"| preview against the images | {args.test_images} test crops | {pm:.1f} ± {pse:.1f} | |")
    print(f"one latent: full decoder {full_ms:.1f} ms, preview {preview_ms:.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
