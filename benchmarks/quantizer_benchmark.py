"""vae_core's vector quantizer against vector-quantize-pytorch's VectorQuantize, in the same VQ-VAE, in one process.

    python benchmarks/quantizer_benchmark.py --steps 1500 --seeds 0 --json benchmarks/results_quantizer.json

Every variant trains the same model from the same start: vae_core's VQ-VAE (its encoder and decoder, K=512 codes
of D=64 on a 7x7 grid), built with one seed, so the encoder and decoder weights are identical and only the
quantizer differs; Adam at lr 3e-3 with vae_core.train's warm-down over the last half of the run; batch 64 in
vae_core.train's data order (the same batches for every variant); bf16 autocast and channels-last where
vae_core.training.precision uses them. The quantizers themselves run in float32 (the library's too: it is called with
autocast off, as vae_core's quantizer turns it off for itself).
The library (1.32.0): VectorQuantize(decay=0.99, commitment_weight=0.25, kmeans_init=True,
threshold_ema_dead_code=2), as is (rotation trick, its default), with rotation_trick=False (plain straight-through)
and with use_cosine_sim=True (the three rows the goals compare against), and for reference its plain variant with
vae_core's decay of 0.9. vae_core: its defaults, and one change each (decay 0.99, no k-means, no restarts).
Its commitment loss is a mean over all B x N x D elements; vae_core's loss (and its
reconstruction term) is a sum over an image's elements averaged over the batch, so the library's loss is multiplied
by N x D here: both send the encoder the same commitment gradient.
Reported on the validation split (held out of the training images as vae_core.train holds it out; the EMA decay
and the other defaults are chosen on it, the test split is left for the reported figures), in float32: MSE per pixel,
perplexity of the codes (of 512), and from training: the codes used in the batch at a few steps, the fewest used in any
batch after step 50, and the codes restarted (the library's are counted by wrapping its Codebook.replace). A benchmark,
not a test: nothing asserts timings.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.machine import cpu_name
from vae_core.config import Config
from vae_core.data import hold_out, load_dataset, to_float, validation_size
from vae_core.evaluation.report import evaluate
from vae_core.models import build_model
from vae_core.models.quantize import VectorQuantizer
from vae_core.training.loop import lr_at
from vae_core.training.precision import cpu_has_bf16, training_losses, training_model

TRACE_STEPS = (0, 1, 10, 50, 100, 200, 500, 1000)


class LibraryQuantizer(nn.Module):
    """vector_quantize_pytorch.VectorQuantize behind vae_core's quantizer interface: (z_q, indices, loss per image)."""

    def __init__(self, num_codes: int, code_dim: int, **options):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.num_codes, self.restarts = num_codes, 0
        self.vq = VectorQuantize(dim=code_dim, codebook_size=num_codes, **{
            "decay": 0.99, "commitment_weight": 0.25, "kmeans_init": True, "threshold_ema_dead_code": 2, **options})
        replace = self.vq._codebook.replace

        def counted_replace(samples, batch_mask, seq_mask=None):
            self.restarts += int(batch_mask.sum())
            return replace(samples, batch_mask, seq_mask)

        self.vq._codebook.replace = counted_replace

    @property
    def embedding(self) -> torch.Tensor:
        return self.vq.codebook

    def forward(self, z: torch.Tensor):
        with torch.autocast(z.device.type, enabled=False):
            z_q, idx, loss = self.vq(z.float())
        # the library's loss: 0.25 * mean over B x N x D elements; times N x D: 0.25 * (sum per image), batch mean
        return z_q, idx, (loss * z[0].numel()).expand(z.shape[0])


def vae_core_quantizer(**options):
    return lambda cfg: VectorQuantizer(cfg.num_codes, cfg.code_dim, **{
        "commitment": cfg.commitment, "codebook": cfg.codebook, "decay": cfg.ema_decay,
        "dead_threshold": cfg.dead_threshold, "kmeans_init": cfg.kmeans_init, **options})


def library_quantizer(**options):
    return lambda cfg: LibraryQuantizer(cfg.num_codes, cfg.code_dim, **options)


DEFAULT = "vae_core (defaults)"
LIBRARY = {"library, rotation trick (its default)": library_quantizer(),
           "library, plain straight-through": library_quantizer(rotation_trick=False),
           "library, cosine similarity": library_quantizer(use_cosine_sim=True)}
VARIANTS = {DEFAULT: vae_core_quantizer(),
            "vae_core, decay 0.99 (the library's here)": vae_core_quantizer(decay=0.99),
            "vae_core, no k-means (random vectors of batch 1)": vae_core_quantizer(kmeans_init=False),
            "vae_core, no restarts": vae_core_quantizer(dead_threshold=0.0),
            **LIBRARY,
            "library, plain straight-through, decay 0.9": library_quantizer(rotation_trick=False, decay=0.9)}


