"""The latent map view: a VAE's test images on a 2-D map (UMAP, or the latent itself when it is 2-D); a click
selects a point or decodes empty space, sliders edit the latent, and a marker follows it. Beside it, the nearest test
images of the current latent (updated on clicks, not on slider moves), and a box/lasso selection panel (selection.py).

A new model's map is linear (PCA) at first, while UMAP is computed in the background (store.py). The plot's key
names the map it draws, "<model>|<method>", so that a click is read on the map it was made on; the page asks the
server function `status` how UMAP goes (its note shows above the plot) and, once UMAP's map is ready, asks for it
with a `submit` event: the marker is then placed on the new map. The figure's layout.meta carries both the map's
{pending, note} (plot.js) and its `coords` version (the page decoder decodes a click only on the positions it holds).
"""
from dataclasses import replace

import gradio as gr
import numpy as np

from explorer.compute.bounded_cache import BoundedCache
from explorer.errors import UserError
from explorer.figures import maps as plots
from explorer.figures.pictures import show
from explorer.service.explorer import Explorer
from explorer.service.map_note import point_note
from explorer.service.projection import MAP_METHODS
from explorer.web.components.image import figure_html, inline_image, latent_image, latent_value
from explorer.web.components.plot import clickable_plot, figure_json, plot_value
from explorer.web.components.sliders import latent_sliders, slider_event, sliders_value
from explorer.web.components.strip import strip_html, thumbnail_strip
from explorer.web.files import map_file
from explorer.web.page_decoder import PageDecoders, coords_version
from explorer.web.session import LatentSession
from explorer.web.views import FIGURES, Page, handled, image_file, reporter, test_image_uri
from explorer.web.views.latent_decode import decode_value, offloaded, pending_value
from explorer.web.views.selection import SelectionPanel
from explorer.web.views.url import wanted

MAX_SLIDERS = 16
NEIGHBOURS = 8  # nearest test images shown


def map_key(name: str, version: str) -> str:
    """The plot's key for model `name`'s map `version` (its projection method)."""
    return f"{name}|{version}"


def key_parts(key) -> tuple[str, str | None]:
    """(model name, map version or None) of a plot key."""
    name, sep, version = str(key).rpartition("|")
    return (name, version) if sep and version in MAP_METHODS else (str(key), None)


