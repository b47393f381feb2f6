"""The Playground view: train a small VAE or VQ-VAE on a 2-D toy set or a small image set in the page and watch it
learn. While it plays, the canvas asks its server function `tick` for one slice of training and one scene to draw
(the canvas and its status line) about 12 times a second (web/components/playground.js): no Gradio event per update,
so the page does no event bookkeeping while it trains. The run belongs to the tab's session; closing the tab drops
it. The buttons and every control's change are Gradio events: a control is checked against its range (a bad value
is refused with a message saying what to enter, and the run keeps its last good settings) and takes effect at the
next step; a change that needs a new model (model, data, seed, latent size, the image VAE's body, K, codebook mode,
k-means init) restarts the run.

Its state lives in the address bar (explorer/playground/url_state.py lists the keys): every control as pg_<name>,
and pg_hide=<names> for the controls a lesson or a teacher's link hides, e.g.

    ?tab=playground&pg_model=vqvae&pg_data=ring&pg_steps_per_scene=1&pg_hide=lr,batch_size,save

On page load `restore` sets the controls from it (a bad value is dropped with a warning) and hides what it names;
each event writes the query back (a hidden gr.HTML whose url.js puts the pg_ keys in the address bar, leaving the
page's own keys alone), so a link opens the Playground as it was (its seed gives the same run)."""
import io
import secrets
import zipfile
from dataclasses import fields, replace
from pathlib import Path

import gradio as gr

from explorer.errors import PlaygroundError
from explorer.playground.data import IMAGE_SETS, TOY_SETS
from explorer.playground.pool import Update
from explorer.playground.scenes import playground_scene
from explorer.playground.settings import RANGES, PlaygroundSettings, check_settings
from explorer.playground.url_state import BUTTONS, PREFIX
from explorer.playground.url_state import from_query as playground_state
from explorer.playground.url_state import to_query as playground_query
from explorer.web.components import asset
from explorer.web.components.playground import playground_canvas
from explorer.web.files import data_file
from explorer.web.views import Page

NAMES = [f.name for f in fields(PlaygroundSettings)]  # the controls, in the order the events take them
DATA_CHOICES = [(name, name) for name in TOY_SETS] + [(label, name) for name, label in IMAGE_SETS.items()]
D = PlaygroundSettings()
SPEED_CHOICES = [("full", 0), ("10 steps", 10), ("1 step", 1)]  # steps per scene
URL_JS = asset("url.js")