def train_variant(make_quantizer, x_train: np.ndarray, x_val: np.ndarray, steps: int, seed: int) -> dict:
    cfg, cpu = Config(model="vqvae", seed=seed), torch.device("cpu")
    torch.manual_seed(seed)
    model = build_model(cfg)
    model.quantizer = make_quantizer(cfg)  # the same encoder and decoder weights for every variant
    model = training_model(model, cfg, cpu)
    used = {}

    def count_codes(module, args, out):  # codes used by this training batch
        if module.training:
            used["last"] = int(torch.unique(out[1]).numel())

    model.quantizer.register_forward_hook(count_codes)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    torch.manual_seed(seed)  # the same draws for k-means and restarts
    model.train()
    trace, fewest, epoch, step, t0 = {}, cfg.num_codes, 0, 0, time.perf_counter()
    while step < steps:
        epoch += 1  # vae_core.train's order: a seeded permutation per epoch, the last partial batch dropped
        perm = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        for i in range(0, len(perm) - cfg.batch_size + 1, cfg.batch_size):
            if step >= steps:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, step / steps)
            x = to_float(x_train[np.sort(perm[i:i + cfg.batch_size].numpy())])
            loss = training_losses(model, x, cfg, cpu)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n_used = used.pop("last")
            if step in TRACE_STEPS:
                trace[step] = n_used
            if step >= 50:
                fewest = min(fewest, n_used)
            step += 1
    seconds = time.perf_counter() - t0
    m = evaluate(model, x_val, device=cpu)
    return {"mse": m["mse"], "perplexity": m["perplexity"], "used_per_batch": trace, "fewest_after_50": fewest,
            "restarts": model.quantizer.restarts, "train_seconds": seconds, "last_train_loss": loss.item()}


def table(results: dict, steps: int) -> str:
    shown = [s for s in TRACE_STEPS if s < steps]
    head = ["quantizer", "seed", "validation MSE", "perplexity (of 512)",
            "codes used per batch at steps " + ", ".join(map(str, shown)), "fewest after step 50", "restarts", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (name, seed), r in results.items():
        trace = ", ".join(str(r["used_per_batch"][s]) for s in shown)
        fewest = str(r["fewest_after_50"]) if steps > 50 else "—"
        lines.append(f"| {name} | {seed} | {r['mse']:.5f} | {r['perplexity']:.0f} | {trace} | {fewest} | "
                     f"{r['restarts']} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def goals(results: dict, seeds: list[int], steps: int) -> dict:
    """The issue's goals, on the mean over seeds: vae_core's defaults against the library's variants."""
    def mean(name, key):
        return sum(results[(name, s)][key] for s in seeds) / len(seeds)

    best_library = min(LIBRARY, key=lambda name: mean(name, "mse"))
    return {
        f"vae_core MSE <= best library variant ({best_library})": mean(DEFAULT, "mse") <= mean(best_library, "mse"),
        "vae_core perplexity >= library plain straight-through":
            mean(DEFAULT, "perplexity") >= mean("library, plain straight-through", "perplexity"),
        "vae_core uses >= 100 codes in every batch after step 50":
            steps > 50 and all(results[(DEFAULT, s)]["fewest_after_50"] >= 100 for s in seeds),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME",
                   help="variants to run (default: all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training images (0: all)")
    p.add_argument("--val-subset", "--test-subset", dest="val_subset", type=int, default=0,
                   help="evaluate on the first N validation images (0: all)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data, channels=1, image_size=28, log=lambda *a: None)
    ds = hold_out(ds, validation_size(len(ds.x_train)), Config().seed)  # vae_core.train's validation split
    x_train = ds.x_train[:args.train_subset or None]
    x_val = ds.x_val[:args.val_subset or None]
    from importlib.metadata import version

    import vector_quantize_pytorch  # noqa: F401  (fail before training if the library is missing)

    header = (f"CPU: {cpu_name()}, {args.threads} threads, native bf16: {cpu_has_bf16()}; torch {torch.__version__}, "
              f"vector-quantize-pytorch {version('vector-quantize-pytorch')}; {args.data}: {len(x_train)} train / "
              f"{len(x_val)} validation images; {args.steps} steps of batch 64")
    print(header, flush=True)
    results = {}
    for seed in args.seeds:
        for name in args.variants:
            results[(name, seed)] = train_variant(VARIANTS[name], x_train, x_val, args.steps, seed)
            r = results[(name, seed)]
            print(f"  {name}, seed {seed}: MSE {r['mse']:.5f}, perplexity {r['perplexity']:.0f}, "
                  f"{r['train_seconds']:.0f} s", flush=True)
    print(table(results, args.steps))
    met = goals(results, args.seeds, args.steps) if {DEFAULT, *LIBRARY} <= set(args.variants) else {}
    for goal, ok in met.items():
        print(f"{goal}: {'yes' if ok else 'no'}")
    out = {"header": header, "goals": met,
           "results": [{"quantizer": name, "seed": seed, **r} for (name, seed), r in results.items()]}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
