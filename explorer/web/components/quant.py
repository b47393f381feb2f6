"""The quantisation of a test image by a VQ-VAE, cell by cell (explorer/compute/quantization.py), as HTML for the codes
view: heat maps over the code grid of the quantisation error ||z_e - e_q||^2 and of the flip distance (how far z_e
must move for its code to change: to the nearest face of its Voronoi cell; viridis, each with its range), the decodes
of z_e (before quantisation) and of z_q side by side, and the selected cell's nearest codes as clickable choices
(choices.js: a click triggers `click` with {code}), titled with its flip distance, the code across that face and the
margin d²(2nd) - d²(1st), in squared units."""

import numpy as np
import torch
from PIL import Image

from explorer.compute.colormap import heat_map
from explorer.web.components.choices import choices_value
from explorer.web.components.image import figure_html
from vae_core.data.images import to_pil


def finite(a: np.ndarray) -> np.ndarray:
    """`a` with inf (a cell with nothing to flip to) at its largest finite value, so that the heat map has a range."""
    ok = np.isfinite(a)
    return np.where(ok, a, a[ok].max() if ok.any() else 0.0)


def quantization_html(q) -> str:
    """Error and flip distance heat maps, then the decodes of z_e and z_q; `q` None (a grid sampled from the prior,
    made by no encoder) says so instead."""
    if q is None:
        return "<p>Quantisation: this grid was sampled from the prior, not encoded from a test image.</p>"
    figures = [figure_html(Image.fromarray(heat_map(q.error)),
                           f"error ||z_e - e_q||² ({q.error.min():.3g}..{q.error.max():.3g})"),
               figure_html(Image.fromarray(heat_map(finite(q.flip_distance))),
                           "how far z_e must move to flip its code: to its cell's nearest face "
                           f"({q.flip_distance.min():.3g}..{q.flip_distance.max():.3g})"),
               figure_html(to_pil(torch.from_numpy(q.decode_e)), "decode of z_e (not quantised)"),
               figure_html(to_pil(torch.from_numpy(q.decode_q)), "decode of z_q")]
    return f'<div class="vx-quant">{"".join(figures)}</div>'


def nearest_choices(q, cell) -> str:
    """The selected cell's nearest codes (nearest first) with their squared distances, as the choices component's
    value (choices.py); a click uses one. None (a grid sampled from the prior): no choices."""
    if q is None:
        return choices_value("")
    r, c = cell
    codes, dist = q.top_codes[r, c], q.top_distances[r, c]
    items = [{"code": k, "label": f"d² {d:.3g}", "hint": f"code {int(k)}: ||z_e - e||² = {d:.4g}"}
             for k, d in zip(codes.tolist(), dist.tolist())]
    flip, across = float(q.flip_distance[r, c]), int(q.flip_code[r, c])
    to_flip = f"{flip:.3g} from flipping to code {across}" if across >= 0 else "no other code to flip to"
    title = (f"Nearest codes to z_e at cell ({r}, {c}): z_e is {to_flip} (its Voronoi cell's nearest face); "
             f"d²(2nd) − d²(1st) = {float(q.margin[r, c]):.3g}, squared units (click one to use it):")
    return choices_value(title, items)

