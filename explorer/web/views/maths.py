"""The Maths view: a VAE's latent space on two of its own axes (two of its principal directions, for a latent of more
than MAX_SLIDER_DIMS numbers: compute/plane.py), with the selected image's posterior, the prior and the aggregate
posterior; a click decodes there (the decoder's location, clamped). Below: the reparameterisation trick as a Monte
Carlo estimate of the ELBO beside an IWAE estimate of -log p(x) with its standard error (the samples drawn on the axes
too), what the decoder says about the current latent (the exact E[x|z], per-pixel scale, a sample) and traversals of
the most active dimensions. It follows the latent map's selection when its tab opens; its axes, L and seed come from
the page's URL when it names them (url.py)."""
import re
from dataclasses import replace

import gradio as gr
import numpy as np
import torch
from PIL import Image

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.colormap import enlarge
from explorer.compute.plane import check_directions
from explorer.compute.posterior import AxesError, check_dims
from explorer.compute.prior_hole import hole_sentence
from explorer.errors import UserError
from explorer.figures.maths import (
    SAMPLES_COLOR,
    SAMPLES_NAME,
    axes_key,
    latent_axes_figure,
    parse_axes_key,
)
from explorer.service.explorer import Explorer
from explorer.web.components.figures import figure_row, wide_figure_html
from explorer.web.components.image import latent_image, latent_value
from explorer.web.components.plot import clickable_plot, figure_json, plot_value
from explorer.web.files import data_file
from explorer.web.session import LatentSession, MathsSession
from explorer.web.views import FIGURES, Page, handled, new_map_selection, reporter, test_image_uri
from explorer.web.views.latent_decode import decode_value, offloaded, pending_value
from explorer.web.views.url import wanted
from vae_core.data.images import make_grid, to_pil

TRAVERSAL_ROWS, TRAVERSAL_STEPS = 4, 7
MC_COLUMNS = 16  # decodes per row of the Monte Carlo strip
AXIS_LABELS = {False: "horizontal axis (latent dimensions, most active by KL first)",  # by: has the model directions?
               True: "horizontal axis (principal directions of the images' latents, largest variance first)"}


def image_of(x: np.ndarray, scale: int = 1) -> Image.Image:
    """(C, H, W) in [0, 1] -> PIL, enlarged `scale` times."""
    return to_pil(torch.from_numpy(np.asarray(x, dtype=np.float32)), scale)


def iwae_text(r) -> str:
    """The IWAE estimate as an estimate: its mean over R repeats with its standard error, and what it bounds."""
    b = r.iwae
    if b is None:
        return "IWAE estimate: not computed"
    se = f" ± {b.se:.2f} (SE)" if np.isfinite(b.se) else ""
    return (f"−log p(x) ≈ **{b.nll:.2f}**{se} (IWAE, k = {b.k}, mean of R = {b.repeats} independent estimates, "
            f"drawn apart from the L samples): an estimate of an upper bound on −log p(x), "
            f"{r.neg_elbo - b.nll:+.2f} below the −ELBO estimate")


def monte_carlo_text(r, index: int) -> str:
    se = "n/a (one sample)" if not np.isfinite(r.recon_se) else f"{r.recon_se:.2f}"
    L = len(r.z)
    return (f"**Monte Carlo with L = {L}** (test image #{index}, seed {r.seed}), in nats:  \n"
            f"−E<sub>q</sub>[log p(x|z)] ≈ −1/L Σ log p(x|z<sub>l</sub>) = **{r.recon:.2f}** ± {se} (SE)  \n"
            f"KL(q(z|x) ‖ N(0, I)) = **{r.kl:.2f}** (closed form, no sampling)  \n"
            f"−ELBO ≈ {r.recon:.2f} + {r.kl:.2f} = **{r.neg_elbo:.2f}** ± {se}  \n"
            f"{iwae_text(r)}")


