"""evaluate's sample-quality keys for one model (vae_core.evaluation.sample_figures), or the note that says why there
are none.

    sample_fd, sample_precision, sample_recall       n samples against the test split, in the classifier's features
    sample_floor_fd, sample_floor_precision, ..._recall   the test split against n training images: the floor
    sample_n, sample_k, classifier_accuracy
    sample_note                                      instead, when the model cannot sample or there is no classifier

A VAE whose checkpoint holds a fitted prior over z (`model.fitted_prior`) samples from it by default; its figures
with z ~ N(0, I) (`model.sample(..., prior="standard")`) come beside them, the keys suffixed _standard.
"""
import json
import os
from pathlib import Path

from .sample_figures import reference, sample_figures

STANDARD_SUFFIX = "_standard"
MODEL_KEYS = ("sample_fd", "sample_precision", "sample_recall")  # the keys that depend on how z is drawn


def is_sample_key(key: str) -> bool:
    """Whether `key` is one of this module's (the sample figures, their floor, note and classifier)."""
    return key.startswith("sample_") or key == "classifier_accuracy"


def cannot_sample(model) -> str | None:
    """Why `model` cannot sample (a VQ-VAE without a prior, or with a stale one), else None."""
    if model.cfg.model != "vqvae" or getattr(model, "prior", None) is not None:
        return None
    why = getattr(model, "prior_problem", None) or "it has no prior over its code grids"
    return (f"sample figures skipped: this VQ-VAE cannot sample ({why}); train its prior with "
            f"python -m vae_core.train_prior {getattr(model, 'folder', None) or 'CKPT'}")


def sample_metrics(model, clf, note: str, test_x, train_x, n: int = 5000, seed: int = 0, k: int = 3) -> dict:
    """The keys of the module docstring for `model`, scored by classifier `clf` (None: skipped, with `note`)."""
    problem = cannot_sample(model)
    if problem or clf is None:
        return {"sample_note": problem or note}
    ref = reference(clf, test_x, train_x, n, seed, k)
    out = sample_figures(model, clf, test_x, train_x, n, seed, k=k, ref=ref)
    if getattr(model, "fitted_prior", None) is not None:  # the default drew z from the fitted prior
        out["sample_prior"] = "fitted"
        standard = sample_figures(model, clf, test_x, train_x, n, seed, k=k, ref=ref, prior="standard")
        out.update({key + STANDARD_SUFFIX: standard[key] for key in MODEL_KEYS})
    return out


def merge_into(path: str | Path, metrics: dict) -> dict:
    """Add `metrics` to the JSON object in `path` (its other keys kept; a missing file is a new object) and write it
    back atomically (a temporary file renamed over it); returns the merged object."""
    path = Path(path)
    old = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(old, dict):
        raise ValueError(f"{path} holds {type(old).__name__}, not a JSON object of metrics: pass an eval.json")
    stale = {key for key in old if is_sample_key(key) and key not in metrics}  # from an earlier run
    merged = {key: v for key, v in old.items() if key not in stale} | metrics
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(merged) + "\n")
    os.replace(tmp, path)
    return merged
