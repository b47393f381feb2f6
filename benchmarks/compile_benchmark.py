"""Does `--compile` (torch.compile of the training forward pass) pay? Eager against compiled, per model.

    python -m benchmarks.compile_benchmark --seconds 20 --threads 2 [--no-amp] [--device cuda] [--mode reduce-overhead]

For the default conv VAE (Bernoulli loss) and the default VQ-VAE, as vae_core.train trains them on the device
(its batch size, lr and warm-down, bf16 where vae_core.training.precision uses it unless --no-amp): the seconds the
first three steps take (compiling included, which a --time-budget run pays), then training images/s over --seconds in
train_benchmark.py's loop once compiled. A benchmark, not a test: nothing here asserts timings.
"""
import sys
import time

import torch

from benchmarks import train_benchmark as tb
from benchmarks.machine import describe, machine
from vae_core.config import Config
from vae_core.data import load_dataset
from vae_core.training.device import training_defaults

STEPS = 3  # first steps timed apart: they compile


def measure(cfg: Config, x_train, seconds: float, device, mode: str | None) -> dict:
    build, loss_fn, settings = tb.as_vae_core_trains(cfg, device)
    torch.manual_seed(tb.SEED)
    model = build()
    net = model if mode is None else torch.compile(model, mode=None if mode == "default" else mode)
    t0 = time.perf_counter()
    tb.warm_up(lambda: net, loss_fn, x_train, steps=STEPS, batch=settings["batch"], device=device)
    first = time.perf_counter() - t0
    r = tb.train_for(net, loss_fn, x_train, seconds, **settings, device=device)
    return {"first_steps_seconds": first, "images_per_sec": r["images_per_sec"], "batch_size": settings["batch"]}


def main(argv=None) -> list[dict]:
    p = tb.budget_arguments(__doc__)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--mode", default="default", help="torch.compile mode (default, reduce-overhead, max-autotune)")
    p.add_argument("--no-amp", action="store_true", help="float32 (as on a CPU without native bf16)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ds = load_dataset(args.data, channels=1, image_size=28, seed=tb.SEED, log=lambda m: None)
    x_train = ds.x_train[:args.train_subset or None]
    batch, lr = training_defaults(device)
    common = {"batch_size": batch, "lr": lr, "amp": not args.no_amp}
    print(f"{ds.name}: {len(x_train)} train images; {args.seconds:g} s per run on {args.device}, {args.threads} "
          f"threads, {'float32' if args.no_amp else 'default precision'}; {describe(machine(device))}", flush=True)
    rows = []
    for name, cfg in {"conv VAE, Bernoulli": Config(likelihood="bernoulli", **common),
                      "VQ-VAE": Config(model="vqvae", **common)}.items():
        for mode in (None, args.mode):
            r = measure(cfg, x_train, args.seconds, device, mode)
            rows.append({"model": name, "compile": mode or "eager", **r})
            print(f"{name} {mode or 'eager'}: done", file=sys.stderr, flush=True)
    print(f"| model | compile | batch | first {STEPS} steps (s) | train images/s | vs eager |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        eager = next(e for e in rows if e["model"] == r["model"] and e["compile"] == "eager")
        r["speed_ratio"] = r["images_per_sec"] / eager["images_per_sec"]
        print(f"| {r['model']} | {r['compile']} | {r['batch_size']} | {r['first_steps_seconds']:.1f} | "
              f"{r['images_per_sec']:.0f} | {r['speed_ratio']:.2f} |")
    return rows


if __name__ == "__main__":
    main()