class MathsView:
    title = "Maths"
    key = "maths"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex
        self.figures = BoundedCache(FIGURES)  # figure JSON by key "name|i|j|index", shared by all sessions

    # --- server functions (called by the components' JavaScript) -----------------------------------------------
    @handled
    def figure(self, key: str) -> str:
        """The latent axes figure named by `key` ("name|i|j|index") as Plotly figure JSON."""
        name, i, j, index = parse_axes_key(key)

        def draw():
            axes = self.ex.maths.latent_axes(name, i, j, [index])
            x, y = axes.axis_titles()
            title = f"{name}: every test image's mu on {x}, {y}; q(z|x) of #{index}; click anywhere to decode"
            maths = self.ex.maths
            samples = {k: maths.axes_positions(name, i, j, z) for k, z in maths.prior_samples(name).items()}
            return figure_json(latent_axes_figure(axes, self.ex.store.label_names(name), title, samples))
        return self.figures.get((name, i, j, index), draw)

    @handled
    def thumbnail(self, point: dict) -> str:
        return test_image_uri(self.ex, parse_axes_key(point.get("key"))[0], point.get("index"))

    @handled
    def decode(self, request: dict):
        """The decode of a click {key, kind, index, x, y} on the axes: (z_i, z_j) = (x, y), the other dims at the
        mu of the image the key names; or of a slow model's {checkpoint, latent, full: true} (a value's `pending`)."""
        if "latent" in request:
            name, z = str(request.get("checkpoint")), request["latent"]
        else:
            name, i, j, index = parse_axes_key(request.get("key"))
            z = self.ex.maths.axes_latent(name, i, j, request.get("x"), request.get("y"), index=index)
        return decode_value(self.ex, name, z, None, request.get("full"), "decoder's location at z")

    def slow(self, request: dict) -> bool:
        """Whether the request runs in a worker thread (latent_decode.offloaded)."""
        try:
            name = request.get("checkpoint") or parse_axes_key(request.get("key"))[0]
            return offloaded(self.ex, str(name), request)
        except (UserError, TypeError, ValueError):
            return False

    # --- layout ---------------------------------------------------------------------------------------------------
    def build(self):
        with gr.Row():
            self.dim_i = gr.Dropdown([], label=AXIS_LABELS[False], elem_id="maths-dim-i")
            self.dim_j = gr.Dropdown([], label="vertical axis", elem_id="maths-dim-j")
        with gr.Row():
            with gr.Column(scale=3):
                self.plot = clickable_plot("maths-axes", self.figure, self.thumbnail, 520, decode="maths-decoded")
            with gr.Column(scale=2):
                self.decoded = latent_image("maths-decoded", self.decode, self.slow)
                self.info = gr.Markdown(elem_id="maths-info")
                self.hole = gr.Markdown(elem_id="maths-hole")
        gr.Markdown("### Reparameterisation: z<sub>l</sub> = mu + sigma · eps<sub>l</sub>, eps<sub>l</sub> ~ N(0, I)")
        with gr.Row():
            self.samples = gr.Slider(1, 64, value=8, step=1, label="L samples", elem_id="maths-samples")
            self.seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="maths-seed")
        self.mc_text = gr.Markdown(elem_id="maths-mc")
        self.mc_strip = gr.HTML("", elem_id="maths-mc-strip")
        gr.Markdown("### What the decoder says about the current latent z: p(x|z)")
        self.decoder = gr.HTML("", elem_id="maths-decoder")
        gr.Markdown("### Traversals: one dimension at a time across the prior, −3..3")
        self.traversal = gr.HTML("", elem_id="maths-traversal")
        self.download = gr.DownloadButton("download the traversal (PNG)", elem_id="maths-download")
        self.state = gr.State(MathsSession())

    # --- outputs --------------------------------------------------------------------------------------------------
    def plot_of(self, st: MathsSession) -> str:
        """The axes' value: the figure of (i, j, index), the current latent as the marker, the Monte Carlo samples."""
        (marker,) = self.ex.maths.axes_positions(st.vae, st.i, st.j, [st.latent])
        return plot_value(axes_key(st.vae, st.i, st.j, st.index), tuple(marker),
                          self.ex.maths.axes_positions(st.vae, st.i, st.j, st.mc_z), SAMPLES_NAME, SAMPLES_COLOR)

    def axis_names(self, st: MathsSession) -> tuple[str, str]:
        """What the axes are called: "z3", or "direction 3" for a model whose axes are principal directions."""
        word = "z" if self.ex.store.directions(st.vae) is None else "direction "
        return f"{word}{st.i}", f"{word}{st.j}"

    def latent_outputs(self, st: MathsSession, how: str) -> dict:
        """The decode, the marker, the decoder's view and the traversal of the current latent. A slow model's decode
        is its preview, the full decode following (latent_decode.py), and its traversal is by its preview."""
        name, z = st.vae, np.array(st.latent)
        (x, y), (x_name, y_name) = self.ex.maths.axes_positions(name, st.i, st.j, [z])[0], self.axis_names(st)
        what = f"decoder's location at z: {how}"
        slow = self.ex.map.is_slow(name)
        out = {self.state: st, self.plot: self.plot_of(st),
               self.decoded: pending_value(self.ex, name, z, None, what)[0] if slow else
               latent_value(self.ex.map.decode_latent(name, list(z), side=0), what),
               self.info: f"Posterior of test image **#{st.index}**; current latent: {how}, "
                          f"{x_name} = {x:.2f}, {y_name} = {y:.2f}"}
        out[self.decoder] = self.decoder_html(name, z)
        return {**out, **self.traversal_outputs(name, z, slow)}

    def traversal_outputs(self, name: str, z: np.ndarray, slow: bool) -> dict:
        """The traversal figure and its PNG: decoded by the model, or by its preview when it is slow (none without
        one: TRAVERSAL_ROWS x TRAVERSAL_STEPS full decodes would hold the page)."""
        label = self.ex.map.preview_label(name) if slow else None
        if slow and label is None:
            return {self.download: None, self.traversal: (
                f'<p class="vx-missing">{name} decodes slowly: its traversal would take '
                f"{TRAVERSAL_ROWS * TRAVERSAL_STEPS} full decodes. Train a preview decoder to see it at once: "
                f"python -m explorer.preview {self.ex.store.found(name).folder}</p>")}
        tr = self.ex.maths.traversal(name, z, min(TRAVERSAL_ROWS, len(z)), TRAVERSAL_STEPS, preview=slow)
        dirs = self.ex.store.directions(name)
        rows = ", ".join(f"z{int(k)}" if dirs is None else f"direction {int(k)}" for k in tr.dims)
        grid = enlarge(tr.grid, 2)
        stem = re.sub(r"[^\w.-]", "-", name)
        return {self.traversal: wide_figure_html(
            Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid),
            f"{'decoder' if label is None else 'preview decoder'}'s locations{f' ({label})' if label else ''}; "
            f"rows: {rows} ({'by KL' if dirs is None else 'in sds along each'}); columns: "
            f"{', '.join(f'{v:g}' for v in tr.values)}; the others as in z"),
            self.download: data_file(tr.png, f"{stem}-traversal.png", self.download.GRADIO_CACHE)}

    def decoder_html(self, name: str, z: np.ndarray) -> str:
        """What the decoder says about z: E[x|z], the per-pixel scale, a sample; one line when it has no scale."""
        missing = self.ex.store.missing(name, "decoder scale")
        if missing:
            return f'<p class="vx-missing">{missing}.</p>'
        d = self.ex.maths.decoder_output(name, z)
        lo, hi = d.scale_range
        gap = 255 * float(np.abs(d.mean - d.location).mean())  # grey levels, per pixel
        expectation = (f"E[x|z] = Σ_k (k/255) P(k|z), exact: {gap:.1f} grey levels from the location (shown above, "
                       "and what MSE / PSNR use) on average")
        return figure_row([
            (image_of(d.mean), expectation),
            (Image.fromarray(d.scale_map), f"per-pixel scale: log10 from {lo:.2f} (dark) to {hi:.2f} (yellow)"),
            (image_of(d.sample), "a sample x ~ p(x|z)")])

    def mc_outputs(self, st: MathsSession, samples, seed) -> dict:
        """The Monte Carlo text and strip for L = `samples`, and the samples on the axes (in the session and the
        plot's value); one line instead when the model has no decoder distribution to estimate with."""
        missing = self.ex.store.missing(st.vae, "decoder scale")
        if missing:
            st = replace(st, mc_z=())
            return {self.state: st, self.plot: self.plot_of(st), self.mc_text: f"{missing}.", self.mc_strip: ""}
        L = 1 if samples is None else samples  # checked there
        r = self.ex.maths.monte_carlo(st.vae, st.index, L, int(seed or 0))
        st = replace(st, mc_z=tuple(tuple(float(v) for v in z) for z in r.z), samples=len(r.z), seed=r.seed)
        strip = to_pil(make_grid(torch.from_numpy(r.decodes), nrow=min(MC_COLUMNS, len(r.z))), 2)
        return {self.state: st, self.plot: self.plot_of(st), self.mc_text: monte_carlo_text(r, st.index),
                self.mc_strip: wide_figure_html(strip, f"the decoder's location at each of the {len(r.z)} z_l "
                                                       "(clamped, not E[x|z_l]), drawn on the axes as dots")}

    def select(self, st: MathsSession, index: int, latent, samples, seed, how: str) -> dict:
        """Show test image `index`'s posterior, with `latent` (None: its mu) as the current latent."""
        mu = self.ex.maths.posterior_means(st.vae)
        index = int(np.clip(index, 0, len(mu) - 1))
        z = mu[index] if latent is None or len(latent) == 0 else latent
        mc = self.mc_outputs(replace(st, index=index).with_latent(z), samples, seed)
        return {**mc, **self.latent_outputs(mc[self.state], how)}

    # --- events ---------------------------------------------------------------------------------------------------
    def open(self, vae: str, latent: LatentSession, samples, seed, request: gr.Request = None,
             progress=gr.Progress(track_tqdm=True)) -> dict:  # noqa: B008 - how Gradio passes progress
        """Open a VAE in this tab on the axes, L and seed the page's URL asks for (url.py; else the two most active
        dimensions and the sliders' values), on the map's selection, else the URL's, else test image 0."""
        if not vae:
            return {self.state: MathsSession()}
        progress(0, desc=f"opening {vae}")
        self.ex.store.latent_view(vae, progress=reporter(progress))
        order, choices = self.axis_choices(vae)
        want = wanted(self.ex, request, "vae", vae)  # restore_state checked its axes against this VAE's latent
        fits = want and want.axes and max(want.axes) < len(order)  # and here against its directions, if it has them
        i, j = want.axes if fits else order[:2]
        st = MathsSession(loaded=True, vae=vae, i=int(i), j=int(j))
        follow = latent.loaded and latent.vae == vae
        if follow:
            index, z = latent.index, latent.latent
        else:
            index = want.index if want and want.index is not None else 0
            z = want.z if want else None
        if want:
            samples, seed = want.samples, want.seed
        how = "the map's latent" if follow else "the URL's latent" if z else f"mu of #{index}"
        out = self.select(st, index, z, samples, seed, how)
        # followed: what the map shows once it has opened too (the same image and latent), so that opening this tab
        # then keeps the view, and the URL's settings, instead of reselecting
        out[self.state] = st = replace(out[self.state], followed=(out[self.state].index, out[self.state].latent))
        self.figure(axes_key(vae, st.i, st.j, st.index))  # computed now, while this view shows progress
        has_directions = self.ex.store.directions(vae) is not None
        out[self.dim_i] = gr.update(choices=choices, value=st.i, label=AXIS_LABELS[has_directions])
        out[self.dim_j] = gr.update(choices=choices, value=st.j)
        out[self.samples], out[self.seed] = st.samples, st.seed
        out[self.hole] = self.hole_text(vae)
        return out

    def hole_text(self, vae: str) -> str:
        """The prior hole as a sentence: how much farther from the images' posteriors each prior's samples land than
        the images' own latents do."""
        h = self.ex.maths.prior_hole(vae)
        words = {"standard": "N(0, I)", "fitted": "the fitted prior"}
        more = "" if "fitted" in h.scores else f" {self.ex.generate.no_fitted_prior(vae)}."
        return (f"**The prior hole**: {hole_sentence(h, words)}. Show both priors' samples from the legend (click "
                f"one to decode there).{more}")

    def axis_choices(self, vae: str) -> tuple[list[int], list[tuple[str, int]]]:
        """The axes the pickers offer, in their order, with their labels: the latent's dimensions, most active by KL
        first, or its principal directions, largest variance first, for a latent of many numbers (directions.py)."""
        dirs = self.ex.store.directions(vae)
        if dirs is not None:
            order = list(range(len(dirs.vectors)))
            return order, [(dirs.label(k), k) for k in order]
        order = [int(d) for d in self.ex.store.dims_by_kl(vae)]
        if len(order) < 2:
            raise AxesError(f"{vae} has a {len(order)}-D latent: the latent axes need two dimensions")
        kl = self.ex.store.kl_per_dim(vae)
        return order, [(f"z{d} (KL {kl[d]:.2f})", d) for d in order]

    def on_tab(self, st: MathsSession, latent: LatentSession) -> dict:
        """Opening the tab follows the map's selection (its image and its current latent), if it is new, with the
        L and seed shown (the session's: the sliders' values may not have arrived from a restored URL yet)."""
        selection = new_map_selection(latent, st.followed)
        if st.loaded and latent.vae == st.vae and selection is not None:
            st = replace(st, followed=selection)
            return self.select(st, latent.index, latent.latent, st.samples, st.seed, "the map's latent")
        return {self.state: st}

    def on_dims(self, st: MathsSession, i, j) -> dict:
        st = st.checked()
        dirs = self.ex.store.directions(st.vae)
        i, j = check_dims(i, j, len(st.latent)) if dirs is None else check_directions(i, j, len(dirs.vectors))
        st = replace(st, i=i, j=j)
        return {self.state: st, self.plot: self.plot_of(st)}

    def on_click(self, st: MathsSession, evt: gr.EventData) -> dict:
        st = st.checked()
        x, y = getattr(evt, "x", None), getattr(evt, "y", None)
        z = self.ex.maths.axes_latent(st.vae, st.i, st.j, x, y, index=st.index)
        return self.latent_outputs(st.with_latent(z), "a click on {}, {}".format(*self.axis_names(st)))

    def on_mc(self, st: MathsSession, samples, seed) -> dict:
        return self.mc_outputs(st.checked(), samples, seed)

    def wire(self, page: Page, tab: gr.Tab):
        s = self.state
        mc, settings = {s, self.plot, self.mc_text, self.mc_strip}, [self.samples, self.seed]
        latent = {s, self.decoded, self.plot, self.info, self.decoder, self.traversal, self.download}
        page.on_open([page.vae], self.open, [page.vae, page.latent, *settings],
                     latent | mc | {self.dim_i, self.dim_j, self.hole, *settings}, self.plot, "maths")
        page.live(tab.select, self.on_tab, [s, page.latent], latent | mc)
        page.live(self.plot.click, self.on_click, s, latent, trigger_mode="always_last")
        for dim in (self.dim_i, self.dim_j):
            page.live(dim.input, self.on_dims, [s, self.dim_i, self.dim_j], {s, self.plot})
        page.live(self.samples.input, self.on_mc, [s, *settings], mc, trigger_mode="always_last")
        page.live(self.seed.submit, self.on_mc, [s, *settings], mc)