class MapView:
    title = "Latent map"
    key = "map"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex
        self.figures = BoundedCache(FIGURES)  # figure JSON by checkpoint, shared by all sessions
        self.selection = SelectionPanel(ex)
        self.page_decoders = PageDecoders(ex)  # the decoder in the visitor's page, where it fits

    # --- server functions (called by the components' JavaScript) -----------------------------------------------
    @handled
    def figure(self, key: str) -> str:
        """The map of plot key `key` ("<model>|<method>", or a model's name: its map now) as Plotly figure JSON."""
        name, version = key_parts(key)
        version = version or self.ex.map.version(name)

        def draw():
            points = self.ex.map.points(name, version)
            pending = points.method == "pca"
            method = MAP_METHODS[points.method] + (", UMAP's map follows" if pending else "")
            fig = plots.latent_map(points.coords, points.labels, points.label_names,
                                   f"{name}: {len(points.coords)} test images, {method}; click a point or anywhere")
            fig["layout"]["meta"] = {"pending": pending, "note": points.note,  # plot.js follows a pending map
                                     "coords": coords_version(points.coords)}  # the page decodes on this map only
            return figure_json(fig)
        return self.figures.get(map_key(name, version), draw)

    @handled
    def status(self, key: str) -> dict:
        """How the map of plot key `key` goes: {key: the key of the map to show now, note: what it waits for and
        the time left, pending: whether a newer map is still to come}."""
        name, _ = key_parts(key)
        version = self.ex.map.version(name)
        return {"key": map_key(name, version), "note": self.ex.store.map_note(name) if version == "pca" else "",
                "pending": self.ex.store.map_pending(name)}

    @handled
    def thumbnail(self, point: dict) -> str:
        """Test image point["index"] of checkpoint point["key"], as a data URI."""
        return test_image_uri(self.ex, key_parts(point.get("key"))[0], point.get("index"))

    @handled
    def decode(self, request: dict) -> dict:
        """The decode (components/image.py's decoded()) the map or the sliders ask for: {key, kind, index | x, y} or
        {checkpoint, latent}; with full: true, a slow model's full decode (a value's `pending`), else its preview."""
        if "latent" in request:
            name, z = str(request.get("checkpoint")), request["latent"]
            index = request.get("index")
        else:
            name, version = key_parts(request.get("key"))
            z = self.latent_at(name, request, version)
            index = request.get("index") if request.get("kind") == "point" else None
        return decode_value(self.ex, name, z, index if isinstance(index, int) else None, request.get("full"),
                            "decoded current latent")

    def offload(self, request: dict) -> bool:
        """Whether a decode request is for a slow model's full decoder (run in a worker thread)."""
        try:
            return offloaded(self.ex, key_parts(request.get("checkpoint", request.get("key")))[0], request)
        except UserError:
            return False

    def latent_at(self, name: str, click: dict, version: str | None = None) -> np.ndarray:
        """The latent of a click on the map `version` (the map it was made on)."""
        if click.get("kind") == "point":
            return self.ex.map.map_latent(name, index=click.get("index"))
        return self.ex.map.map_latent(name, x=click.get("x"), y=click.get("y"), version=version)

    # --- layout ---------------------------------------------------------------------------------------------------
    def build(self):
        with gr.Row():
            with gr.Column(scale=3):
                self.plot = clickable_plot("latent-map", self.figure, self.thumbnail, 560, decode="decoded-image",
                                           status=self.status)
            with gr.Column(scale=2):
                with gr.Row():
                    self.original = inline_image("selected-image")
                    self.recon = inline_image("reconstruction")
                self.decoded = latent_image("decoded-image", self.decode, self.offload,
                                            lambda name: self.page_decoders.offer(key_parts(name)[0]))
                self.info = gr.Markdown(elem_id="selection-info")
                self.neighbours = thumbnail_strip("neighbours")
        with gr.Accordion("Latent sliders", open=True):
            self.dims = gr.Dropdown([], multiselect=True, max_choices=MAX_SLIDERS,
                                    label="dimensions on sliders (most active by KL first; over 64 numbers: principal "
                                          "directions)")
            with gr.Row():
                self.reset = gr.Button("reset to selected point")
                self.prior = gr.Button("draw z from the prior N(0, I)")
            self.sliders = latent_sliders("latent-sliders", target="decoded-image")
        self.selection.build()
        with gr.Row():
            self.write_parquet = gr.Button("Download the map (Parquet)", size="sm", elem_id="map-parquet")
            self.parquet = gr.DownloadButton("save the map's Parquet file", visible=False, size="sm",
                                             elem_id="map-parquet-file")
        self.manifold = gr.Image(label="2-D latent manifold (decodes over the map)", visible=False, format="png")
        self.state = gr.State(LatentSession())

    # --- outputs for a session ------------------------------------------------------------------------------------
    def marker(self, st: LatentSession, xy=None, version: str | None = None) -> str:
        """The plot's value: the map `version` (default: the one shown now) with the current latent's marker at xy
        (default: where that map draws it)."""
        version = version or self.ex.map.version(st.vae)
        x, y = xy if xy is not None else self.ex.map.position(st.vae, st.latent, version)
        return plot_value(map_key(st.vae, version), (x, y))

    def latent_outputs(self, st: LatentSession, xy=None, image=None, version: str | None = None) -> dict:
        """The decoded image (`image`, when it is decoded already) and the map marker for the current latent (at xy
        on the map `version`, when given)."""
        if image is None and self.ex.map.is_slow(st.vae):
            value = pending_value(self.ex, st.vae, st.latent, None, "decoded current latent")[0]
        else:
            value = latent_value(image or self.ex.map.decode_full(st.vae, list(st.latent))[0],
                                 "decoded current latent", checkpoint=st.vae)
        return {self.decoded: value, self.state: st, self.plot: self.marker(st, xy, version)}

    def slider_outputs(self, st: LatentSession) -> dict:
        """The sliders: the chosen dimensions, labelled with their KL, set to the current latent."""
        dirs = self.ex.store.directions(st.vae)
        if dirs is not None:  # too many numbers for a slider each: the top principal directions
            a = dirs.coefficients(st.latent)
            return {self.sliders: sliders_value(st.dims, [dirs.label(d) for d in st.dims], [a[d] for d in st.dims],
                                                st.vae, st.latent, dirs)}
        kl = self.ex.store.kl_per_dim(st.vae)
        return {self.sliders: sliders_value(st.dims, [f"z{d} (KL {kl[d]:.2f})" for d in st.dims],
                                            [st.latent[d] for d in st.dims], st.vae, st.latent)}

    def neighbour_outputs(self, st: LatentSession, exclude: int | None = None) -> dict:
        """The NEIGHBOURS test images nearest to the current latent (in latent space), clickable."""
        near = self.ex.map.neighbours(st.vae, list(st.latent), NEIGHBOURS, exclude=exclude)
        items = [(i, show(self.ex.store.image(st.vae, i)[0], side=0), f"#{i} d={d:.2f}")
                 for i, d in zip(near.indices.tolist(), near.distances.tolist())]
        return {self.neighbours: strip_html(f"The {len(items)} test images nearest to this latent (latent space, "
                                            "Euclidean; click one to select it):", items)}

    def select(self, st: LatentSession, index: int) -> dict:
        """Select test image `index`: its latent mu(x), its image, its reconstruction."""
        point = self.ex.map.point(st.vae, int(np.clip(index, 0, len(self.ex.store.data(st.vae).x_test) - 1)))
        st = replace(st, index=point.index).with_latent(point.latent)
        out = {**self.slider_outputs(st)}
        out[self.original] = figure_html(show(self.ex.store.image(st.vae, point.index)[0], side=0), "selected image")
        recon = self.ex.map.stored_reconstruction(st.vae, point.index)
        if recon is None and self.ex.map.is_slow(st.vae):  # its preview now, the full decode when it comes
            value, preview = pending_value(self.ex, st.vae, st.latent, point.index, "decoded current latent")
            out.update({self.decoded: value, self.state: st, self.plot: self.marker(st, point.xy, point.version)})
            label = self.ex.map.preview_label(st.vae)
            out[self.recon] = (figure_html(preview, f"its reconstruction ({label})") if preview is not None
                               else '<p class="vx-missing">its reconstruction: decoding... (shown above)</p>')
        else:
            recon = recon or self.ex.map.decode_full(st.vae, list(st.latent), point.index)[0]
            out.update(self.latent_outputs(st, point.xy, recon, point.version))
            out[self.recon] = figure_html(recon, "its reconstruction")
        out[self.info] = point_note(point.index, point.label_name)
        return {**out, **self.neighbour_outputs(st, exclude=index)}

    # --- events ---------------------------------------------------------------------------------------------------
    def open(self, vae: str, request: gr.Request, progress=gr.Progress(track_tqdm=True)) -> dict:  # noqa: B008
        """Open a VAE in this tab (first time per checkpoint: its projection is computed, with progress), with the
        selection the page's URL asks for (url.py), else test image 0."""
        if not vae:
            return {self.state: LatentSession()}
        progress(0, desc=f"opening {vae}")
        self.ex.store.latent_view(vae, progress=reporter(progress))  # computed now, while this view shows progress
        kl, dirs = self.ex.store.kl_per_dim(vae), self.ex.store.directions(vae)
        order = np.argsort(-kl) if dirs is None else np.arange(len(dirs.vectors))  # by KL, or by variance
        st = LatentSession(loaded=True, vae=vae, dims=tuple(int(d) for d in order[:MAX_SLIDERS]))
        self.figure(vae)  # drawn now, while this view shows progress
        self.page_decoders.offer(vae)  # its decoder for the page, prepared in the background
        want = wanted(self.ex, request, "vae", vae)
        out = self.select(st, want.index if want and want.index is not None else 0)
        if want and want.z is not None:
            st = out[self.state].with_latent(want.z)
            out.update({**self.latent_outputs(st), **self.slider_outputs(st), **self.neighbour_outputs(st)})
        choices = list(range(len(kl))) if dirs is None else [(dirs.label(d), d) for d in range(len(dirs.vectors))]
        out[self.dims] = gr.update(choices=choices, value=list(st.dims))
        if note := self.ex.store.data_note(vae):  # --images: what was read and changed, shown once on opening
            out[self.info] = f"{out[self.info]}  \n{note}"
        m = self.ex.map.manifold(vae)
        out[self.manifold] = gr.update(value=image_file(m, self.manifold), visible=m is not None)
        out[self.parquet] = gr.update(visible=False)  # another model's file, if any, is not this one's
        return out

    def on_parquet(self, st: LatentSession, progress=gr.Progress()) -> dict:  # noqa: B008
        """The map as one Parquet file (a row per image: x, y, label, latent, log_sigma, PNG), for Embedding Atlas,
        pandas and --images; written on request (it encodes every image as a PNG)."""
        st = st.checked()
        path = map_file(self.ex.store, st.vae, self.parquet.GRADIO_CACHE, reporter(progress))
        return {self.parquet: gr.update(value=path, visible=True,
                                        label=f"save {st.vae}'s map ({len(self.ex.store.data(st.vae).x_test):,} rows)")}

    def on_click(self, st: LatentSession, evt: gr.EventData) -> dict:
        st = st.checked()
        click = {k: getattr(evt, k, None) for k in ("kind", "index", "x", "y", "key")}
        if click["kind"] == "point":
            return self.select(st, int(click["index"]))
        version = key_parts(click["key"])[1] if click["key"] else None  # the map it was made on
        st = st.with_latent(self.latent_at(st.vae, click, version))
        xy = (float(click["x"]), float(click["y"]))
        return {**self.latent_outputs(st, xy, version=version), **self.slider_outputs(st),
                **self.neighbour_outputs(st), self.info: self.ex.map.click_note(st.vae, *xy, version)}

    def on_refresh(self, st: LatentSession) -> dict:
        """The page saw a newer map of this model (UMAP's, after the linear one): the plot shows it, with the
        current latent's marker where the new map draws it; the page decoder is offered the new positions."""
        if not st.loaded:
            return {self.state: st}
        self.page_decoders.offer(st.vae)  # re-prepared with the new map's positions (PageDecoders.offer)
        return {self.plot: self.marker(st), self.state: st}

    def on_neighbour(self, st: LatentSession, evt: gr.EventData) -> dict:
        try:
            return self.select(st.checked(), int(getattr(evt, "index", None)))
        except (TypeError, ValueError):
            return {self.state: st}

    def on_slide(self, st: LatentSession, evt: gr.EventData) -> dict:
        st = st.checked()
        dirs = self.ex.store.directions(st.vae)
        d, v = slider_event({"dim": getattr(evt, "dim", None), "value": getattr(evt, "value", None)},
                            len(st.latent) if dirs is None else len(dirs.vectors))
        if dirs is not None:
            z = dirs.move(st.latent, d, v)  # along direction d alone
        else:
            z = list(st.latent)
            z[d] = v
        return self.latent_outputs(st.with_latent(z))  # not the sliders: the page shows the value already

    def on_dims(self, st: LatentSession, dims: list) -> dict:
        st = st.checked()
        st = replace(st, dims=tuple(int(d) for d in dims) or st.dims)
        return {**self.latent_outputs(st), **self.slider_outputs(st)}

    def on_reset(self, st: LatentSession) -> dict:
        return self.select(st.checked(), st.index)

    def on_prior(self, st: LatentSession) -> dict:
        st = st.checked().with_latent(np.random.default_rng().standard_normal(len(st.latent)))
        return {**self.latent_outputs(st), **self.slider_outputs(st), **self.neighbour_outputs(st)}

    def wire(self, page: Page, tab: gr.Tab):
        s = self.state
        selection = {self.decoded, self.plot, s, self.original, self.recon, self.info, self.sliders, self.neighbours}
        latent_and_sliders = {self.decoded, self.plot, s, self.sliders}
        page.on_open([page.vae], self.open, page.vae, selection | {self.dims, self.manifold, self.parquet}, self.plot,
                     "map")
        page.live(self.plot.click, self.on_click, s, selection, trigger_mode="always_last")
        page.live(self.plot.submit, self.on_refresh, s, {self.plot, s}, trigger_mode="always_last")
        page.live(self.sliders.input, self.on_slide, s, {self.decoded, self.plot, s}, trigger_mode="always_last")
        page.live(self.dims.input, self.on_dims, [s, self.dims], latent_and_sliders)
        page.live(self.reset.click, self.on_reset, s, selection)
        page.live(self.prior.click, self.on_prior, s, latent_and_sliders | {self.neighbours})
        page.live(self.neighbours.click, self.on_neighbour, s, selection)
        self.write_parquet.click(handled(self.on_parquet), s, self.parquet, api_visibility="private")
        self.selection.wire(page, self.plot, s)
