"""The Maths tab's figure (Plotly dicts, like plots.py) and the key that names it.

The latent axes figure shows dims (i, j) of a VAE's latent exactly (or, for a latent of many numbers, two of its
principal directions, plane.py): every test image's posterior mean (one WebGL trace per class, customdata = image
index, as the latent map; small and faint, so that what lies under them shows), the aggregate posterior q(z) as a
heat map under them (posterior.py: its mean over each grid cell; transparent where it is 0; a click on its legend
entry hides it, a double click shows it alone), the prior N(0, I_2) as dashed circles and the selected image's 1- and
2-sigma posterior ellipses. The page fetches it by a key "name|i|j|index" (components/plot.py), which the view's
server functions parse back with `parse_axes_key`. The Monte Carlo samples z_l are not in the figure: they change
with L and the seed, so they travel in the plot's value as its `points` (`sample_positions`; Explorer.axes_positions
for a model of either kind of axes), drawn as shapes over the figure; the figure holds an empty trace that names them
in the legend (`samples_legend_trace`).
"""
import numpy as np

from explorer.compute.posterior import AxesError, LatentAxes, Outline
from explorer.figures.maps import COLORS, LAYOUT

SEP = "|"


def axes_key(name: str, i: int, j: int, index: int) -> str:
    return SEP.join((name, str(int(i)), str(int(j)), str(int(index))))


def parse_axes_key(key) -> tuple[str, int, int, int]:
    """(name, i, j, index) from "name|i|j|index" (the name may hold "|" itself); AxesError if it is not one."""
    parts = str(key).rsplit(SEP, 3) if isinstance(key, str) else []
    if len(parts) != 4 or not parts[0]:
        raise AxesError(f"not a latent axes figure key (name|i|j|index): {key!r}")
    try:
        i, j, index = (int(p) for p in parts[1:])
    except ValueError as e:
        raise AxesError(f"not a latent axes figure key (name|i|j|index): {key!r}") from e
    if min(i, j, index) < 0:
        raise AxesError(f"latent axes key {key!r}: dimensions and index must be >= 0")
    return parts[0], i, j, index


SAMPLES_NAME = "z_l = mu + sigma eps (Monte Carlo samples)"
SAMPLES_COLOR = "rgba(255, 140, 0, 0.9)"
POINT_SIZE, POINT_OPACITY = 2, 0.25  # the test images' mu: small and faint over the density
DENSITY_COLORS = [[0.0, "rgba(255, 255, 255, 0)"], [0.02, "#deebf7"], [0.3, "#6baed6"], [1.0, "#08306b"]]


def sample_positions(z, i: int, j: int) -> np.ndarray:
    """(L, 2): the samples z_l (L, d) on the axes (z_i, z_j), where the plot draws them."""
    z = np.asarray(z, dtype=np.float64)
    return z[:, [i, j]] if z.size else np.zeros((0, 2))


def _r(a) -> list:
    return np.round(np.asarray(a, dtype=np.float64), 4).tolist()


def point_traces(points: np.ndarray, labels: np.ndarray, label_names: list[str]) -> list[dict]:
    """One scattergl trace per class of the test images' (mu_i, mu_j); customdata = image index."""
    traces = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        name = label_names[k] if 0 <= k < len(label_names) else ("unlabelled" if k < 0 else str(k))
        traces.append({"type": "scattergl", "mode": "markers", "name": name, "x": _r(points[idx, 0]),
                       "y": _r(points[idx, 1]), "customdata": idx.tolist(),
                       "marker": {"size": POINT_SIZE, "color": COLORS[int(k) % len(COLORS)], "opacity": POINT_OPACITY},
                       "hovertemplate": f"{name}<br>#%{{customdata}}<extra></extra>"})
    return traces


def outline_trace(o: Outline, name: str, color: str, dash: str = "solid", legend: bool = True) -> dict:
    """A closed outline as a line trace (no customdata: a click on it decodes the spot, like empty space)."""
    return {"type": "scatter", "mode": "lines", "name": name, "x": _r(o.x), "y": _r(o.y), "hoverinfo": "skip",
            "line": {"color": color, "width": 2, "dash": dash}, "showlegend": legend}


def ellipse_traces(ellipses: list[Outline]) -> list[dict]:
    return [outline_trace(o, f"q(z|x) {o.level:g} sigma", "#d00", "solid" if o.level == 1 else "dot")
            for o in ellipses]


def prior_traces(prior: list[Outline]) -> list[dict]:
    return [outline_trace(o, "prior N(0, I): r = 1, 2, 3", "#888", "dash", legend=n == 0)
            for n, o in enumerate(prior)]


def aggregate_trace(axes: LatentAxes) -> dict:
    """The aggregate posterior q(z) (its mean over each grid cell) as a heat map from 0 (transparent: the page and
    its grid show through) to its peak, under the points; not hoverable, so a hover finds the points."""
    d = axes.aggregate
    name = f"aggregate q(z) ({axes.density_note})" if axes.density_note else "aggregate q(z)"
    return {"type": "heatmap", "name": name, "x": _r(d.xs), "y": _r(d.ys),
            "z": np.round(d.density, 6).tolist(), "zmin": 0.0, "zmax": float(d.density.max()), "zsmooth": "best",
            "showscale": False, "hoverinfo": "skip", "colorscale": DENSITY_COLORS, "showlegend": True}


def samples_legend_trace() -> dict:
    """A legend entry for the Monte Carlo samples, which the page draws as shapes (plot.js): a trace with no point."""
    return {"type": "scatter", "mode": "markers", "name": SAMPLES_NAME, "x": [None], "y": [None], "hoverinfo": "skip",
            "marker": {"size": 8, "color": SAMPLES_COLOR, "line": {"color": "black", "width": 1}}}


PRIOR_SAMPLE_STYLES = {"standard": ("z ~ N(0, I) (prior samples)", "rgba(120, 120, 120, 0.7)", "x"),
                       "fitted": ("z ~ fitted prior (samples)", "rgba(0, 150, 60, 0.7)", "cross")}


def prior_sample_traces(positions: dict) -> list[dict]:
    """The samples of each prior (positions: "standard"/"fitted" -> (n, 2) on the axes) as a point set, hidden
    until its legend entry is clicked; no customdata, so a click on one decodes its spot like empty space does."""
    traces = []
    for key, xy in positions.items():
        name, color, symbol = PRIOR_SAMPLE_STYLES[key]
        xy = np.asarray(xy)
        traces.append({"type": "scattergl", "mode": "markers", "name": name, "x": _r(xy[:, 0]), "y": _r(xy[:, 1]),
                       "marker": {"size": 5, "color": color, "symbol": symbol}, "visible": "legendonly",
                       "hovertemplate": f"{name}<br>click to decode<extra></extra>"})
    return traces


def latent_axes_figure(axes: LatentAxes, label_names: list[str], title: str, prior_samples: dict | None = None) -> dict:
    """Everything on the axes (z_i, z_j), or two principal directions, equal scales (the prior's circles look
    round); `prior_samples` (prior -> (n, 2) positions) adds each prior's samples as a point set."""
    data = [aggregate_trace(axes), *point_traces(axes.points, axes.labels, label_names),
            *prior_traces(axes.prior), *ellipse_traces(axes.ellipses), samples_legend_trace(),
            *prior_sample_traces(prior_samples or {})]
    x, y = axes.axis_titles()
    layout = {**LAYOUT, "title": {"text": title, "font": {"size": 13}},
              "xaxis": {"title": {"text": x}, "zeroline": False},
              "yaxis": {"title": {"text": y}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1}}
    return {"data": data, "layout": layout}
