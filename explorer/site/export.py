"""Write the static site: one folder that a static file server hosts as it is.

    index.html, site.js, host.js, site.css   the page (explorer/site/page/)
    components/                              the app's own components (explorer/web/components/*.js and *.css)
    lib/                                     plotly.js and onnxruntime-web, with their licence (vendor.py)
    manifest.json                            the models and their files (model_files.py)
    models/<slug>/                           each model's ONNX parts and map data
    images/<hash>.png                        each image set as one atlas (images.py)
    README.md                                a Hugging Face static Space's card (sdk: static)

The folder is built beside `out` and moved into place when it is whole, so a failed export leaves nothing half
written, and an existing site is replaced only with `force`.
"""
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from explorer.errors import SiteError
from explorer.service.explorer import Explorer
from explorer.site import vendor
from explorer.site.images import write_atlas
from explorer.site.model_files import checked_model, slug, vae_files, vq_files

PAGE = Path(__file__).parent / "page"
COMPONENTS = Path(__file__).parents[1] / "web" / "components"  # the app's components, read as files (no Gradio)
COMPONENT_FILES = ("plot.js", "image.js", "sliders.js", "strip.js", "url.js", "grid.js", "choices.js", "plot.css",
                   "image.css", "sliders.css", "strip.css", "grid.css", "choices.css")
CARD = """---
title: {title}
emoji: 🔍
colorFrom: indigo
colorTo: gray
sdk: static
pinned: false
---

# {title}

The latent spaces of {names}, explored in the browser: a click on the map, a slider or a code decodes at once with
onnxruntime-web, on the visitor's own machine. Exported by vae-explorer (`python -m explorer.export_site`).
"""


@dataclass
class SiteReport:
    out: Path
    models: list[str]
    sizes: dict[str, int]  # bytes by file, relative to out
    checks: dict[str, dict] = field(default_factory=dict)  # model -> part -> its check against PyTorch
    seconds: float = 0.0

    def megabytes(self, libraries: bool = False) -> float:
        return sum(b for f, b in self.sizes.items() if libraries or not f.startswith("lib/")) / 1e6


def export_site(ex: Explorer, out: str | Path, force: bool = False, max_mb: float | None = None,
                title: str = "vae-explorer", log=print) -> SiteReport:
    """Export every VAE and VQ-VAE that `ex` opens as a static site in `out`; refuse (SiteError) with what to do."""
    started, out = time.perf_counter(), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise SiteError(f"{out} is not an empty folder: choose a new one, or pass --force to replace it")
    kinds = {name: kind for kind in ("vae", "vqvae") for name in ex.store.names(kind)}
    names = list(kinds)
    if not names:
        raise SiteError("no model to export: give model folders (vae_core checkpoints or diffusers AutoencoderKL "
                        "or VQModel folders), or models from Python")
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        models, checks, atlases = [], {}, {}
        for i, name in enumerate(names):
            log(f"[{i + 1}/{len(names)}] {name}")
            checked_model(ex, name, kinds[name])  # a model too large for a page is refused before its images
            x = ex.store.data(name).x_test
            key = (x.shape, x[:4].tobytes(), x[-4:].tobytes())
            if key not in atlases:
                atlases[key] = write_atlas(x, build)
            write = vae_files if kinds[name] == "vae" else vq_files
            entry = write(ex, name, build / "models" / slug(name), atlases[key], log)
            models.append(entry)
            checks[name] = entry["checks"]
        copy_page(build)
        vendor.copy_libraries(build)
        manifest = {"title": title, "models": models}
        (build / "manifest.json").write_text(json.dumps(manifest, indent=1))
        (build / "README.md").write_text(CARD.format(title=title, names=", ".join(names)))
        report = SiteReport(out, names, sizes(build), checks)
        if max_mb is not None and report.megabytes() > max_mb:
            biggest = sorted(((b, f) for f, b in report.sizes.items() if not f.startswith("lib/")), reverse=True)[:5]
            raise SiteError(f"the site is {report.megabytes():.1f} MB besides the libraries in lib/, over --max-mb "
                            f"{max_mb:g}. Its largest files: " + ", ".join(f"{f} {b / 1e6:.1f} MB" for b, f in biggest)
                            + ". Drop a model, or show fewer images (--images with a smaller set).")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        build.rename(out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def copy_page(out: Path) -> None:
    """The page and the app's components it runs."""
    for f in PAGE.iterdir():
        if f.is_file():
            shutil.copyfile(f, out / f.name)
    (out / "components").mkdir()
    for name in COMPONENT_FILES:
        shutil.copyfile(COMPONENTS / name, out / "components" / name)


def sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
