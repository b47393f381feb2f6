"""`python -m vae_core.train` itself against the PyTorch example with its DataLoader, each given the same wall-clock.

    python -m benchmarks.command_benchmark --seconds 30 --train-subset 8000             # the small-data case
    python -m benchmarks.command_benchmark --seconds 20 --device cuda --data /data/fashion-mnist --threads 16

Each run is its own process, timed from that process's start (interpreter start-up, imports and data loading
included), on the same images (written once to an .npz that both read):
(a) the PyTorch example VAE as its script trains it (benchmarks/pytorch_example_vae.py: MLP 784-400-20, Adam 1e-3,
    batch 128, a torch DataLoader with shuffle, a test pass each epoch), stopped at --seconds;
(b) `python -m vae_core.train --model vae --likelihood bernoulli --time-budget S`: the default conv VAE with the
    example's Bernoulli loss, so that the -ELBO compares like for like; batch size and lr are the device's defaults;
(c) `python -m vae_core.train --model vqvae --time-budget S`: the default VQ-VAE.
Training images/s: vae_core's from its history.jsonl (training steps only), the example's from its own count
(training steps only, not its test passes). Then both are evaluated here on the same test images, on the CPU, in
float32: -ELBO in nats per image with one z sample from a generator seeded 0 (batches of 500), and MSE per pixel of
the posterior-mean reconstruction. --no-amp trains vae_core in float32, standing in for a CPU without native bf16.
A benchmark, not a test: nothing here asserts timings.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from benchmarks.machine import describe, machine
from benchmarks.pytorch_example_vae import VAE as ReferenceVAE
from benchmarks.train_benchmark import evaluate_reference
from vae_core import load
from vae_core.data import load_dataset
from vae_core.evaluation.report import evaluate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE, CONV, VQ = "example (pytorch/examples VAE, DataLoader)", "vae_core conv VAE, Bernoulli", "vae_core VQ-VAE"
GOALS = {"cuda": {CONV: 5.0, VQ: 2.0}, "cpu": {CONV: 0.5, VQ: 0.25}}  # images/s vs the example: the speed goals


def commands(args, data: Path, work: Path) -> dict[str, list[str]]:
    """The command line of each run (run from the repository root)."""
    py, s = sys.executable, f"{args.seconds:g}"
    example = [py, "-m", "benchmarks.pytorch_example_vae", "--data", str(data), "--seconds", s,
               "--out", str(work / "ex")]
    if args.device == "cpu":
        example.append("--no-accel")
    vae_core = ["--data", str(data), "--time-budget", s, "--device", args.device]
    vae_core += ["--no-amp"] * args.no_amp + ["--epochs", str(args.epochs)] * bool(args.epochs)
    vae_core += ["--compile", args.compile] if args.compile else []
    train = [py, "-m", "vae_core.train"]
    return {EXAMPLE: example,
            CONV: [*train, "--model", "vae", "--likelihood", "bernoulli", *vae_core, "--out", str(work / "conv")],
            VQ: [*train, "--model", "vqvae", *vae_core, "--out", str(work / "vq")]}


def run_process(cmd: list[str], threads: int, log_file: Path) -> float:
    """Run cmd from the repository root with `threads` intra-op threads; returns its wall-clock seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t0 = time.time()
    with open(log_file, "w") as f:
        r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, check=False)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited with {r.returncode}:\n{log_file.read_text()[-3000:]}")
    return time.time() - t0


def history_throughput(folder: Path) -> dict:
    """Training images and images/s over all epochs of a vae_core run (from history.jsonl: training steps only)."""
    rows = [json.loads(ln) for ln in (folder / "history.jsonl").read_text().splitlines() if ln.strip()]
    seconds = sum(r["seconds"] for r in rows)
    images = sum(r["images_per_sec"] * r["seconds"] for r in rows)  # steps x batch, per epoch
    return {"train_images": round(images), "train_seconds": seconds, "images_per_sec": images / seconds}


def example_result(folder: Path, x_test: np.ndarray) -> dict:
    r = json.loads((folder / "train.json").read_text())
    model = ReferenceVAE()
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    r["images_per_sec"] = r["train_images"] / r["train_seconds"]
    return {**r, **evaluate_reference(model, x_test)}


def vae_core_result(folder: Path, x_test: np.ndarray) -> dict:
    model = load(folder)
    metrics = evaluate(model, x_test, batch_size=500, seed=0, device=torch.device("cpu"))
    keep = ("neg_elbo", "mse", "codes_used")
    return {**history_throughput(folder), "batch_size": model.cfg.batch_size, "lr": model.cfg.lr,
            **{k: metrics[k] for k in keep if k in metrics}}


