"""The latent map at scale: time to the first map, the figure's size and build time, RSS, position and latent
look-ups, at N = 10,000 and 70,000 real Fashion-MNIST latents (train + test through checkpoints/fashion-vae's
encoder) and 300,000 synthetic 16-D latents (a Gaussian mixture).

Each time to the first map runs in a fresh subprocess (a cold start: import umap, numba's compilation, the fit and
placing the rest, the figure), the sampled UMAP path (explorer/service/sampled_umap.py) beside the full fit it replaces
where that finishes in reasonable time (--full lists the sizes to run it at). The sampled map's quality is compared
with the full fit's on the same points: trustworthiness (sklearn, 15 neighbours, on a seeded subsample of 3,000) of
each map against the latents, and the share of each point's 15 nearest latents that are among its 15 nearest on the
map (k-NN preservation). The figure: JSON lists of rounded floats (the reference, as maps.py built them before)
against plotly.js binary arrays. Look-ups: nearest_index by a full scan against the KD-tree, and the latent-space
neighbours' brute-force query (compute/neighbours.py).

    python -m benchmarks.map_scale_benchmark [--sizes 10000 70000 300000] [--full 10000 70000]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe, machine

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
points = np.load(sys.argv[1]); labels = np.load(sys.argv[2]); full = sys.argv[4] == "full"
t_import = time.perf_counter()
import umap  # noqa: F401
t_umap = time.perf_counter()
from explorer.service import projection, sampled_umap
from explorer.figures.maps import latent_map
from explorer.web.components.plot import figure_json
if full:
    sampled_umap.SAMPLED["above"] = len(points)  # the full fit, as for a small N
said = []
coords = projection.umap_2d(points, progress=lambda f, what: said.append(what))
t_fit = time.perf_counter()
fig = figure_json(latent_map(coords, labels, [str(k) for k in range(10)], "map"))
t_fig = time.perf_counter()
np.save(sys.argv[3], coords)
print(json.dumps({"import_umap": t_umap - t_import, "umap": t_fit - t_umap, "figure": t_fig - t_fit,
                  "total": t_fig - t0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "last_progress": [w for w in said if "placing" in w][-1:]}))
"""


def real_latents() -> tuple[np.ndarray, np.ndarray]:
    """mu(x) of Fashion-MNIST's 70,000 train + test images through checkpoints/fashion-vae's encoder."""
    import torch

    import vae_core
    from vae_core.data import load_dataset, to_float

    model = vae_core.load(ROOT / "checkpoints" / "fashion-vae")
    ds = load_dataset("fashion-mnist")
    x, y = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    with torch.no_grad():
        mu = torch.cat([model.encode(to_float(x[i:i + 2000]))[0] for i in range(0, len(x), 2000)])
    return mu.numpy().astype(np.float32), y.astype(np.int64)


def synthetic_latents(n: int, d: int = 16, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """n points of a 10-component Gaussian mixture in d dimensions (centres ~ N(0, 3^2 I), unit spread)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, classes, n)
    return (rng.normal(0, 3, (classes, d))[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def first_map(points, labels, mode: str, tmp: Path) -> tuple[dict, np.ndarray]:
    """A cold start in a fresh subprocess: its timings and the map it made."""
    p, lab, out = tmp / "points.npy", tmp / "labels.npy", tmp / f"coords-{mode}.npy"
    np.save(p, points)
    np.save(lab, labels)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    run = subprocess.run([sys.executable, "-c", CHILD, str(p), str(lab), str(out), mode], capture_output=True,
                         text=True, env=env, cwd=ROOT)
    if run.returncode:
        raise RuntimeError(run.stderr[-2000:])
    return json.loads(run.stdout.strip().splitlines()[-1]), np.load(out)


def quality(latents, coords, k: int = 15, m: int = 3000) -> tuple[float, float]:
    """(trustworthiness, k-NN preservation) of a map of latents, on a seeded subsample of m points."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    s = np.random.default_rng(1).choice(len(latents), size=min(m, len(latents)), replace=False)
    z, c = latents[s], coords[s]
    near = [NearestNeighbors(n_neighbors=k + 1).fit(a).kneighbors(a, return_distance=False)[:, 1:] for a in (z, c)]
    kept = np.mean([len(set(a) & set(b)) / k for a, b in zip(*near)])
    return float(trustworthiness(z, c, n_neighbors=k)), float(kept)


def lists_figure(coords, labels) -> dict:
    """The reference: maps.py's traces as JSON lists of floats rounded to 4 places (as before binary arrays)."""
    traces = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        traces.append({"type": "scattergl", "mode": "markers", "name": str(k),
                       "x": np.round(coords[idx, 0], 4).tolist(), "y": np.round(coords[idx, 1], 4).tolist(),
                       "customdata": idx.tolist(), "marker": {"size": 4}})
    return {"data": traces, "layout": {}}


def per_call(fn, calls: int) -> float:
    fn(0)
    t = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - t) / calls


