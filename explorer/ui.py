"""The Gradio page: thin views over `Explorer` (service.py). Each browser session keeps its own selection in
a `gr.State`; the `Explorer` is shared and read-only.
"""
import functools

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from . import plots
from .checkpoints import UnknownCheckpoint
from .codes import GridError, paint, set_cell
from .images import ImageInputError, data_uri, show
from .latent_sliders import CSS as SLIDERS_CSS
from .outputs import png_file
from .latent_sliders import SliderError, latent_sliders, slider_event, sliders_value
from .plotly_html import clickable_plot, figure_json, marker_json, plot_marker
from .service import Explorer, LatentError

MAX_SLIDERS = 16
# live edits (clicks, sliders, code edits) answer in milliseconds: one HTTP request each (no queue), and no loading
# overlay on their outputs, whose show-and-hide costs the browser more layout work than the decode itself
LIVE = {"api_visibility": "private", "show_progress": "hidden", "queue": False}
USER_ERRORS = (LatentError, SliderError, GridError, ImageInputError, UnknownCheckpoint, IndexError)


def user_errors(fn):
    """Turn bad input into a message in the page (gr.Error) instead of a crash."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as e:
            raise gr.Error(str(e)) from e
    return wrapper


def grid_html(grid, cell) -> str:
    """The code grid as a table of clickable cells showing their indices; the selected cell outlined."""
    if grid is None:
        return "<p>No VQ-VAE loaded.</p>"
    rows = []
    for r, row in enumerate(grid):
        tds = "".join(
            f'<td data-row="{r}" data-col="{c}" class="{"sel" if [r, c] == list(cell) else ""}">{v}</td>'
            for c, v in enumerate(row))
        rows.append(f"<tr>{tds}</tr>")
    return f'<table class="vx-grid">{"".join(rows)}</table>'


CSS = """
.vx-grid { border-collapse: collapse; font: 12px monospace; }
.vx-grid td { border: 1px solid #999; width: 34px; height: 30px; text-align: center; cursor: pointer; }
.vx-grid td.sel { outline: 3px solid #e4572e; background: #ffe0d6; }
.vx-grid td:hover { background: #eef; }
.vx-img { margin: 0; text-align: center; }
.vx-img img { width: 224px; max-width: 100%; height: auto; aspect-ratio: 1; image-rendering: pixelated; border: 1px solid #ddd; }
.vx-img figcaption { font-size: 12px; color: #666; }
""" + SLIDERS_CSS
GRID_JS = """
element.addEventListener('click', (e) => {
  const td = e.target.closest('td[data-row]');
  if (td) trigger('click', {row: Number(td.dataset.row), col: Number(td.dataset.col)});
});
"""


def figure_html(image, caption: str) -> str:
    """An image inlined as a data URI (no file written, no second request) with its caption.

    Pass the model's own pixels (side=0): CSS enlarges them sharply, and a 28x28 PNG is a tenth of the bytes to
    encode, send and decode of a 224x224 one."""
    return (f'<figure class="vx-img"><img src="{data_uri(image)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def inline_image(elem_id: str) -> gr.HTML:
    return gr.HTML("", elem_id=elem_id, js_on_load=None, min_height=250)


def build(ex: Explorer) -> gr.Blocks:
    vaes, vqs = ex.registry.names("vae"), ex.registry.names("vqvae")
    figures: dict[str, str] = {}  # figure JSON of the clickable maps by key, shared by all sessions

    @user_errors
    def figure(key: str) -> str:
        """The figure JSON for a clickable map's key ("map:<checkpoint>" or "codebook:<checkpoint>"); the page
        fetches it (plotly_html)."""
        if key not in figures:
            kind, _, name = key.partition(":")
            if kind == "map":
                view = ex.latent_view(name)
                method = "the 2-D latent itself" if view.proj.method == "identity" else "UMAP of the posterior means"
                figures[key] = figure_json(plots.latent_map(
                    view.proj.coords, view.proj.labels, view.data.label_names,
                    f"{name}: {len(view.proj.coords)} test images, {method}; click a point or anywhere"))
            elif kind == "codebook":
                cb = ex.codebook_view(name)
                figures[key] = figure_json(plots.codebook_map(cb.coords, cb.counts, cb.method))
            else:
                raise gr.Error(f"no figure {key!r}")
        return figures[key]

    @user_errors
    def thumbnail(point: dict) -> str:
        """What the mouse is over, as a data URI; point = {key, index}. On a latent map ("map:<checkpoint>") the
        test image `index`; on a codebook map ("codebook:<checkpoint>") the decode of a grid all of code `index`.
        (A server function gets one argument: Gradio sends several as one list.) Explorer checks the ranges."""
        index = point.get("index") if isinstance(point, dict) else None
        if not isinstance(index, int | float) or index != int(index):
            raise gr.Error(f"thumbnail takes {{key, index}} with an integer index, got {point!r}")
        kind, _, name = str(point.get("key")).partition(":")
        if kind == "map":
            return data_uri(show(ex.image(name, int(index))[0], side=0))
        if kind == "codebook":
            g = ex.registry.model(name).grid_size
            return data_uri(ex.decode_codes(name, paint(np.zeros((g, g)), int(index)).tolist(), side=0))
        raise gr.Error(f"no thumbnails for {point.get('key')!r}")

    def map_figure(name: str) -> str:
        figure("map:" + name)  # computed now, while the page shows progress
        return "map:" + name

    def codebook_figure(name: str) -> tuple[str, dict]:
        figure("codebook:" + name)
        cb = ex.codebook_view(name)
        return "codebook:" + name, go.Figure(plots.usage_histogram(cb.counts, cb.usage()))

    def slider_dims(name: str) -> list[int]:
        """Latent dimensions on the sliders: all if few, else the most active by KL."""
        kl = ex.latent_view(name).proj.kl_per_dim
        return [int(d) for d in np.argsort(-kl)[:MAX_SLIDERS]]

    # old cached files are deleted by explorer.cache.start_sweeper (app.py): Gradio's own delete_cache stops for good
    # at the first request that lands during one of its passes
    with gr.Blocks(title="vae-explorer") as demo:
        state = gr.State({})
        gr.Markdown("# vae-explorer\nClick the latent map, move the sliders, edit VQ codes, compare models.")
        with gr.Row():
            vae_dd = gr.Dropdown(vaes, value=vaes[0] if vaes else None, label="VAE checkpoint")
            vq_dd = gr.Dropdown(vqs, value=vqs[0] if vqs else None, label="VQ-VAE checkpoint")
        status = gr.Markdown()

        with gr.Tab("Latent map"):
            with gr.Row():
                with gr.Column(scale=3):
                    latent_map = clickable_plot("latent-map", figure, 560, thumbnail)
                    map_marker = plot_marker("latent-map-marker")
                with gr.Column(scale=2):
                    with gr.Row():
                        original = inline_image("selected-image")
                        recon = inline_image("reconstruction")
                    decoded = inline_image("decoded-image")
                    info = gr.Markdown(elem_id="selection-info")
            with gr.Accordion("Latent sliders", open=True):
                dims_dd = gr.Dropdown([], multiselect=True, max_choices=MAX_SLIDERS, label="dimensions on sliders "
                                      "(most active by KL first)")
                with gr.Row():
                    reset_btn = gr.Button("reset to selected point")
                    prior_btn = gr.Button("draw z from the prior N(0, I)")
                sliders = latent_sliders("latent-sliders")
            manifold = gr.Image(label="2-D latent manifold (decodes over the map)", visible=False, format="png")

        with gr.Tab("VQ-VAE codes") as vq_tab:
            with gr.Row():
                with gr.Column():
                    vq_index = gr.Number(0, precision=0, label="image index (test split)")
                    grid = gr.HTML(grid_html(None, [0, 0]), js_on_load=GRID_JS, elem_id="code-grid")
                    with gr.Row():
                        code_num = gr.Number(0, precision=0, label="code index for the selected cell",
                                             elem_id="code-index")
                        paint_btn = gr.Button("paint whole grid with this code")
                        grid_reset = gr.Button("reset grid")
                with gr.Column(), gr.Row():
                    vq_original = gr.Image(label="image", format="png")
                    vq_decoded = inline_image("vq-decoded")
                with gr.Column():
                    codebook = clickable_plot("codebook-map", figure, 380, thumbnail)
                    usage = gr.Plot(label="usage")

        with gr.Tab("Compare"):
            with gr.Row():
                cmp_index = gr.Number(0, precision=0, label="test image index")
                cmp_upload = gr.File(label="or upload an image (PNG/JPEG)", file_types=["image"],
                                     elem_id="compare-upload")
            cmp_note = gr.Markdown(elem_id="compare-note")
            with gr.Row():
                cmp_orig = gr.Image(label="input", format="png")
                cmp_vae = gr.Image(label="VAE reconstruction", format="png", elem_id="compare-vae")
                cmp_vq = gr.Image(label="VQ-VAE reconstruction", format="png", elem_id="compare-vq")
            with gr.Row():
                gr.Markdown("per-pixel |error| (black 0, white >= 0.5)")
                cmp_vae_err = gr.Image(label="VAE error", format="png")
                cmp_vq_err = gr.Image(label="VQ-VAE error", format="png")

        with gr.Tab("Interpolate"):
            with gr.Row():
                ia = gr.Number(0, precision=0, label="from image index")
                ib = gr.Number(1, precision=0, label="to image index")
                steps = gr.Slider(3, 16, value=10, step=1, label="steps")
                go_btn = gr.Button("interpolate", variant="primary")
            lin = gr.Image(label="VAE latent, linear", format="png")
            slerp = gr.Image(label="VAE latent, spherical", format="png")
            vqpath = gr.Image(label="VQ-VAE, pre-quantisation path", format="png")

        with gr.Tab("Models"), gr.Row():
            with gr.Column():
                vae_summary = gr.Markdown()
                vae_curves = gr.Plot(label="VAE training")
            with gr.Column():
                vq_summary = gr.Markdown()
                vq_curves = gr.Plot(label="VQ-VAE training")

        # hidden components of the named API endpoints
        with gr.Row(visible=False):
            api_image = gr.File(label="image")
            api_vae = gr.Textbox(value=vaes[0] if vaes else "", label="vae")
            api_vq = gr.Textbox(value=vqs[0] if vqs else "", label="vqvae")
            api_latent = gr.JSON(label="latent")
            api_grid = gr.JSON(label="grid")
            api_out1, api_out2 = gr.Image(format="png"), gr.Image(format="png")
            api_metrics = gr.JSON()
            api_btns = [gr.Button() for _ in range(3)]

        # ---------------------------------------------------------------------------------------------
        def latent_outputs(st: dict, xy=None) -> dict:
            """Decoded image and map marker for the session's current latent."""
            z = np.array(st["latent"])
            view = ex.latent_view(st["vae"])
            x, y = xy if xy is not None else view.mapping.to_map(z)
            return {decoded: figure_html(ex.decode_latent(st["vae"], z.tolist(), side=0), "decoded current latent"),
                    state: st, map_marker: marker_json("latent-map", float(x), float(y))}

        def slider_values(st: dict) -> dict:
            """The sliders: the chosen dimensions, labelled with their KL, set to the current latent."""
            kl, dims = ex.latent_view(st["vae"]).proj.kl_per_dim, st["dims"]
            return {sliders: sliders_value(dims, [f"z{d} (KL {kl[d]:.2f})" for d in dims],
                                           [st["latent"][d] for d in dims])}

        def select_index(st: dict, index: int) -> dict:
            view = ex.latent_view(st["vae"])
            index = int(np.clip(index, 0, len(view.proj.latents) - 1))
            st = {**st, "index": index, "latent": view.proj.latents[index].tolist()}
            x = ex.image(st["vae"], index)
            label = view.proj.labels[index]
            name = view.data.label_names[label] if 0 <= label < len(view.data.label_names) else "unlabelled"
            out = {**latent_outputs(st, view.proj.coords[index]), **slider_values(st)}  # latent = mu(x)
            out.update({original: figure_html(show(x[0], side=0), "selected image"),
                        recon: out[decoded].replace("decoded current latent", "its reconstruction"),
                        info: f"Selected test image **#{index}**: {name}"})
            return out

        def vq_outputs(st: dict) -> dict:
            if not st.get("vq"):
                return {state: st}
            return {state: st, grid: grid_html(st["grid"], st["cell"]),
                    vq_decoded: figure_html(ex.decode_codes(st["vq"], st["grid"], side=0), "decoded code grid")}

        def vq_select(st: dict, index: int) -> dict:
            if not st.get("vq"):
                return {state: st}
            cb = ex.codebook_view(st["vq"])
            index = int(np.clip(index or 0, 0, len(cb.grids) - 1))
            g = cb.grids[index].tolist()
            st = {**st, "vq_index": index, "grid": g, "grid_orig": g, "cell": [0, 0]}
            out = vq_outputs(st)
            out.update({vq_original: show(ex.image(st["vq"], index)[0]), code_num: g[0][0], vq_index: index})
            return out

        @user_errors
        def load_models(vae: str, vq: str, progress=gr.Progress()):
            progress(0, desc="loading checkpoints and projections (first time per checkpoint: minutes)")
            st = {"vae": vae, "vq": vq}
            out = {}
            if vae:
                st["dims"] = slider_dims(vae)
                lat = ex.latent_view(vae).proj.latents.shape[1]
                out[latent_map] = map_figure(vae)
                out[dims_dd] = gr.update(choices=list(range(lat)), value=st["dims"])
                out.update(select_index(st, 0))
                st = out[state]
                m = ex.manifold(vae)
                out[manifold] = gr.update(value=m, visible=m is not None)
                ck = ex.registry.get(vae)
                out[vae_summary], out[vae_curves] = ck.summary(), go.Figure(plots.training_curves(ck.history(), "vae"))
            if vq:
                progress(0.6, desc="loading the VQ-VAE codebook")
                out[codebook], out[usage] = codebook_figure(vq)
                out.update(vq_select(st, st.get("index", 0)))
                st = out[state]
                ck = ex.registry.get(vq)
                out[vq_summary], out[vq_curves] = ck.summary(), go.Figure(plots.training_curves(ck.history(), "vqvae"))
            out[state] = st
            out[status] = "" if vae and vq else "Train a VAE and a VQ-VAE (see README) to use every view."
            return out

        all_outputs = {latent_map, map_marker, dims_dd, original, recon, decoded, info, manifold, vae_summary,
                       vae_curves, codebook, usage, grid, vq_decoded, vq_original, code_num, vq_index, vq_summary,
                       vq_curves, state, status, sliders}
        for trigger in (demo.load, vae_dd.change, vq_dd.change):
            trigger(load_models, [vae_dd, vq_dd], all_outputs, concurrency_id="load", concurrency_limit=1,
                    api_visibility="private")

        @user_errors
        def on_map_click(st: dict, evt: gr.EventData):
            d = evt._data or {}
            if d.get("kind") == "point":
                return select_index(st, int(d["index"]))
            x, y = float(d["x"]), float(d["y"])
            st = {**st, "latent": ex.latent_view(st["vae"]).mapping.to_latent(x, y).tolist()}
            return {**latent_outputs(st, (x, y)), **slider_values(st)}

        selection_outputs = {decoded, map_marker, state, original, recon, info, sliders}
        latent_map.click(on_map_click, state, selection_outputs, **LIVE, trigger_mode="always_last")

        def on_slide(st: dict, evt: gr.EventData):
            d, v = slider_event(evt._data, len(st["latent"]))
            z = list(st["latent"])
            z[d] = v
            return latent_outputs({**st, "latent": z})  # not the sliders: the page shows the value already

        sliders.input(user_errors(on_slide), state, {decoded, map_marker, state}, **LIVE, trigger_mode="always_last")

        def on_dims(st: dict, dims: list):
            st = {**st, "dims": [int(d) for d in dims] or st["dims"]}
            return {**latent_outputs(st), **slider_values(st)}

        latent_outputs_sliders = {decoded, map_marker, state, sliders}
        dims_dd.input(user_errors(on_dims), [state, dims_dd], latent_outputs_sliders, **LIVE)
        reset_btn.click(user_errors(lambda st: select_index(st, st["index"])), state, selection_outputs, **LIVE)

        def on_prior(st: dict):
            z = np.random.default_rng().standard_normal(len(st["latent"]))
            st = {**st, "latent": z.tolist()}
            return {**latent_outputs(st), **slider_values(st)}

        prior_btn.click(user_errors(on_prior), state, latent_outputs_sliders, **LIVE)

        # VQ-VAE code editing
        vq_index.submit(user_errors(vq_select), [state, vq_index], all_outputs, **LIVE)

        def on_vq_tab(st: dict):
            """Opening the codes tab shows the code grid of the image selected on the map."""
            if st.get("vq") and st.get("index") is not None and st["index"] != st.get("vq_index"):
                return vq_select(st, st["index"])
            return {state: st}

        vq_tab.select(user_errors(on_vq_tab), state, all_outputs, **LIVE)

        def on_cell(st: dict, evt: gr.EventData):
            d = evt._data or {}
            st = {**st, "cell": [int(d["row"]), int(d["col"])]}
            out = vq_outputs(st)
            out[code_num] = st["grid"][st["cell"][0]][st["cell"][1]]
            return out

        grid.click(user_errors(on_cell), state, {state, grid, vq_decoded, code_num}, **LIVE)

        def checked_code(st: dict, code) -> int:
            k = ex.registry.model(st["vq"]).cfg.num_codes
            if code is None or not 0 <= int(code) < k:
                raise GridError(f"code index must be in 0..{k - 1}")
            return int(code)

        def on_code(st: dict, code) -> dict:
            r, c = st["cell"]
            return vq_outputs({**st, "grid": set_cell(np.array(st["grid"]), r, c, checked_code(st, code)).tolist()})

        code_num.input(user_errors(on_code), [state, code_num], {state, grid, vq_decoded}, **LIVE,
                       trigger_mode="always_last")

        def on_codebook_click(st: dict, evt: gr.EventData):
            d = evt._data or {}
            if d.get("kind") != "point":  # empty space between codes: nothing to pick
                return {state: st}
            code = int(d["index"])
            out = on_code(st, code)
            out[code_num] = code
            return out

        codebook.click(user_errors(on_codebook_click), state, {state, grid, vq_decoded, code_num}, **LIVE)

        def on_paint(st: dict, code) -> dict:
            return vq_outputs({**st, "grid": paint(np.array(st["grid"]), checked_code(st, code)).tolist()})

        paint_btn.click(user_errors(on_paint), [state, code_num], {state, grid, vq_decoded}, **LIVE)
        grid_reset.click(user_errors(lambda st: vq_outputs({**st, "grid": st["grid_orig"]})), state,
                         {state, grid, vq_decoded}, **LIVE)

        # compare
        def compare(vae, vq, index, upload):
            if upload:
                x, note = ex.load_upload(vae, upload)
                note = f"Uploaded image {note}." if note else "Uploaded image used as it is."
            else:
                x, note = ex.image(vae, int(index or 0)), f"Test image #{int(index or 0)}."
            r = ex.reconstruct(vae, vq, x)
            note += (f"  \nVAE: MSE {r['vae_mse']:.5f}, PSNR {r['vae_psnr']:.2f} dB. "
                     f"VQ-VAE: MSE {r['vqvae_mse']:.5f}, PSNR {r['vqvae_psnr']:.2f} dB.")
            return r["original"], r["vae"], r["vqvae"], r["vae_error"], r["vqvae_error"], note

        cmp_outputs = [cmp_orig, cmp_vae, cmp_vq, cmp_vae_err, cmp_vq_err, cmp_note]
        for trigger in (cmp_index.submit, cmp_upload.upload):
            trigger(user_errors(compare), [vae_dd, vq_dd, cmp_index, cmp_upload], cmp_outputs, api_visibility="private")

        def interpolate(vae, vq, a, b, n):
            r = ex.interpolate(vae, vq, int(a or 0), int(b or 0), int(n))
            return r["linear"], r["spherical"], r["vq"]

        go_btn.click(user_errors(interpolate), [vae_dd, vq_dd, ia, ib, steps], [lin, slerp, vqpath], api_visibility="private")

        # named API endpoints (gradio_client: client.predict(..., api_name="/decode_latent")); images go out as files
        # written once each (outputs.png_file), never as PIL images that Gradio would rewrite in place
        def file(im) -> str:
            return png_file(im, api_out1.GRADIO_CACHE)

        def reconstruct(image, vae: str, vqvae: str):
            x, note = ex.load_upload(vae, image)
            r = ex.reconstruct(vae, vqvae, x)
            metrics = {k: r[k] for k in ("vae_mse", "vae_psnr", "vqvae_mse", "vqvae_psnr")}
            return file(r["vae"]), file(r["vqvae"]), {**metrics, "note": note}

        def decode_latent(name: str, latent):
            return file(ex.decode_latent(name, latent))

        def decode_codes(name: str, grid):
            return file(ex.decode_codes(name, grid))

        api_btns[0].click(user_errors(reconstruct), [api_image, api_vae, api_vq], [api_out1, api_out2, api_metrics],
                          api_name="reconstruct", concurrency_limit=8, concurrency_id="api")
        api_btns[1].click(user_errors(decode_latent), [api_vae, api_latent], api_out1, api_name="decode_latent",
                          concurrency_limit=8, concurrency_id="api")
        api_btns[2].click(user_errors(decode_codes), [api_vq, api_grid], api_out1, api_name="decode_codes",
                          concurrency_limit=8, concurrency_id="api")
    return demo
