"""The playground's picture, as one compact scene for the canvas component (web/components/playground.js): panels
in a plane (points, ellipses, arrows, codes), curves over the updates, numbers as base64 binary arrays
(binary_arrays.py). One scene per update: no Plotly, a few tens of kilobytes.

    VAE:    data space (data, reconstructions E[x|z=mu], prior samples decoded, the decoder's warped grid),
            latent space (mu of each point with its posterior N(mu, sigma^2) as an ellipse of 1 sd, the prior's 1
            and 2 sd circles, the grid of latents), losses, Var_L
    VQ-VAE: z_e and the codebook in one plane, each point coloured by its code (the Voronoi cells), dead codes
            marked, each code's step over the last update (x CODE_STEP_SCALE) and the commitment pull on z_e,
            the grid of latents; data, reconstructions and dec(z) of that grid; losses; usage (perplexity / K,
            share used, restarts)
    both:   after one step or a slow-motion update, the reconstructions' move over its last step as arrows
            (run.py), scaled up by a power of ten that the legend names
    images: the latent map or codebook usage and a strip of images (image_scenes.py), losses in nats
            per image (bits/dim = nats / (D ln 2), D the numbers per image), Var_L or usage over the batches
"""
import json
import math

import numpy as np

from explorer.figures.binary_arrays import binary_array
from explorer.playground.image_scenes import image_panels
from explorer.playground.scene_parts import COLORS, ELLIPSES, grid, step_arrows
from explorer.playground.scene_parts import points as _points
from explorer.playground.scene_parts import series as _series
from explorer.playground.scene_parts import square_range as _range
from explorer.playground.scene_parts import xy as _xy

PACE = 12  # scenes a second while it plays (the canvas asks for no more)
SLOW_PACE = 3  # in slow motion
CODE_STEP_SCALE = 5  # a code's step over one update is small: drawn this many times longer
DATA_RANGE = (-3.0, 3.0)


def with_step(layers: list[dict], s: dict) -> list[dict]:
    """`layers` and, when the snapshot has them, the last step's arrows on the reconstructions."""
    return layers + ([step_arrows(s["step_move"])] if s.get("step_move") else [])


def vae_panels(s: dict) -> list[dict]:
    line = "a line of z" if s["grid_z"].shape[0] == 1 else "a grid of z"
    data = {"title": f"data space: data, reconstructions E[x|z = mu], samples from the prior decoded; {line} "
                     "(+-3 sd) decoded",
            "range": [*DATA_RANGE, *DATA_RANGE],
            "layers": with_step([grid(s["grid_x"], COLORS["grid"], f"{line} decoded"),
                                 _points(s["data"], COLORS["data"], "data"),
                                 _points(s["recon"], COLORS["recon"], "reconstructions"),
                                 _points(s["samples"], COLORS["samples"], "prior samples")], s)}
    mu, sigma = s["mu"], s["sigma"]
    if mu.shape[1] == 1:  # a 1-D latent: mu on the horizontal axis, the data's first coordinate up
        mu = np.concatenate([mu, s["data"][:, :1]], 1)
        sigma = np.concatenate([sigma, np.full_like(sigma, 0.02)], 1)
        title = "latent space (1-D): mu of each point across, its data x1 up; bars: 1 sd of q(z|x)"
    else:
        title = "latent space: mu of each point, q(z|x) of some as 1-sd ellipses; prior N(0, I): 1 and 2 sd"
    k = min(ELLIPSES, len(mu))
    latent_grid = [grid(s["grid_z"], COLORS["grid"], "the grid of z")] if s["grid_z"].shape[-1] == 2 else []
    latent = {"title": title, "range": _range(mu, np.array([[-2.5, -2.5], [2.5, 2.5]])),
              "layers": [*latent_grid, {"type": "circles", "xy": _xy([[0, 0], [0, 0]]), "r": [1.0, 2.0],
                                        "color": "#bbbbbb", "name": "prior 1 and 2 sd"},
                         {"type": "ellipses", "xy": _xy(mu[:k]), "wh": _xy(sigma[:k]), "color": COLORS["kl"],
                          "name": "q(z|x), 1 sd"},
                         _points(mu, COLORS["data"], "mu(x)")]}
    return [data, latent]


def vq_panels(s: dict, num_codes: int) -> list[dict]:
    layers = [grid(s["grid_z"], COLORS["grid"], "a grid of z")]
    if "codes" in s:
        layers.append({"type": "coded", "xy": _xy(s["z_e"]), "code": binary_array(s["index"], "u1"),
                       "k": int(num_codes), "name": "z_e, coloured by its code"})
        layers.append({"type": "arrows", "xy": _xy(s["z_e"][::4]), "d": _xy(s["pull"][::4]),
                       "color": COLORS["pull"], "name": "commitment pull on z_e: beta (e - z_e)"})
        if s.get("code_step") is not None:
            layers.append({"type": "arrows", "xy": _xy(s["codes"]), "d": _xy(CODE_STEP_SCALE * s["code_step"]),
                           "color": COLORS["code_step"], "name": f"each code's last step x{CODE_STEP_SCALE}"})
        layers.append({"type": "codes", "xy": _xy(s["codes"]), "dead": binary_array(s["dead"], "u1"),
                       "k": int(num_codes), "name": "codes (crossed: dead, no point picks it)"})
    else:
        layers.append(_points(s["z_e"], COLORS["data"], "z_e (the codebook starts at the first step)"))
    plane = {"title": "z_e and the codebook: Voronoi cells by colour, dead codes crossed, arrows: steps",
             "range": _range(s["z_e"], s.get("codes"), s["grid_z"]), "layers": layers}
    data = {"title": "data space: data, reconstructions dec(z_q), and dec(z) of the grid of z (only codes are "
                     "decoded in training)", "range": [*DATA_RANGE, *DATA_RANGE],
            "layers": with_step([grid(s["grid_x"], COLORS["grid"], "the grid of z decoded"),
                                 _points(s["data"], COLORS["data"], "data"),
                                 _points(s["recon"], COLORS["recon"], "reconstructions")], s)}
    return [plane, data]


