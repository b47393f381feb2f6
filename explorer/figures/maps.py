"""Plotly figures as plain dicts (JSON-ready), drawn in the browser by plotly.js."""
import numpy as np

from explorer.figures.binary_arrays import binary_array

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf"]
LAYOUT = {"margin": {"l": 40, "r": 10, "t": 30, "b": 30}, "hovermode": "closest", "dragmode": "pan",
          "legend": {"itemsizing": "constant"}, "uirevision": "keep"}


def latent_map(coords: np.ndarray, labels: np.ndarray, label_names: list[str], title: str) -> dict:
    """One WebGL trace per class (legend names them); customdata = point index. The current-latent marker is
    a layout shape drawn by components/plot.js. Positions and indices travel as binary arrays (binary_arrays.py):
    at 70,000 points a third of the JSON lists' size, built 25 times as fast (benchmarks/map_scale_benchmark.py)."""
    traces = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        name = label_names[k] if 0 <= k < len(label_names) else ("unlabelled" if k < 0 else str(k))
        traces.append({
            "type": "scattergl", "mode": "markers", "name": name,
            "x": binary_array(coords[idx, 0]), "y": binary_array(coords[idx, 1]),
            "customdata": binary_array(idx, "i4"),
            "marker": {"size": 4, "color": COLORS[int(k) % len(COLORS)], "opacity": 0.7},
            "hovertemplate": f"{name}<br>#%{{customdata}}<extra></extra>",
        })
    return {"data": traces, "layout": {**LAYOUT, "title": {"text": title, "font": {"size": 13}}}}


def codebook_map(coords: np.ndarray, counts: np.ndarray, method: str) -> dict:
    k = np.arange(len(coords))
    trace = {
        "type": "scattergl", "mode": "markers", "name": "codes", "x": binary_array(coords[:, 0]),
        "y": binary_array(coords[:, 1]), "customdata": binary_array(k, "i4"),
        "text": [f"code {i}: used {int(c)} times" for i, c in zip(k, counts)], "hoverinfo": "text",
        "marker": {"size": 7, "color": np.log1p(counts).round(3).tolist(), "colorscale": "Viridis",
                   "colorbar": {"title": {"text": "log(1+uses)"}}},
    }
    title = f"codebook ({method.upper()}) by usage; click a code to use it"
    return {"data": [trace], "layout": {**LAYOUT, "showlegend": False,
                                                        "title": {"text": title, "font": {"size": 13}}}}


def usage_histogram(counts: np.ndarray, usage: dict) -> dict:
    order = np.argsort(-counts, kind="stable")
    dead = np.flatnonzero(counts[order] == 0)
    title = (f"code usage, sorted: perplexity {usage['perplexity']:.1f}, {100 * usage['codes_used']:.1f}% used, "
             f"{usage['dead_codes']} dead")
    return {"data": [
        {"type": "bar", "name": "uses", "x": list(range(len(counts))), "y": counts[order].tolist(),
         "customdata": order.tolist(), "hovertemplate": "code %{customdata}: %{y} uses<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": "dead codes", "x": dead.tolist(), "y": [0] * len(dead),
         "marker": {"color": "red", "symbol": "x", "size": 6}},
    ], "layout": {**LAYOUT, "title": {"text": title, "font": {"size": 13}}, "xaxis": {"title": {"text": "rank"}},
                  "yaxis": {"title": {"text": "uses over the test split"}}}}


def training_curves(history: list[dict], kind: str) -> dict:
    epochs = [h.get("epoch") for h in history]
    present = {k for h in history for k in h}  # the curves the checkpoint recorded (models differ)
    left = [k for k in (["neg_elbo", "train_loss"] if kind == "vae" else ["mse"]) if k in present]
    right = [k for k in (["kl"] if kind == "vae" else ["codes_used"]) if k in present]
    data = [{"type": "scatter", "mode": "lines+markers", "name": k, "x": epochs, "y": [h.get(k) for h in history]}
            for k in left]
    data += [{"type": "scatter", "mode": "lines+markers", "name": k, "x": epochs, "y": [h.get(k) for h in history],
              "yaxis": "y2", "line": {"dash": "dot"}} for k in right]
    splits = sorted({h.get("split", "test") for h in history}) or ["test"]  # runs with a validation split say so
    title = f"training curves ({' and '.join(splits)} split{'s' if len(splits) > 1 else ''})"
    # the legend in a row under the plot: at Plotly's default place (right) it covers the secondary axis' ticks
    return {"data": data, "layout": {**LAYOUT, "title": {"text": title, "font": {"size": 13}},
                                     "xaxis": {"title": {"text": "epoch"}},
                                     "yaxis2": {"overlaying": "y", "side": "right"},
                                     "legend": {"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
                                     "margin": {**LAYOUT["margin"], "r": 50, "b": 80}}}
