"""How many training images are held out as the validation split.

The validation split is where training is evaluated each epoch and where sweeps and benchmarks choose settings;
the test split is left for the figures reported (`python -m vae_core.evaluate`). Its size is
    n_val = min(5000, round(n_train / 10))   (at least 1; none for a training split of fewer than 2 images)
so a Fashion-MNIST-sized set (60,000 training images) holds out 5,000 and a small one a tenth.
"""
VALIDATION_IMAGES = 5000  # the most held out
VALIDATION_SHARE = 0.1  # the share held out of smaller training splits
VALIDATION_STREAM = 1  # the held-out images are drawn from numpy's stream (seed, 1): apart from seeded_split's


def validation_size(n_train: int) -> int:
    """The documented size of the validation split of `n_train` training images (the module docstring)."""
    if n_train < 2:
        return 0
    return min(VALIDATION_IMAGES, max(1, round(n_train * VALIDATION_SHARE)))
