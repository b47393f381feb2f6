"""The map's encoding on each device: a Stable-Diffusion-sized diffusers AutoencoderKL (block_out_channels
128-256-512-512, layers_per_block 2, latent_channels 4, random weights, saved with save_pretrained) over N photos
(random crops of scikit-learn's two sample photos, resized), timed two ways on each device:

    bare encoder   vae.encode(x).latent_dist.mean over the images, already floats in [-1, 1] on the device in the
                   explorer's precision there, in the explorer's passes (PIXELS_PER_PASS)
    explorer       the map's encoding step as the app runs it (explorer/service/projection.py encode_latents): uint8
                   images from the store, converted, moved in, encoded, q(z|x)'s mean, sigma and KL back on the CPU

UMAP is left out (--umap times it on the latents, separately: it runs on the CPU whatever the device). Goal: the
explorer adds at most 10 % to the bare encoder on the CPU; on a GPU the explorer is at least 50 times faster than on
this CPU (per image, so a CPU run may time fewer images: --cpu-images).

    python -m benchmarks.device_benchmark --devices cpu cuda --images 1000 --cpu-images 50 --out results_device.json
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import describe, machine

SD_BLOCKS = (128, 256, 512, 512)


def build_vae(folder: Path, size: int, blocks=SD_BLOCKS, layers: int = 2) -> Path:
    """A diffusers AutoencoderKL with random weights (seeded), saved with save_pretrained into folder/sd-vae."""
    import diffusers

    torch.manual_seed(0)
    n = len(blocks)
    vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                                  up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(blocks),
                                  layers_per_block=layers, latent_channels=4, norm_num_groups=min(32, blocks[0]),
                                  sample_size=size)
    vae.save_pretrained(folder / "sd-vae")
    return folder / "sd-vae"


def photos(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n uint8 RGB images (n, 3, size, size): random square crops of scikit-learn's sample photos, resized."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    sources = load_sample_images().images  # two 427 x 640 photos
    out = np.empty((n, 3, size, size), np.uint8)
    for i in range(n):
        src = sources[i % len(sources)]
        side = int(rng.integers(min(src.shape[:2]) // 3, min(src.shape[:2]) + 1))
        top, left = (int(rng.integers(0, d - side + 1)) for d in src.shape[:2])
        crop = Image.fromarray(src[top:top + side, left:left + side]).resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(crop).transpose(2, 0, 1)
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run, device, repeats: int) -> tuple[float, object]:
    """The median of `repeats` timed runs, and the last run's result."""
    times, result = [], None
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        result = run()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def bare_encoder(folder: Path, x: np.ndarray, device: torch.device, repeats: int) -> dict:
    """vae.encode's mean over x, already on the device as floats in [-1, 1] in the explorer's precision."""
    import diffusers

    from explorer.models.device import half_dtype
    from explorer.models.diffusers_models import PIXELS_PER_PASS

    dtype = half_dtype(device)
    vae = diffusers.AutoencoderKL.from_pretrained(str(folder), use_safetensors=True).to(device, dtype).eval()
    step = max(1, PIXELS_PER_PASS // (x.shape[2] * x.shape[3]))
    xs = [(torch.from_numpy(x[a:a + step]).to(device).to(dtype) / 255 * 2 - 1) for a in range(0, len(x), step)]

    @torch.no_grad()
    def run():
        return torch.cat([vae.encode(xb).latent_dist.mean.float().cpu() for xb in xs])

    with torch.no_grad():
        vae.encode(xs[0][:2])  # warm-up: kernels chosen, memory pools filled
    seconds, mean = timed(run, device, repeats)
    scale = vae.config.scaling_factor
    return {"seconds": seconds, "dtype": str(dtype).removeprefix("torch."), "mu": (scale * mean).flatten(1).numpy()}


def explorer_encoding(folder: Path, x: np.ndarray, device: torch.device, repeats: int) -> dict:
    """The map's encoding step through the explorer: the store's images, its model on `device`, encode_latents."""
    from explorer.service.explorer import Explorer
    from explorer.service.image_sets import ImageSet
    from explorer.service.projection import encode_latents

    ex = Explorer([folder], images=ImageSet.from_arrays(x, log=lambda *a: None), log=lambda *a: None,
                  device=str(device))
    t = time.perf_counter()
    model = ex.store.model(folder.name)
    load_s = time.perf_counter() - t
    images = ex.store.data(folder.name).x_test
    encode_latents(model, images[:2])  # warm-up
    seconds, (mu, _, _) = timed(lambda: encode_latents(model, images), device, repeats)
    return {"seconds": seconds, "load_seconds": load_s, "mu": mu}


def run_device(folder: Path, x: np.ndarray, device: torch.device, repeats: int) -> tuple[dict, np.ndarray]:
    """The row of the table for one device, and the explorer's latents."""
    bare = bare_encoder(folder, x, device, repeats)
    app = explorer_encoding(folder, x, device, repeats)
    scale = float(np.abs(bare["mu"]).max()) or 1.0
    return {"device": str(device), "dtype": bare["dtype"], "images": len(x), "bare_s": bare["seconds"],
            "explorer_s": app["seconds"], "load_s": app["load_seconds"],
            "overhead": app["seconds"] / bare["seconds"] - 1,
            "ms_per_image": 1000 * app["seconds"] / len(x), "bare_ms_per_image": 1000 * bare["seconds"] / len(x),
            "latent_difference": float(np.abs(app["mu"] - bare["mu"]).max()) / scale}, app["mu"]  # / max |mu|


def umap_seconds(latents: np.ndarray) -> float:
    from explorer.service.projection import umap_2d

    t = time.perf_counter()
    umap_2d(latents)
    return time.perf_counter() - t


def table(r: dict) -> str:
    lines = [describe(r["machine"]),
             f"AutoencoderKL blocks {'-'.join(map(str, r['blocks']))}, layers_per_block {r['layers']}, "
             f"{r['size']}x{r['size']} photos, latent 4x{r['size'] // 2 ** (len(r['blocks']) - 1)}"
             f"x{r['size'] // 2 ** (len(r['blocks']) - 1)}; median of {r['repeats']}",
             f"{'device':<8} {'dtype':<9} {'images':>6} {'bare s':>9} {'explorer s':>11} {'adds':>7} "
             f"{'ms/image':>9} {'load s':>7} {'vs cpu':>7} {'latents differ':>15}"]
    cpu = next((d["ms_per_image"] for d in r["devices"] if d["device"] == "cpu"), None)
    for d in r["devices"]:
        speed = f"{cpu / d['ms_per_image']:6.1f}x" if cpu else "      -"
        lines.append(f"{d['device']:<8} {d['dtype']:<9} {d['images']:>6} {d['bare_s']:>9.3f} {d['explorer_s']:>11.3f} "
                     f"{100 * d['overhead']:>+6.1f}% {d['ms_per_image']:>9.2f} {d['load_s']:>7.2f} {speed:>7} "
                     f"{d['latent_difference']:>15.2g}")
    if r.get("umap_s") is not None:
        lines.append(f"UMAP of the {r['devices'][-1]['images']} latents (CPU, separately): {r['umap_s']:.1f} s")
    lines.append("Goal: the explorer adds <= 10 % to the bare encoder on the CPU; on a GPU >= 50x faster per image "
                 "than on the CPU.")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", nargs="+", default=["cpu"], help="devices to time (cpu, cuda, cuda:N, mps)")
    p.add_argument("--images", type=int, default=1000, help="photos to map on each device")
    p.add_argument("--cpu-images", type=int, help="fewer photos on the CPU (its time is compared per image)")
    p.add_argument("--size", type=int, default=256, help="the photos' side in pixels")
    p.add_argument("--blocks", type=int, nargs="+", default=list(SD_BLOCKS), help="block_out_channels")
    p.add_argument("--layers", type=int, default=2, help="layers_per_block")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each (the median is reported)")
    p.add_argument("--umap", action="store_true", help="also time UMAP on the latents (CPU)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    from explorer.errors import DeviceUnavailable
    from explorer.models.device import choose_device

    try:
        devices = [choose_device(d) for d in args.devices]
    except DeviceUnavailable as e:
        p.exit(2, f"device_benchmark: {e}\n")
    gpu = next((d for d in devices if d.type == "cuda"), "cpu")
    r = {"machine": machine(gpu), "blocks": args.blocks, "layers": args.layers, "size": args.size,
         "repeats": args.repeats, "devices": [], "umap_s": None}
    x = photos(args.images, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_vae(Path(tmp), args.size, args.blocks, args.layers)
        for device in devices:
            n = args.cpu_images if device.type == "cpu" and args.cpu_images else args.images
            print(f"{device}: {n} images", file=sys.stderr, flush=True)
            row, latents = run_device(folder, x[:n], device, args.repeats)
            r["devices"].append(row)
        if args.umap:
            r["umap_s"] = umap_seconds(latents)  # the last device's latents
    print(table(r))
    if args.out:
        Path(args.out).write_text(json.dumps(r, indent=1))
    return r


if __name__ == "__main__":
    main()