def zipped(folder: Path, cache_dir) -> str:
    """A zip of checkpoint `folder` (its files under <folder name>/), written once in the cache: its path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, Path(folder.name) / path.relative_to(folder))
    return data_file(buffer.getvalue(), f"{folder.name}.zip", cache_dir)


class PlaygroundView:
    title = "Playground"
    key = "playground"

    def __init__(self, ex, pool):
        self.ex, self.pool = ex, pool
        self.frames = 0
        self.refused: dict[str, str] = {}  # by session: the last refused control, said until one is taken

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self):
        gr.Markdown("Train a VAE or a VQ-VAE on 2-D points or on small images and watch it learn: for images, the "
                    "latent map (VAE) or codebook usage (VQ-VAE) and a strip of reconstructions and samples, drawn "
                    "at each epoch's end. Changing a control takes effect at the next step (model, data, seed, "
                    "latent size, the image VAE's body, K, codebook mode and k-means init start a new run). On 2-D "
                    "data the grey grid is the decoder over a grid of latents; at speed 10 or 1 step (or after one "
                    "step) the arrows show how the reconstructions moved over the last step. The address bar keeps "
                    "every control: copy it to share this Playground.")
        c = {}
        with gr.Row():
            c["model"] = gr.Radio([("VAE", "vae"), ("VQ-VAE", "vqvae")], value=D.model, label="model",
                                  elem_id="pg-model")
            c["data"] = gr.Dropdown(DATA_CHOICES, value=D.data, label="data", elem_id="pg-data")
            c["seed"] = gr.Number(D.seed, precision=0, label="seed", elem_id="pg-seed")
            c["lr"] = gr.Number(D.lr, label=f"learning rate ({RANGES['lr'][0]:g} to {RANGES['lr'][1]:g})",
                                elem_id="pg-lr")
            c["batch_size"] = gr.Number(D.batch_size, precision=0, label="batch size (8 to 1024)", elem_id="pg-batch")
        with gr.Row():
            self.play = gr.Button("play", variant="primary", elem_id="pg-play")
            self.pause = gr.Button("pause", elem_id="pg-pause")
            self.step = gr.Button("one step", elem_id="pg-step")
            self.reset = gr.Button("reset", elem_id="pg-reset")
            self.save = gr.Button("save as checkpoint", elem_id="pg-save")
            c["steps_per_scene"] = gr.Radio(SPEED_CHOICES, value=D.steps_per_scene,
                                            label="speed: steps a scene (slow: arrows show the last step)",
                                            elem_id="pg-speed", scale=2)
        with gr.Row():
            c["latent_dim"] = gr.Radio([1, 2], value=D.latent_dim, label="VAE: latent size", elem_id="pg-latent")
            c["mc_samples"] = gr.Slider(1, 64, value=D.mc_samples, step=1, label="VAE: L samples of z",
                                        elem_id="pg-L")
            c["beta"] = gr.Number(D.beta, label="VAE: beta (0 to 10)", elem_id="pg-beta")
            c["arch"] = gr.Radio([("MLP", "mlp"), ("conv", "conv")], value=D.arch,
                                 label="images: the VAE's body (the VQ-VAE's is conv)", elem_id="pg-arch")
        with gr.Row():
            c["num_codes"] = gr.Number(D.num_codes, precision=0, label="VQ: K codes (2 to 64)", elem_id="pg-K")
            c["commitment"] = gr.Number(D.commitment, label="VQ: commitment weight", elem_id="pg-commitment")
            c["codebook"] = gr.Radio([("EMA", "ema"), ("loss", "loss")], value=D.codebook,
                                     label="VQ: codebook by", elem_id="pg-codebook")
            c["codebook_weight"] = gr.Number(D.codebook_weight, label="VQ: codebook weight (loss)",
                                             elem_id="pg-codebook-weight")
            c["ema_decay"] = gr.Number(D.ema_decay, label="VQ: EMA decay (0.5 to 0.999)", elem_id="pg-decay")
            c["kmeans_init"] = gr.Checkbox(D.kmeans_init, label="VQ: k-means init", elem_id="pg-kmeans")
            c["restarts"] = gr.Checkbox(D.restarts, label="VQ: dead-code restarts", elem_id="pg-restarts")
        self.controls = [c[n] for n in NAMES]
        self.buttons = dict(zip(BUTTONS, (self.play, self.pause, self.step, self.reset, self.save)))
        self.hidden = gr.State(())  # the controls the URL hides (pg_hide), written back with the rest
        self.url = gr.HTML("", html_template=f'<span data-url-prefix="{PREFIX}"></span>', js_on_load=URL_JS,
                           elem_id="pg-url-state")
        self.canvas = playground_canvas("pg-canvas", self.tick)
        self.download = gr.File(label="the saved checkpoint (a zip of its folder)", visible=False,
                                elem_id="pg-download")

    # --- events -------------------------------------------------------------------------------------------------
    def settings(self, values: dict) -> PlaygroundSettings:
        """The controls' values ({component: value}, Gradio's form for a set of inputs), checked."""
        return check_settings({name: values[c] for name, c in zip(NAMES, self.controls)})

    def scene(self, update, session: str = "") -> str:
        self.frames += 1
        s = update.snapshot
        k = len(s["codes"]) if s is not None and "codes" in s else 0
        settings = self.pool.settings_of(session)
        slow = bool(settings is not None and settings.steps_per_scene)
        return playground_scene(s, self.frames, k, update.status, update.playing, update.waiting, slow)

    def action(self, name: str):
        """The handler of one action of the pool (play, pause, step_once, reset, apply) for the tab's session."""
        def handler(values: dict, request: gr.Request):
            session = getattr(request, "session_hash", "") or ""
            try:
                settings = self.settings(values)
            except PlaygroundError as e:
                if name == "apply":  # a control set out of range: the run goes on (or stays paused) as it was
                    self.refused[session] = f"refused: {e} (the run keeps its last good settings)"
                    return {self.canvas: self.scene(self.as_it_is(session, self.refused[session]), session)}
                current = self.pool.settings_of(session)  # a button pressed with a bad value: the run pauses
                paused = self.pool.pause(session, current) if current is not None else Update(None, "")
                return {self.canvas: self.scene(Update(paused.snapshot, f"refused: {e}"), session)}
            self.refused.pop(session, None)
            update = getattr(self.pool, name)(session, settings)
            return {self.canvas: self.scene(update, session),
                    self.url: playground_query(settings, values[self.hidden])}
        handler.__name__ = f"playground_{name}"
        return handler

    def as_it_is(self, session: str, status: str) -> Update:
        """The session's run as it is (still training, waiting or paused, as it was), with this status line."""
        current = self.pool.settings_of(session)
        if current is None:
            return Update(None, status)
        u = self.pool.apply(session, current)
        return Update(u.snapshot, status, u.playing, u.waiting)

    def tick(self, session: str) -> str:
        """The canvas's next scene (its server function calls this with the tab's session)."""
        u = self.pool.tick(session)
        note = self.refused.get(session)
        return self.scene(replace(u, status=f"{u.status} · {note}") if note else u, session)

    def save_run(self, page: Page):
        """The handler of "save as checkpoint": the run (image runs) as a vae_core checkpoint that this page's model
        pickers then offer, and a zip of it to download."""
        def handler(values: dict, request: gr.Request):
            session = getattr(request, "session_hash", "") or ""
            try:
                settings = self.settings(values)
                name = f"playground-{settings.model}-{settings.data}-{secrets.token_hex(3)}"
                folder = self.pool.save(session, name)
                self.ex.store.add_folder(folder)
            except PlaygroundError as e:
                return {self.canvas: self.scene(self.as_it_is(session, f"not saved: {e}"), session)}
            picker = page.vae if settings.model == "vae" else page.vq
            note = (f"saved as {name}: pick it in the {settings.model.upper().replace('VQVAE', 'VQ-VAE')} checkpoint "
                    "menu at the top of the page to open it in the other tabs")
            return {self.canvas: self.scene(self.as_it_is(session, note), session),
                    picker: gr.Dropdown(choices=self.ex.store.names(settings.model)),
                    self.download: gr.File(zipped(folder, self.download.GRADIO_CACHE), visible=True)}
        handler.__name__ = "playground_save"
        return handler

    def restore(self, request: gr.Request) -> dict:
        """On page load: the controls the URL sets (pg_ keys; a bad value is dropped with a warning) and the ones it
        hides (pg_hide)."""
        state = playground_state(dict(request.query_params) if request is not None else {})
        for m in state.messages:
            gr.Warning(m)
        out = {self.hidden: state.hidden}
        for name, control in zip(NAMES, self.controls):
            if name in state.given or name in state.hidden:
                out[control] = gr.update(**({"value": getattr(state.settings, name)} if name in state.given else {}),
                                         **({"visible": False} if name in state.hidden else {}))
        for name, button in self.buttons.items():
            if name in state.hidden:
                out[button] = gr.update(visible=False)
        if state.given or state.hidden:
            out[self.url] = playground_query(state.settings, state.hidden)
        return out

    def close(self, request: gr.Request):
        """The tab closed (Gradio's unload): its run goes."""
        session = getattr(request, "session_hash", "") or ""
        self.refused.pop(session, None)
        self.pool.close(session)

    def wire(self, page: Page, tab: gr.Tab):
        outputs, controls = [self.canvas, self.url], {*self.controls, self.hidden}
        for button, name in ((self.play, "play"), (self.pause, "pause"), (self.step, "step_once"),
                             (self.reset, "reset")):
            page.live(button.click, self.action(name), controls, outputs)
        for control in self.controls:
            page.live(control.change, self.action("apply"), controls, outputs, trigger_mode="always_last")
        page.live(self.save.click, self.save_run(page), controls, [self.canvas, page.vae, page.vq, self.download])
        page.demo.load(self.restore, None, [self.hidden, self.url, *self.controls, *self.buttons.values()],
                       api_visibility="private")
        page.demo.unload(self.close)
