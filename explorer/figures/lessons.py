"""The Lessons tab's measurements drawn as small Markdown tables, one function per kind of measurement (the step's
`measure` key): every figure a step claims from, with its standard error where it has one. Numbers are shown with
`num` (4 significant digits), so a test can find the figure it recomputes. Two steps also get a Plotly chart
(`chart`): the KL estimates against L, and the pixel's two distributions.
"""
import math

import numpy as np

from explorer.figures.maps import LAYOUT


def num(x: float) -> str:
    """x to 4 significant digits ("nan" shown as "-")."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def table(header: tuple, rows: list) -> str:
    """A Markdown table; a | inside a cell (q(z|x), a norm) is escaped, so it stays in its cell."""
    line = lambda cells: "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(r) for r in rows])


def encoder_decoder(r) -> str:
    return table(("network", "outputs", "median scale"), [
        ("encoder q_phi(z|x)", f"{r.latents} locations mu_j and {r.latents} scales sigma_j", num(r.encoder_scale)),
        ("decoder p_theta(x|z)", f"{r.pixels} locations and {r.pixels} scales (pixels in [0, 1])",
         num(r.decoder_scale))])


def elbo(r) -> str:
    gap = r.iwae.nll - r.neg_elbo if r.iwae is not None else float("nan")
    return table(("term", "nats", "standard error"), [
        (f"E_q[log p(x|z)] (Monte Carlo, L = {len(r.neg_log_px)})", num(-r.recon), num(r.recon_se)),
        ("KL(q(z|x) || p(z)) (closed form)", num(r.kl), "exact"),
        ("ELBO = reconstruction - KL", num(-r.neg_elbo), num(r.recon_se)),
        (f"log p(x) (IWAE, k = {r.iwae.k})", num(-r.iwae.nll), num(r.iwae.se)),
        ("gap: log p(x) - ELBO ~ KL(q(z|x) || p(z|x))", num(-gap), "")])


def kl(r) -> str:
    rows = [(L, num(e), num(s), num(e - r.closed_form)) for L, e, s in zip(r.samples, r.estimates, r.errors)]
    return (f"Closed form: **KL = {num(r.closed_form)} nats**\n\n"
            + table(("L", "Monte Carlo KL", "standard error", "minus closed form"), rows))


def gradients(r) -> str:
    gap = np.abs(r.reparam_mean - r.score_mean).max()
    return table(("estimator", f"variance of the L = {r.samples} estimate (sum over mu's coordinates)"), [
        ("reparameterisation", num(r.reparam_variance)),
        ("score function (REINFORCE)", num(r.score_variance))]) + (
        f"\n\nThe trick buys **{num(r.orders_of_magnitude)} orders of magnitude** (the ratio is "
        f"{num(r.score_variance / r.reparam_variance)}: REINFORCE needs that many times the draws). Both estimate "
        f"the same gradient: their means differ by at most {num(gap)} per coordinate over the 512 draws measured.")


def gaussian(r) -> str:
    c, row, col = r.pixel
    bins = len(r.empirical)
    rows = [(f"{b * 256 // bins}..{(b + 1) * 256 // bins - 1}", num(h), num(p))
            for b, (h, p) in enumerate(zip(r.empirical, r.decoder)) if h > 0 or p > 0.005]
    return (f"Pixel (row {row}, column {col}) of the {len(r.neighbours)} test images nearest this latent:\n\n"
            + table(("levels", "share of the neighbours", "decoder's probability"), rows)
            + f"\n\nTotal variation between the two: **{num(r.total_variation)}** (0: the same, 1: no overlap).")


def straight_through(r) -> str:
    return table(("gradient", "norm"), [
        (f"reconstruction -> selected code e_{r.code}", num(r.code_from_reconstruction)),
        (f"codebook loss -> code e_{r.code} (closed form {num(r.code_from_codebook_expected)})",
         num(r.code_from_codebook_loss)),
        ("reconstruction -> encoder's vector z_e", num(r.vector_from_reconstruction)),
        ("commitment loss -> z_e", num(r.vector_from_commitment))])


def ema(r) -> str:
    return table(("decay", "codes used", "max |EMA - k-means|", "EMA step / k-means step"), [
        (num(r.decay), int(r.used.sum()), num(r.difference), num(r.step_ratio))])


def commitment(points) -> str:
    return table(("commitment weight", "codes used", "perplexity", "reconstruction (squared error)"), [
        (num(p.commitment), f"{p.codes_used:.0%}", num(p.perplexity), num(p.reconstruction)) for p in points])


DRAW = {"encoder_decoder": encoder_decoder, "elbo": elbo, "kl": kl, "gradients": gradients, "gaussian": gaussian,
        "straight_through": straight_through, "ema": ema, "commitment": commitment}


def measurement(key: str, result) -> str:
    """The Markdown table of a step's measurement (`key`: the step's `measure`)."""
    return DRAW[key](result)


def kl_chart(r) -> dict:
    """The Monte Carlo KL against L (log axis) with +-2 SE bars, the closed form as a line."""
    se = [0 if math.isnan(e) else 2 * e for e in r.errors]
    return {"data": [{"type": "scatter", "mode": "markers", "name": "Monte Carlo (+-2 SE)", "x": list(r.samples),
                      "y": list(r.estimates), "error_y": {"type": "data", "array": se}},
                     {"type": "scatter", "mode": "lines", "name": "closed form", "x": [r.samples[0], r.samples[-1]],
                      "y": [r.closed_form] * 2, "line": {"dash": "dot"}}],
            "layout": {**LAYOUT, "height": 320, "xaxis": {"type": "log", "title": {"text": "L"}},
                       "yaxis": {"title": {"text": "KL (nats)"}}}}


def gaussian_chart(r) -> dict:
    """The neighbours' share and the decoder's probability in each bin of the pixel's levels."""
    bins = len(r.empirical)
    x = [f"{b * 256 // bins}" for b in range(bins)]
    return {"data": [{"type": "bar", "name": "the neighbours", "x": x, "y": list(r.empirical)},
                     {"type": "bar", "name": "the decoder p(x|z)", "x": x, "y": list(r.decoder)}],
            "layout": {**LAYOUT, "height": 320, "barmode": "group",
                       "xaxis": {"title": {"text": "pixel level (bin start)"}},
                       "yaxis": {"title": {"text": "probability"}}}}


CHARTS = {"kl": kl_chart, "gaussian": gaussian_chart}


def chart(key: str, result) -> dict | None:
    """The step's Plotly chart (a figure dict), or None for a step shown by its table alone."""
    return CHARTS[key](result) if key in CHARTS else None