def run(args, x_train, x_test, y_train=None, y_test=None, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="command-benchmark-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = work / "images.npz"
        labels = {} if y_train is None else {"y": y_train, "y_test": y_test}
        np.savez(data, x=x_train, x_test=x_test, **labels)
        results = {}
        for name, cmd in commands(args, data, work).items():
            log(f"{name}: {' '.join(cmd[1:])}")
            wall = run_process(cmd, args.threads, work / f"{cmd[-1].rsplit('/', 1)[-1]}.log")
            folder = Path(cmd[cmd.index("--out") + 1])
            results[name] = example_result(folder, x_test) if name == EXAMPLE else vae_core_result(folder, x_test)
            results[name].update(process_seconds=wall, epochs=results[name]["train_images"] / len(x_train),
                                 command=" ".join(cmd[1:]))
    for r in results.values():
        r["speed_ratio"] = r["images_per_sec"] / results[EXAMPLE]["images_per_sec"]
    return results


def goals(results: dict, device: str) -> dict:
    ex, conv, vq = (results[k] for k in (EXAMPLE, CONV, VQ))
    speed = GOALS["cuda" if device == "cuda" else "cpu"]
    return {"conv_neg_elbo_lt_example": conv["neg_elbo"] < ex["neg_elbo"],
            f"conv_images_per_sec_ge_{speed[CONV]:g}x": conv["speed_ratio"] >= speed[CONV],
            f"vqvae_images_per_sec_ge_{speed[VQ]:g}x": vq["speed_ratio"] >= speed[VQ]}


def report(results: dict, g: dict) -> str:
    fmt = lambda v, spec: "—" if v is None else format(v, spec)
    lines = [("| run | batch | train images/s | vs example | epochs | training s | process s | test -ELBO (nats) | "
              "test MSE |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['batch_size']} | {r['images_per_sec']:.0f} | {r['speed_ratio']:.2f} | "
                     f"{r['epochs']:.1f} | {r['train_seconds']:.1f} | {r['process_seconds']:.1f} | "
                     f"{fmt(r.get('neg_elbo'), '.2f')} | "
                     f"{r['mse']:.5f} |")
    lines += ["", ("training s: the training steps alone; process s: the whole command (start-up, per-epoch test "
                   "passes and saving included). -ELBO: the example's Bernoulli loss on grey pixels (not a code "
                   "length), like for like.")]
    lines += [f"{goal}: {'yes' if ok else 'no'}" for goal, ok in g.items()]
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=30.0, help="wall-clock budget of each run, from its process start")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--data", default="fashion-mnist",
                   help="data set name or path, e.g. a folder of Fashion-MNIST IDX files (conformed to 1x28x28)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of every run (OMP_NUM_THREADS)")
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training images (0: all)")
    p.add_argument("--test-subset", type=int, default=0, help="use only the first N test images (0: all)")
    p.add_argument("--no-amp", action="store_true", help="vae_core in float32 (as on a CPU without native bf16)")
    p.add_argument("--compile", default="", help="pass --compile MODE to vae_core (e.g. default, reduce-overhead)")
    p.add_argument("--epochs", type=int, default=0, help="pass --epochs to vae_core (0: its default cap)")
    p.add_argument("--workdir", help="keep the runs' folders and logs here (default: a temporary folder)")
    p.add_argument("--json", help="write settings, machine, per-run figures and goal checks to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=0, log=lambda m: None)
    n_train, n_test = args.train_subset or None, args.test_subset or None
    x_train, x_test = ds.x_train[:n_train], ds.x_test[:n_test]
    y_train = ds.y_train[:n_train] if ds.y_train is not None and ds.y_test is not None else None
    y_test = ds.y_test[:n_test] if y_train is not None else None
    m, load_before = machine(args.device), os.getloadavg()[0]
    print(f"{ds.name}: {len(x_train)} train / {len(x_test)} test images; {args.seconds:g} s per run on "
          f"{args.device}, {args.threads} threads, "
          f"vae_core {'in float32 (--no-amp)' if args.no_amp else 'as by default'}"
          f"; {describe(m)}; load average {load_before:.2f}", flush=True)
    results = run(args, x_train, x_test, y_train, y_test, log=lambda s: print(s, file=sys.stderr, flush=True))
    g = goals(results, args.device)
    print(report(results, g))
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    out = {"settings": {"data": ds.name, "train_images": len(x_train), "test_images": len(x_test),
                        "seconds": args.seconds, "device": args.device, "threads": args.threads,
                        "no_amp": args.no_amp, "compile": args.compile, "load_average_before": load_before,
                        "load_average_after": os.getloadavg()[0]},
           "machine": m, "results": results, "goals": g}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
