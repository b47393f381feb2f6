"""Images fitted to another model's input: channels and size."""
import torch

from explorer.compute.fit_images import LUMA, fit


def test_grey_to_rgb_repeats_and_rgb_to_grey_is_the_luma():
    grey = torch.rand(2, 1, 8, 8)
    rgb = fit(grey, (3, 8, 8))
    assert rgb.shape == (2, 3, 8, 8) and torch.equal(rgb[:, 0], rgb[:, 2]) and torch.equal(rgb[:, 1], grey[:, 0])
    colour = torch.rand(1, 3, 8, 8)
    want = sum(w * colour[:, k] for k, w in enumerate(LUMA))
    torch.testing.assert_close(fit(colour, (1, 8, 8))[:, 0], want)


def test_the_size_changes_and_a_fitting_batch_is_left_alone():
    x = torch.rand(3, 1, 28, 28)
    assert fit(x, (1, 28, 28)) is x or torch.equal(fit(x, (1, 28, 28)), x)
    y = fit(x, (3, 64, 64))
    assert y.shape == (3, 3, 64, 64) and 0 <= float(y.min()) and float(y.max()) <= 1
    flat = torch.full((1, 1, 28, 28), 0.25)
    torch.testing.assert_close(fit(flat, (1, 14, 14)), torch.full((1, 1, 14, 14), 0.25))  # a constant stays
