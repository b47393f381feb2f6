"""The sample-quality figures of the shipped models side by side, in one run, beside the classifier and the floor.

    python -m benchmarks.sample_quality_benchmark [--checkpoints checkpoints/fashion-vae ...] [--n 5000] [--k 3]
                                                  [--seed 0] [--json benchmarks/results_sample_quality.json]

For each checkpoint: n samples (seeded), scored against n test images in the features of the data set's classifier
(vae_core.evaluation.classifier_lookup, or --classifier), by the Frechet distance and the k-NN precision/recall
(vae_core.evaluation.samples, the figures `evaluate --json` records); a VAE with a fitted prior also with
z ~ N(0, I). The floor, n training images against the same test images, and the classifier's test accuracy are
printed above the table; so is the machine (benchmarks/machine.py). Each model's wall-clock seconds (sampling,
features, the figures) are given for scale; nothing here asserts a timing.
"""
import argparse
import json
import os
import time
from pathlib import Path

import torch

import vae_core
from benchmarks.machine import describe, machine
from vae_core.data import load_dataset
from vae_core.evaluation.classifier_lookup import find_classifier
from vae_core.evaluation.samples import STANDARD_SUFFIX, sample_metrics

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [ROOT / "checkpoints" / name for name in ("fashion-vae", "fashion-vae-2d", "fashion-vqvae")]


def how_sampled(model, standard: bool = False) -> str:
    if model.cfg.model == "vqvae":
        return "code grids from its prior"
    if standard or getattr(model, "fitted_prior", None) is None:
        return "z ~ N(0, I)"
    return "z from its fitted prior"


def shown(note: str) -> str:
    """The classifier's folder from find_classifier's note ("classifier PATH (test accuracy ...)"), relative to the
    repository where it lies in it."""
    path = Path(note.removeprefix("classifier ").rsplit(" (test accuracy", 1)[0])
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(checkpoints, n: int = 5000, k: int = 3, seed: int = 0, classifier=None, log=print) -> dict:
    """{"machine", "load_average", "n", "k", "seed", "classifier", "classifier_accuracy", "floor", "rows"}."""
    rows, floor, clf_info = [], None, {}
    datasets = {}
    for folder in map(Path, checkpoints):
        model = vae_core.load(folder)
        cfg = model.cfg
        key = (cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, cfg.seed)
        if key not in datasets:
            datasets[key] = load_dataset(cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, seed=cfg.seed,
                                         log=lambda *a: None)
        ds = datasets[key]
        clf, note = find_classifier(cfg.data, (cfg.channels, cfg.image_size, cfg.image_size), folder, classifier,
                                    ds.y_train is not None)
        start = time.perf_counter()
        m = sample_metrics(model, clf, note, ds.x_test, ds.x_train, n, seed, k)
        seconds = time.perf_counter() - start
        if "sample_note" in m:
            rows.append({"checkpoint": folder.name, "sampled": how_sampled(model), "note": m["sample_note"]})
            log(f"{folder.name}: {m['sample_note']}")
            continue
        floor = {key: m[f"sample_floor_{key}"] for key in ("fd", "precision", "recall")}
        clf_info = {"classifier": shown(note), "classifier_accuracy": m["classifier_accuracy"]}
        variants = [("", False)] + ([(STANDARD_SUFFIX, True)] if "sample_fd" + STANDARD_SUFFIX in m else [])
        for suffix, standard in variants:
            rows.append({"checkpoint": folder.name, "sampled": how_sampled(model, standard),
                         **{key: m[f"sample_{key}{suffix}"] for key in ("fd", "precision", "recall")},
                         "seconds": seconds})
            log(f"{folder.name} ({rows[-1]['sampled']}): FD {rows[-1]['fd']:.2f}, precision "
                f"{rows[-1]['precision']:.3f}, recall {rows[-1]['recall']:.3f} ({seconds:.0f} s)")
    return {"machine": machine(), "load_average": os.getloadavg(), "n": n, "k": k, "seed": seed, **clf_info,
            "floor": floor, "rows": rows, "threads": torch.get_num_threads()}


def table(r: dict) -> str:
    """The Markdown report: the machine, the classifier and the floor, then one row per model (and prior)."""
    lines = [f"Machine: {describe(r['machine'])}; {r.get('threads', '?')} torch threads; load average "
             f"{r['load_average'][0]:.1f} at the start.",
             f"{r['n']:,} samples per model against {r['n']:,} test images, k = {r['k']}, seed {r['seed']}."]
    if r.get("floor"):
        f = r["floor"]
        lines.append(f"Classifier: {r['classifier']}, test accuracy {r['classifier_accuracy']:.1%}. Floor ({r['n']:,} "
                     f"training images against the test images): FD {f['fd']:.2f}, precision {f['precision']:.3f}, "
                     f"recall {f['recall']:.3f}.")
    lines += ["", "| checkpoint | sampled | FD | precision | recall | seconds |", "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if "note" in row:
            lines.append(f"| `{row['checkpoint']}` | {row['sampled']} | {row['note']} | | | |")
        else:
            lines.append(f"| `{row['checkpoint']}` | {row['sampled']} | {row['fd']:.2f} | {row['precision']:.3f} | "
                         f"{row['recall']:.3f} | {row['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", type=Path, default=SHIPPED)
    p.add_argument("--n", type=int, default=5000, help="samples per model, and test and training images")
    p.add_argument("--k", type=int, default=3, help="the neighbour that sets each k-NN ball's radius")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier", help="classifier folder (default: each data set's)")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    r = run(args.checkpoints, args.n, args.k, args.seed, args.classifier)
    print(table(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    return r


if __name__ == "__main__":
    main()