def figure_rows(coords, labels) -> dict:
    from explorer.figures.maps import latent_map
    from explorer.web.components.plot import figure_json

    out = {}
    for name, build in [("lists", lambda: figure_json(lists_figure(coords, labels))),
                        ("binary", lambda: figure_json(latent_map(coords, labels, [], "map")))]:
        out[name] = (per_call(lambda _, b=build: b(), 3), len(build()))
    return out


def lookup_rows(latents, coords) -> dict:
    from explorer.compute.inverse import LatentMap
    from explorer.compute.neighbours import NeighbourIndex

    m, rng = LatentMap(latents, coords), np.random.default_rng(2)
    q = coords[rng.integers(0, len(coords), 200)]
    scan = per_call(lambda i: int(np.argmin(((m.coords - q[i % 200]) ** 2).sum(1))), 50)
    t = time.perf_counter()
    m.nearest_index(*q[0])
    build = time.perf_counter() - t
    tree = per_call(lambda i: m.nearest_index(*q[i % 200]), 200)
    ix = NeighbourIndex(latents)
    neighbours = per_call(lambda i: ix.query(latents[i], 8, exclude=i), 50)
    return {"scan": scan, "tree": tree, "tree_build": build, "neighbours": neighbours}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 70_000, 300_000])
    ap.add_argument("--full", type=int, nargs="*", default=[10_000, 70_000], help="sizes to run the full fit at")
    args = ap.parse_args(argv)
    print(describe(machine()))
    real = real_latents() if any(n <= 70_000 for n in args.sizes) else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            z, y = (real[0][:n], real[1][:n]) if n <= 70_000 else synthetic_latents(n)
            what = "Fashion-MNIST" if n <= 70_000 else "synthetic"
            sampled, coords = first_map(z, y, "sampled", Path(tmp))
            row = {"n": n, "data": what, "sampled": sampled, "q_sampled": quality(z, coords)}
            if n in args.full and n > 20_000:
                row["full"], full_coords = first_map(z, y, "full", Path(tmp))
                row["q_full"] = quality(z, full_coords)
            row["figure"], row["lookup"] = figure_rows(coords, y), lookup_rows(z, coords)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'N':>8} {'data':>13} | {'first map: sampled':>19} {'full fit':>9} | {'import umap':>11} "
          f"{'UMAP':>7} {'RSS MB':>7} | {'trust s/f':>11} {'kNN s/f':>11}")
    for r in rows:
        s, small = r["sampled"], r["n"] <= 20_000
        f = s if small else r.get("full")  # at or below the threshold the sampled path is the full fit
        qs = r["q_sampled"]
        qf = qs if small else r.get("q_full", (float("nan"), float("nan")))
        full = f"{f['total']:>8.1f}s" if f else f"{'not run':>9}"
        print(f"{r['n']:>8} {r['data']:>13} | {s['total']:>18.1f}s {full} | "
              f"{s['import_umap']:>10.1f}s {s['umap']:>6.1f}s {s['rss_mb']:>7.0f} | {qs[0]:.3f}/{qf[0]:.3f} "
              f"{qs[1]:.3f}/{qf[1]:.3f}")
    print("(at or below the threshold, 20,000 points, the sampled path is the full fit: one run, in both columns; "
          "nan: no full fit to compare with)")
    print(f"\n{'N':>8} | {'figure lists':>13} {'binary':>9} | {'JSON lists':>11} {'binary':>9} | "
          f"{'nearest: scan':>14} {'KD-tree':>9} {'(build)':>9} | {'neighbours':>10}")
    for r in rows:
        fl, fb, lk = r["figure"]["lists"], r["figure"]["binary"], r["lookup"]
        print(f"{r['n']:>8} | {fl[0] * 1e3:>11.0f}ms {fb[0] * 1e3:>7.0f}ms | {fl[1] / 1e6:>9.2f}MB "
              f"{fb[1] / 1e6:>7.2f}MB | {lk['scan'] * 1e3:>12.3f}ms {lk['tree'] * 1e3:>7.3f}ms "
              f"{lk['tree_build'] * 1e3:>7.1f}ms | {lk['neighbours'] * 1e3:>8.2f}ms")


if __name__ == "__main__":
    main()