def bits_per_dim(s: dict, nats: float) -> float:
    """nats per image / (D ln 2)."""
    return nats / (s["pixels"] * math.log(2))


def curves_of(s: dict, num_codes: int = 0) -> list[dict]:
    c, images = s["curves"], s.get("case") == "images"
    if images:
        unit = (f"losses, nats per image (the discretised logistic: a code length; bits/dim = nats / "
                f"({s['pixels']} ln 2))")
    else:
        unit = "losses, nats per point (continuous density: can go below 0)" if s["kind"] == "vae" else \
            "losses per point"
    if s["kind"] == "vae":
        loss = {"title": unit,
                "series": [_series("-ELBO", c.loss, COLORS["loss"]), _series("reconstruction", c.recon,
                                                                            COLORS["recon_curve"]),
                           _series("KL", c.second, COLORS["kl"])]}
        shades = ["#d62728", "#ff7f0e", "#2ca02c"]
        variance = {"title": "gradient variance of the encoder, log10, over repeated single-batch estimates",
                    "series": [_series(f"L = {L}", np.log10(np.maximum(v, 1e-12)), shades[i % len(shades)])
                               for i, (L, v) in enumerate(sorted(c.variance.items()))]}
        return [loss, variance]
    loss = {"title": unit, "series": [_series("loss", c.loss, COLORS["loss"]),
                                                    _series("reconstruction", c.recon, COLORS["recon_curve"]),
                                                    _series("VQ (commitment + codebook)", c.second, COLORS["kl"])]}
    usage = {"title": "codebook usage over each update's batches" if images else "codebook usage over the data",
             "fixed": [0, 1],
             "series": [_series("share of codes used", c.used, COLORS["samples"]),
                        _series("perplexity / K", np.asarray(c.perplexity) / max(num_codes, 1), COLORS["kl"])]}
    return [loss, usage]


def playground_scene(s: dict | None, frame: int, num_codes: int = 0, status: str = "", playing: bool = False,
                     waiting: int = 0, slow: bool = False) -> str:
    """The component's value for snapshot `s` (PlaygroundRun.snapshot; None: nothing to draw) with its status line
    (playground_stats); `playing` keeps the page asking for updates (less often while `waiting` in line, or `slow`:
    slow motion, at its pace)."""
    head = {"frame": frame, "status": playground_stats(s, status), "playing": playing, "waiting": waiting,
            "pace": SLOW_PACE if slow else PACE}
    if s is None:
        return json.dumps({**head, "panels": [], "curves": []})
    if s.get("case") == "images":
        num_codes = num_codes or len(s.get("counts", ()))
        panels = image_panels(s)
    else:
        panels = vae_panels(s) if s["kind"] == "vae" else vq_panels(s, num_codes)
    return json.dumps({**head, "steps": s["steps"], "panels": panels, "curves": curves_of(s, num_codes)},
                      separators=(",", ":"))


def playground_stats(s: dict | None, status: str) -> str:
    """One line: the status, the step, the last losses, Var_L (VAE) or the codebook's usage (VQ-VAE)."""
    if s is None:
        return status
    c, parts = s["curves"], [status, f"step {s['steps']}"]
    if s.get("case") == "images":
        parts += image_stats(s)
    elif c.loss:
        if s["kind"] == "vae":
            parts.append(f"-ELBO {c.loss[-1]:.3f}: reconstruction {c.recon[-1]:.3f}, KL {c.second[-1]:.3f} "
                         "(nats per point)")
        else:
            parts.append(f"loss {c.loss[-1]:.4f} (reconstruction {c.recon[-1]:.4f}, VQ {c.second[-1]:.4f})")
            parts.append(f"perplexity {c.perplexity[-1]:.2f}, codes used {100 * c.used[-1]:.0f}%, "
                         f"restarts {int(c.restarts[-1])}, dead codes {int(s['dead'].sum()) if 'dead' in s else 0}")
    if s.get("variance"):
        v = s["variance"]
        parts.append("gradient variance of the encoder (sum over parameters, one batch, 8 draws each): "
                     + ", ".join(f"L = {L}: {v[L]:.3g}" for L in sorted(v)))
    return " · ".join(parts)


def image_stats(s: dict) -> list[str]:
    """An image run's part of the status line: the epoch, the losses in nats per image and bits/dim, the codebook."""
    c = s["curves"]
    parts = [f"epoch {s['epoch'] + s['epoch_progress']:.2f} of {s['set']} (map and strip from epoch {s['epoch']})"]
    if not c.loss:
        return parts
    if s["kind"] == "vae":
        parts.append(f"-ELBO {c.loss[-1]:.1f} nats per image = {bits_per_dim(s, c.loss[-1]):.3f} bits/dim: "
                     f"reconstruction {c.recon[-1]:.1f}, KL {c.second[-1]:.2f}")
    else:
        parts.append(f"loss {c.loss[-1]:.1f}: reconstruction {c.recon[-1]:.1f} nats per image = "
                     f"{bits_per_dim(s, c.recon[-1]):.3f} bits/dim (without the codes' own cost), VQ "
                     f"{c.second[-1]:.2f}")
        parts.append(f"perplexity {c.perplexity[-1]:.2f}, codes used {100 * c.used[-1]:.0f}% (this update's "
                     f"batches), restarts {int(c.restarts[-1])}, dead codes {int(s['dead'].sum())} (all the images, "
                     f"epoch {s['epoch']})")
    return parts
