"""Train the classifier whose features the sample-quality figures compare (vae_core.evaluation.classifier).

    python -m vae_core.train_classifier --data fashion-mnist --out classifiers/fashion-mnist [--epochs 8]

Trains on the training split less the seeded validation split (vae_core/data/validation.py), minimising the
cross-entropy -log softmax(logits)_y with Adam; keeps the weights of the epoch with the best validation accuracy,
then records that epoch's test accuracy in config.json. Needs labels: a data set without them has no classifier,
and its models' sample figures are skipped with a note.
"""
import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import DataError, hold_out, load_dataset, to_float, validation_size
from .evaluation.classifier import Classifier, ClassifierConfig, save_classifier
from .training.device import pick_device


@torch.no_grad()
def accuracy(clf: Classifier, x: np.ndarray, y: np.ndarray, device, batch_size: int = 1000) -> float:
    """Share of images (uint8 N x C x H x W) whose largest logit is their label."""
    clf.eval()
    right = sum((clf(to_float(x[i:i + batch_size], device)).argmax(1).cpu().numpy() == y[i:i + batch_size]).sum()
                for i in range(0, len(x), batch_size))
    return float(right) / len(x)


def train_classifier(ds, epochs: int = 8, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                     device="cpu", log=print) -> Classifier:
    """A classifier trained on ds's training split; the epoch kept is the best on its validation split."""
    if ds.y_train is None or ds.y_test is None:
        raise DataError(f"{ds.name} has no labels, so no classifier can be trained on it: the sample figures of its "
                        "models are skipped. Give the images labels (one sub-folder per class, or 'y' in an .npz)")
    ds = hold_out(ds, validation_size(len(ds.x_train)), seed)
    x_tr, y_tr = ds.x_train, ds.y_train
    num_classes = int(max(y_tr.max(), ds.y_test.max())) + 1
    torch.manual_seed(seed)  # the initial weights
    clf = Classifier(ClassifierConfig(image_shape=ds.image_shape, num_classes=num_classes, data=ds.name,
                                      label_names=list(ds.label_names))).to(device)
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x_tr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    best, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        clf.train()
        start = time.perf_counter()
        order = torch.randperm(len(x_tr), generator=gen).numpy()
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(clf(to_float(x_tr[idx], device)), torch.from_numpy(y_tr[idx]).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        val = accuracy(clf, ds.x_val, ds.y_val, device) if ds.x_val is not None else accuracy(clf, x_tr, y_tr, device)
        log(f"epoch {epoch}: loss {loss.item():.3f}, validation accuracy {val:.4f} "
            f"({time.perf_counter() - start:.0f} s)")
        if val > best:
            best, best_state = val, {k: v.detach().clone() for k, v in clf.state_dict().items()}
            clf.cfg.epochs, clf.cfg.validation_accuracy = epoch, val
    clf.load_state_dict(best_state)
    clf.cfg.test_accuracy = accuracy(clf, ds.x_test, ds.y_test, device)
    return clf.eval()


def main(argv=None) -> Classifier:
    p = argparse.ArgumentParser(prog="python -m vae_core.train_classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="fashion-mnist", help="data set name or path, with labels")
    p.add_argument("--data-dir", default="", help="folder to look for named data sets in first")
    p.add_argument("--out", help="the classifier's folder (default: classifiers/<data set name>)")
    p.add_argument("--epochs", type=int, default=8, help="at most this many; the best on the validation split is kept")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="peak Adam learning rate (one-cycle schedule)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    try:
        ds = load_dataset(args.data, args.data_dir, seed=args.seed)
        print(ds.describe())
        clf = train_classifier(ds, args.epochs, args.batch_size, args.lr, args.seed, pick_device(args.device))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    out = args.out or f"classifiers/{ds.name}"
    save_classifier(out, clf)
    print(f"{out}: epoch {clf.cfg.epochs} kept, validation accuracy {clf.cfg.validation_accuracy:.4f}, "
          f"test accuracy {clf.cfg.test_accuracy:.4f}")
    return clf


if __name__ == "__main__":
    main()
