"""Which classifier scores a model's samples: the one for its data set, found by the Config's `data` name.

Looked for, first found wins:
    the folder given (evaluate's --classifier FOLDER)
    <checkpoint>/classifier/                        beside the model
    <data folder>/classifier/, or <data file>.classifier/ beside an .npz   beside a data set given by path
    classifiers/<data set name>/                    in the repository (and in the working folder)
A classifier for other images (another shape) is passed over. With none, the figures are skipped and the note says
why: the data has no labels to train one on, or the command that trains one.
"""
from pathlib import Path

from .classifier import Classifier, ClassifierError, is_classifier_folder, load_classifier

REPO = Path(__file__).resolve().parents[1]
FOLDER = "classifiers"  # classifiers/<data set name>/ in the repository
BESIDE = "classifier"  # <checkpoint>/classifier/, <data folder>/classifier/


def data_set_name(data: str) -> str:
    """The name a data set goes by (vae_core.data): a named set's name, else its folder's name or file's stem."""
    path = Path(data)
    return path.stem if path.suffix == ".npz" else (path.name or data)


def candidates(data: str, checkpoint: str | Path | None = None) -> list[Path]:
    """The folders looked in for the classifier of `data`, in order (the module docstring)."""
    found = [Path(checkpoint) / BESIDE] if checkpoint else []
    path = Path(data).expanduser()
    if path.is_dir():
        found.append(path / BESIDE)
    elif path.suffix == ".npz":
        found.append(path.with_suffix(".classifier"))
    name = data_set_name(data)
    found += [REPO / FOLDER / name, Path.cwd() / FOLDER / name]
    return list(dict.fromkeys(p.resolve() for p in found))


def train_hint(data: str) -> str:
    return f"python -m vae_core.train_classifier --data {data} --out {FOLDER}/{data_set_name(data)}"


def find_classifier(data: str, image_shape: tuple[int, int, int], checkpoint: str | Path | None = None,
                    folder: str | Path | None = None, has_labels: bool | None = None,
                    device="cpu") -> tuple[Classifier | None, str]:
    """(classifier, note): the classifier for images of `image_shape` from data set `data`, or None and a note
    that says why there is none and what to do. `folder` (given by hand) is the only place looked in when set,
    and one that cannot be loaded raises ClassifierError. has_labels False: the data set has none."""
    shape = tuple(int(s) for s in image_shape)
    if folder is not None:
        clf = load_classifier(folder, device)
        if clf.image_shape != shape:
            raise ClassifierError(f"{folder}: the classifier takes images of {clf.image_shape}, the model makes "
                                  f"{shape}: pass the classifier of the model's data set, or train one with "
                                  f"{train_hint(data)}")
        return clf, f"classifier {folder} (test accuracy {clf.test_accuracy:.4f})"
    passed_over = []
    for path in candidates(data, checkpoint):
        if not is_classifier_folder(path):
            continue
        clf = load_classifier(path, device)
        if clf.image_shape == shape:
            return clf, f"classifier {path} (test accuracy {clf.test_accuracy:.4f})"
        passed_over.append(f"{path} takes images of {clf.image_shape}")
    other = f" ({'; '.join(passed_over)}, the model makes {shape})" if passed_over else ""
    if has_labels is False:
        return None, (f"sample figures skipped: {data_set_name(data)} has no labels, so no classifier can be trained "
                      f"on it{other}; pass one with --classifier FOLDER")
    return None, (f"sample figures skipped: no classifier for {data_set_name(data)}{other}; train one with "
                  f"{train_hint(data)}, or pass one with --classifier FOLDER")
