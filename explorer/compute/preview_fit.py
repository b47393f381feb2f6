"""Fitting a preview decoder (models/preview.py) to a model's full decoder, within a time budget.

    held-out latents:  the full decoder's images D(mu_i) for a few latents never trained on (the fidelity's reference)
    targets:           D(mu_i) for the training latents when decoding them all fits in TARGET_SHARE of the budget,
                       else the images x_i themselves (a slow decoder: the preview then learns x ~ D(mu(x)))
    training:          Adam on the mean squared error ||P(mu_i) - target_i||^2 until the budget is spent
    fidelity:          PSNR = 10 log10(1 / MSE(P(mu), D(mu))) over the held-out latents, in dB

Targets are kept as 8-bit images (a decoder's image at 256 x 256 is 0.8 MB in floats: 10,000 of them would not fit).
"""
import math
import time
from dataclasses import replace

import numpy as np
import torch

from explorer.errors import PreviewError
from explorer.models.preview import PreviewConfig, PreviewDecoder

TARGET_SHARE = 0.3  # the most of the budget spent decoding training targets with the full decoder
HELD_OUT_SHARE = 0.15  # the most of the budget spent decoding held-out latents with the full decoder
HELD_OUT = (4, 64)  # the fewest and most held-out latents
ESTIMATE_SHARE = 0.05  # the most of the budget spent timing the full decoder on a batch
BATCH = 32
LEARNING_RATE = 2e-3


def to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))  # images in [0, 1]: the peak is 1


def decode_all(decode, latents: np.ndarray, batch: int, what: str, log) -> np.ndarray:
    """The full decoder's 8-bit images for `latents`, in batches, reporting each."""
    out, n = [], -(-len(latents) // batch)
    for b in range(n):
        if n > 1:
            log(f"{what}: batch {b + 1} of {n}")
        out.append(to_uint8(decode(torch.from_numpy(latents[b * batch:(b + 1) * batch]))))
    return np.concatenate(out)


def seconds_per_decode(decode, latents: np.ndarray, seconds: float) -> float:
    """Wall time of the full decoder per latent: one latent timed first (it warms up too); when that is quick beside
    the budget `seconds`, `latents` (B, d) as one batch, which for a small model costs far less than B single
    decodes. A slow decoder's batch would spend the budget on the estimate alone."""
    z = torch.from_numpy(np.ascontiguousarray(latents))
    start = time.perf_counter()
    decode(z[:1])
    one = time.perf_counter() - start
    if one * len(z) > ESTIMATE_SHARE * seconds:
        return one
    start = time.perf_counter()
    decode(z)
    return (time.perf_counter() - start) / len(z)


def fit_preview(decode, latents: np.ndarray, images: np.ndarray, cfg: PreviewConfig, seconds: float,
                log=print, seed: int = 0, max_steps: int | None = None) -> PreviewDecoder:
    """A preview decoder for `decode` (z (B, d) -> images in [0, 1], the full decoder) fitted within `seconds`.
    latents (N, d) float32 are the images' posterior means; images (N, C, H, W) uint8 the images themselves.
    `max_steps` stops training earlier (tests). Its config records the fidelity, the target, the pairs, the steps and
    the training time."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(latents))
    per = seconds_per_decode(decode, latents[order[:BATCH]], seconds)
    held = int(np.clip(HELD_OUT_SHARE * seconds / max(per, 1e-6), *HELD_OUT))
    held = max(1, min(held, len(latents) // 5))
    held_idx, train_idx = order[:held], order[held:]
    log(f"full decoder: {per:.3g} s a latent in batches; {held} held-out latents, {len(train_idx)} to train on")
    reference = decode_all(decode, latents[held_idx], BATCH, "decoding the held-out latents", log)
    if per * len(train_idx) <= TARGET_SHARE * seconds:
        target = "full decoder"
        targets = decode_all(decode, latents[train_idx], BATCH, "decoding the training latents", log)
    else:
        target = "images"
        targets = images[train_idx]
        log(f"decoding {len(train_idx)} latents would take {per * len(train_idx):.0f} s: fitting the images instead")
    z_train = torch.from_numpy(latents[train_idx]).float()

    torch.manual_seed(seed)
    net = PreviewDecoder(cfg)
    net.shift.copy_(z_train.mean(0))
    net.scale.copy_(z_train.std(0).clamp_min(1e-3))
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    train_start, steps = time.perf_counter(), 0
    budget = seconds - (train_start - started)
    last_note = train_start
    net.train()
    while True:
        elapsed = time.perf_counter() - train_start
        if elapsed >= budget or (max_steps is not None and steps >= max_steps):
            break
        for group in opt.param_groups:  # the last third of the time at a falling learning rate
            group["lr"] = LEARNING_RATE * min(1.0, 3 * (1 - elapsed / budget))
        pick = rng.integers(0, len(train_idx), min(BATCH, len(train_idx)))
        x = torch.from_numpy(targets[pick]).float() / 255
        loss = ((net(z_train[pick]) - x) ** 2).mean()  # ||P(mu) - target||^2
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if time.perf_counter() - last_note > 10:
            last_note = time.perf_counter()
            batch_psnr = -10 * math.log10(float(loss.detach()))
            log(f"step {steps}: {elapsed:.0f} of {budget:.0f} s, PSNR on its batch {batch_psnr:.1f} dB")
    train_seconds = time.perf_counter() - train_start
    if steps == 0:
        raise PreviewError(f"no training step fitted in {seconds / 60:g} minutes: the full decoder took {per:.1f} s "
                           f"a latent, and decoding the {held} held-out latents and the estimate used it all; give "
                           "--minutes more")
    net.eval()
    with torch.no_grad():
        got = net(torch.from_numpy(latents[held_idx]).float()).clamp(0, 1)
    fidelity = psnr(got, torch.from_numpy(reference).float() / 255)
    net.cfg = replace(cfg, target=target, fidelity_db=round(fidelity, 2), held_out=int(held), pairs=len(train_idx),
                      steps=steps, train_seconds=round(train_seconds, 1),
                      extra={**cfg.extra, "threads": torch.get_num_threads(), "learning_rate": LEARNING_RATE,
                             "seconds_per_full_decode": round(per, 4)})
    log(f"{steps} steps in {train_seconds:.0f} s; PSNR against the full decoder on {held} held-out latents: "
        f"{fidelity:.1f} dB")
    return net
