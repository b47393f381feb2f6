"""How fast the teaching and projector-like views' logic answers, server-side, on the shipped checkpoints.

    python -m benchmarks.teach_benchmark [--checkpoints checkpoints/] [--calls 100] [--json out.json]

Each Explorer method the views call (explorer/service/explorer.py), timed in this process on the 10,000 test images,
next to a reference measured in the same run: the bare VAE decoder forward of one latent (and the VQ-VAE's of one grid).
Inputs vary from call to call (random test images, latents and dimensions, seeded). One-off costs (loading the data
and projection, encoding the posteriors' sigmas) are measured once, before, and shown apart.
Goal: every update < 150 ms p95 on the 2-core CPU, with 2 torch threads and with 1.
"""
import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.app_benchmark import stats, timed
from benchmarks.machine import cpu_name, native_bf16
from explorer.compute.montecarlo import IWAE_K, IWAE_REPEATS
from explorer.service.explorer import Explorer
from explorer.service.url_state import ViewState, from_query, to_query
from explorer.web.files import export_files

GOAL_P95_MS = 150.0


def cases(ex: Explorer, vae: str, vq: str | None, rng, tmp: str) -> dict:
    """name -> a function of no arguments, each call a new input."""
    post = ex.store.posteriors(vae)
    n, d = post.mu.shape
    img = lambda: int(rng.integers(n))
    z = lambda: post.mu[img()]
    dims = lambda: rng.choice(d, 2, replace=False)
    model = ex.store.model(vae)
    fresh = itertools.count(int(rng.integers(10**9)))  # seeds never seen: the IWAE bound is never cached
    out = {
        "reference: bare VAE decoder forward (1 latent)": lambda: model.decode_location(torch.from_numpy(z())[None]),
        "latent_axes (10,000 points, density 64x64, 1 ellipse pair)":
            lambda: ex.maths.latent_axes(vae, *dims(), [img()]),
        "latent_axes (100 selected: 200 ellipses)":
            lambda: ex.maths.latent_axes(vae, *dims(), rng.integers(n, size=100)),
        "axes_latent + decode_latent (a click on the axes)": lambda: ex.map.decode_latent(
            vae, ex.maths.axes_latent(vae, 0, 1, *rng.normal(size=2), index=img())),
        f"monte_carlo L=64, a new image or seed (IWAE {IWAE_REPEATS} x k={IWAE_K} computed)":
            lambda: ex.maths.monte_carlo(vae, img(), 64, next(fresh)),
        f"monte_carlo L=1, a new image or seed (IWAE {IWAE_REPEATS} x k={IWAE_K} computed)":
            lambda: ex.maths.monte_carlo(vae, img(), 1, next(fresh)),
        "monte_carlo, L slider moved (1..64; IWAE kept)":
            lambda: ex.maths.monte_carlo(vae, 0, int(rng.integers(1, 65)), 0),
        "decoder_output (E[x|z] over 256 levels, scale map, sample)": lambda: ex.maths.decoder_output(vae, z()),
        "traversal top-4 x 7 steps (+ PNG)": lambda: ex.maths.traversal(vae, z(), 4, 7),
        f"traversal top-{min(d, 16)} x 15 steps (+ PNG)": lambda: ex.maths.traversal(vae, z(), min(d, 16), 15),
        "neighbours k=10 (10,000 x d brute force)": lambda: ex.map.neighbours(vae, z(), 10, None),
        "export_files: CSV + NPZ of all 10,000":
            lambda: export_files(ex.map.export_selection(vae, np.arange(n)), vae, tmp),
        "export_files: CSV + NPZ of 100": lambda: export_files(ex.map.export_selection(vae, rng.integers(n, size=100)),
                                                               vae, tmp),
        "selection_summary of all 10,000 (gallery, means)": lambda: ex.map.selection_summary(vae, np.arange(n)),
        "selection_summary of 50": lambda: ex.map.selection_summary(vae, rng.integers(n, size=50)),
        "restore_state (parse + check a full URL)": lambda: ex.restore_state(to_query(ViewState(
            vae=vae, vq=vq, tab="axes", index=img(), z=tuple(z().tolist()), axes=(0, 1), samples=16))),
        "url_state round trip": lambda: from_query(to_query(ViewState(index=img(), z=tuple(z().tolist())))),
    }
    if vq:
        qm, grids = ex.store.model(vq), ex.store.codebook_view(vq).grids
        out["reference: bare VQ-VAE decoder forward (1 grid)"] = lambda: qm.decode_indices(
            torch.from_numpy(grids[img()].astype(np.int64))[None])
        out["quantization (7x7 cells x 512 codes, 2 decodes)"] = lambda: ex.codes.quantization(vq, img())
    return out


