"""The sample-quality figures a checkpoint recorded, as one line of Markdown for the Models and Generate views.

The figures are not computed here (5,000 samples take too long for a page): `python -m vae_core.evaluate` records
them in the checkpoint's eval.json (or config.json's record). They are the Frechet distance and the k-NN
precision/recall of the model's samples against the test split in a classifier's features, each beside the floor
that the training images reach against the same test images.
"""
import json
from pathlib import Path

from explorer.models.vae_core_models import is_sample_key

EVAL = "eval.json"  # evaluate's --json output, kept in the checkpoint folder


def recorded_metrics(folder: Path | None, record: dict | None = None) -> dict:
    """The sample figures of a checkpoint: those in <folder>/eval.json, else those in its record's metrics."""
    path = Path(folder) / EVAL if folder else None
    try:
        found = json.loads(path.read_text()) if path and path.is_file() else {}
    except (OSError, ValueError):
        found = {}
    for source in (found if isinstance(found, dict) else {}, record or {}):
        figures = {k: v for k, v in source.items() if is_sample_key(k)}
        if figures:
            return figures
    return {}


def compute_command(folder: str = "CKPT") -> str:
    return f"python -m vae_core.evaluate {folder} --samples-only --update {folder}/{EVAL}"


def _figures(m: dict, suffix: str = "") -> str:
    fd, p, r = (m.get(f"sample_{k}{suffix}") for k in ("fd", "precision", "recall"))
    return f"FD **{fd:.2f}**, precision **{p:.2f}**, recall **{r:.2f}**"


def sample_figures_note(metrics: dict, folder: str = "CKPT") -> str:
    """Markdown: the recorded sample figures with the floor and the classifier's accuracy; the note that says why
    there are none; or, with none recorded, the command that computes them for checkpoint `folder`."""
    if "sample_fd" in metrics:
        n, k = metrics.get("sample_n", "?"), metrics.get("sample_k", "?")
        n = f"{n:,}" if isinstance(n, int) else n
        line = f"Sample quality ({n} samples vs the test split, classifier features, k = {k}): {_figures(metrics)}"
        if "sample_fd_standard" in metrics:  # the default drew z from a fitted prior; z ~ N(0, I) beside it
            line = line.replace("): ", "), fitted prior: ", 1) + f"; z ~ N(0, I): {_figures(metrics, '_standard')}"
        floor = (f"floor (training images vs test) FD {metrics.get('sample_floor_fd', float('nan')):.2f}, "
                 f"precision {metrics.get('sample_floor_precision', float('nan')):.2f}, "
                 f"recall {metrics.get('sample_floor_recall', float('nan')):.2f}")
        acc = metrics.get("classifier_accuracy")
        acc = f"; classifier test accuracy {acc:.1%}" if isinstance(acc, (int, float)) else ""
        return f"{line}; {floor}{acc}."
    if metrics.get("sample_note"):
        return f"Sample quality: {metrics['sample_note']}."
    return f"Sample quality not recorded: compute it with `{compute_command(folder)}`."


def checkpoint_note(found) -> str:
    """sample_figures_note for a FoundModel; models vae_core did not train record no figures."""
    if found.record() is None or found.folder is None:
        return "Sample quality: not recorded (vae_core's evaluate scores the checkpoints it trains)."
    path = Path(found.folder)
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return sample_figures_note(recorded_metrics(path, found.record()), shown)
