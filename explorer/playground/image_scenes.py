"""The playground's image case drawn, as panels of the scene (scenes.py) that the canvas component
(web/components/playground.js) draws, all from the last epoch's end (PlaygroundRun.snapshot):

    VAE:    the latent map: mu(x) of the shown images coloured by their label (a legend names the labels), q(z|x)
            of some as 1-sd ellipses, the prior's 1 and 2 sd circles (a 1-D latent: mu across, the label up)
    VQ-VAE: codebook usage: a bar per code, n_k = the cells of all the images that pick code k; dead codes
            (n_k = 0) crossed
    both:   a strip of grey images (uint8): the fixed images, their reconstructions, and samples
"""
import numpy as np

from explorer.figures.binary_arrays import binary_array
from explorer.playground.scene_parts import COLORS, ELLIPSES, square_range, xy

PRIOR_BOX = np.array([[-2.5, -2.5], [2.5, 2.5]])  # the map shows at least the prior's 2.5 sd
JITTER = 0.3  # a 1-D latent's map: the spread of each label's row


def latent_map(s: dict) -> dict:
    mu, sigma, labels, names = s["mu"], s["sigma"], s["labels"], s["label_names"]
    k = min(ELLIPSES, len(mu))
    layers = []
    if mu.shape[1] == 1:  # mu across; up, the label's row, spread by a fixed jitter so the points do not hide
        up = labels + JITTER * (np.linspace(-1, 1, len(mu)) if len(mu) > 1 else 0)
        mu = np.concatenate([mu, up[:, None]], 1)
        sigma = np.concatenate([sigma, np.full_like(sigma, 0.02)], 1)
        low, high = float(min(mu[:, 0].min(), -2.5)), float(max(mu[:, 0].max(), 2.5))
        box = [low, high, -1.0, float(len(names))]
        title = "latent space (1-D): mu(x) across, the image's label up; bars: 1 sd of q(z|x)"
    else:
        box = square_range(mu, PRIOR_BOX)
        title = "latent space: mu(x) of each image by its label, q(z|x) of some as 1-sd ellipses; prior N(0, I)"
        layers.append({"type": "circles", "xy": xy([[0, 0], [0, 0]]), "r": [1.0, 2.0], "color": "#bbbbbb",
                       "name": "prior 1 and 2 sd"})
    layers.append({"type": "ellipses", "xy": xy(mu[:k]), "wh": xy(sigma[:k]), "color": "#999999",
                   "name": "q(z|x), 1 sd"})
    layers.append({"type": "labelled", "xy": xy(mu), "label": binary_array(labels, "u1"), "names": names})
    return {"title": f"{title} (epoch {s['epoch']})", "range": box, "layers": layers}


def code_usage(s: dict) -> dict:
    counts, dead = s["counts"], s["dead"]
    before = "" if s["initialized"] else ": before the first step, the codebook is a random placeholder"
    return {"kind": "bars", "title": f"codebook usage over all the images (epoch {s['epoch']}): cells picking each "
                                     f"code, perplexity {s['epoch_perplexity']:.1f} of {len(counts)}{before}",
            "counts": binary_array(counts, "f4"), "dead": binary_array(dead, "u1"),
            "legend": [["cells picking the code", COLORS["data"]], ["dead: no cell picks it", "#d62728"]]}


def strip(s: dict) -> dict:
    note = ("samples: z ~ N(0, I) decoded" if s["kind"] == "vae" else
            "samples: each cell's code drawn on its own from how often that cell picks it over the images; with "
            "no prior over the grid the cells do not agree on one picture (the Generate tab's prior models it)")
    rows = [("images", s["strip_data"]), ("reconstructions", s["strip_recon"]), ("samples", s["strip_samples"])]
    return {"kind": "strip", "title": f"images, reconstructions and samples (epoch {s['epoch']})", "note": note,
            "rows": [{"name": name, "images": binary_array(a, "u1"), "n": int(a.shape[0]), "h": int(a.shape[1]),
                      "w": int(a.shape[2])} for name, a in rows]}


def image_panels(s: dict) -> list[dict]:
    """The panels of an image run's snapshot: the latent map (VAE) or codebook usage (VQ-VAE), and the strip."""
    return [latent_map(s) if s["kind"] == "vae" else code_usage(s), strip(s)]