@torch.no_grad()
def bench(ex: Explorer, vae: str, vq: str | None, calls: int, tmp: str) -> dict:
    rng = np.random.default_rng(0)
    ex.__dict__.pop("_iwae", None)  # IWAE bounds kept by an earlier run (same seeds): computed again here
    out = {}
    for name, fn in cases(ex, vae, vq, rng, tmp).items():
        fn()  # warm-up
        out[name] = stats(timed(fn, calls))
    return out


def once(ex: Explorer, vae: str, vq: str | None) -> dict:
    """First-use costs: data + projection (from the cache), the posteriors' sigmas, the codebook view."""
    out = {}
    for name, fn in (("data + projection of the VAE (cached)", lambda: ex.store.latent_view(vae)),
                     ("posteriors: encode 10,000 test images for sigma", lambda: ex.store.posteriors(vae)),
                     *((("codebook view of the VQ-VAE (cached)", lambda: ex.store.codebook_view(vq)),) if vq else ())):
        t = time.perf_counter()
        fn()
        out[name] = (time.perf_counter() - t) * 1000
    return out


def table(r: dict) -> str:
    lines = []
    for key, threads in (("two", r["torch_threads"]), ("one", 1)):
        if key not in r:
            continue
        lines += [f"\n{threads} torch thread{'s' * (threads > 1)}:\n", "| function | p50 | p95 | goal p95 < 150 ms |",
                  "|---|---:|---:|---|"]
        for name, s in r[key].items():
            ok = "" if name.startswith("reference") else ("met" if s["p95"] < GOAL_P95_MS else "NOT met")
            lines.append(f"| {name} | {s['median']:.1f} ms | {s['p95']:.1f} ms | {ok} |")
    lines += ["\nOnce per checkpoint (first use):", *(f"- {k}: {v:.0f} ms" for k, v in r["once"].items())]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"])
    p.add_argument("--vae", default="fashion-vae", help="the VAE measured (default: the 16-D Fashion-MNIST one)")
    p.add_argument("--calls", type=int, default=100, help="calls of each function")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    ex = Explorer([str(Path(f).resolve()) for f in args.checkpoints], log=lambda *a: None)
    vaes, vqs = ex.store.names("vae"), ex.store.names("vqvae")
    if not vaes:
        sys.exit(f"no VAE checkpoint in {args.checkpoints}")
    vae = args.vae if args.vae in vaes else vaes[0]
    vq = vqs[0] if vqs else None
    r = {"vae": vae, "vqvae": vq, "python": platform.python_version(), "torch": torch.__version__,
         "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
         "cpu": cpu_name(), "native_bf16": native_bf16()}
    print(f"benchmarking {vae} and {vq} ({r['cpus']} CPUs, load {r['load_average'][0]:.1f})", file=sys.stderr)
    r["once"] = once(ex, vae, vq)
    with tempfile.TemporaryDirectory() as tmp:
        r["two"] = bench(ex, vae, vq, args.calls, tmp)
        if r["torch_threads"] > 1:
            torch.set_num_threads(1)
            r["one"] = bench(ex, vae, vq, args.calls, tmp)
            torch.set_num_threads(r["torch_threads"])
    r["table"] = (f"{r['cpu']}, {r['cpus']} CPUs, native bf16: {r['native_bf16']}, load {r['load_average'][0]:.1f}, "
                  f"{vae} and {vq}, {args.calls} calls each\n" + table(r))
    print(r["table"])
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
