"""The static site's export: one folder with the page, the app's components, the libraries (with onnxruntime-web's
licence), a manifest, and each VAE's ONNX parts (checked against PyTorch) and map data; a Hugging Face static Space
card. It refuses a folder that is not empty (unless forced), a site over its budget and a model too large for a
page, each with what to do, and leaves what was there untouched when it refuses."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.errors import SiteError
from explorer.models import onnx_parts
from explorer.site.export import export_site

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def explorer_(app_checkpoints):
    from explorer.service.explorer import Explorer

    return Explorer([app_checkpoints], log=lambda *a: None)


@pytest.fixture(scope="module")
def site(explorer_, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "site"
    return export_site(explorer_, out, log=lambda *a: None)


def test_the_site_holds_the_page_the_components_the_libraries_and_each_vae(site, explorer_, app_models):
    out = site.out
    for f in ("index.html", "site.js", "host.js", "site.css", "components/plot.js", "components/image.js",
              "components/sliders.js", "lib/plotly.min.js", "lib/ort.wasm.min.js", "lib/ort-wasm-simd-threaded.wasm",
              "lib/LICENSE-onnxruntime-web.txt"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert (out / "components" / "plot.js").read_text() == (ROOT / "explorer/web/components/plot.js").read_text()
    assert "MIT License" in (out / "lib" / "LICENSE-onnxruntime-web.txt").read_text()
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "\nsdk: static\n" in card.split("---\n")[1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(m["name"], m["kind"]) for m in manifest["models"]] == [(app_models.vae, "vae"), (app_models.vq, "vqvae")]
    entry, vq = manifest["models"]
    folder = out / "models" / entry["folder"]
    view = explorer_.store.latent_view(app_models.vae)
    n, d = view.proj.latents.shape
    assert (entry["n"], entry["latent_dim"]) == (n, d) == (n, app_models.latent_dim)
    assert np.array_equal(np.fromfile(folder / "latents.bin", np.float32).reshape(n, d), view.proj.latents.astype(
        np.float32))
    assert np.array_equal(np.fromfile(folder / "labels.bin", np.int16), view.proj.labels)
    figure = json.loads((folder / "map.json").read_text())
    assert sum(len(t["customdata"]["bdata"]) for t in figure["data"]) > 0 and figure["layout"]["dragmode"] == "pan"
    for part in ("decoder", "encoder"):
        assert (folder / entry["files"][part]).is_file()
        assert 0 <= entry["checks"][part]["max_difference"] <= onnx_parts.TOLERANCE
    assert entry["sliders"]["dims"] and len(entry["sliders"]["labels"]) == len(entry["sliders"]["dims"])
    atlas = out / entry["atlas"]["file"]
    assert atlas.is_file() and entry["atlas"]["n"] == n and vq["atlas"] == entry["atlas"]  # the same images: one atlas

    cb = explorer_.codes.codebook(app_models.vq)
    folder = out / "models" / vq["folder"]
    g = app_models.grid
    assert (vq["grid_size"], vq["num_codes"], vq["n"]) == (g, app_models.num_codes, len(cb.grids))
    assert np.array_equal(np.fromfile(folder / "grids.bin", np.uint16).reshape(-1, g, g), cb.grids)
    assert vq["checks"]["encoder"]["max_difference"] == 0.0  # the same code in every cell
    assert vq["checks"]["decoder"]["max_difference"] <= onnx_parts.TOLERANCE
    assert vq["usage"]["perplexity"] == cb.usage()["perplexity"]
    assert json.loads((folder / "map.json").read_text())["layout"]["showlegend"] is False
    assert vq["files"]["prior"] == "prior.onnx" and (folder / "prior.onnx").is_file()  # the tiny VQ-VAE has a prior
    assert vq["checks"]["prior"]["max_difference"] <= onnx_parts.TOLERANCE
    assert vq["prior"]["bos"] == app_models.num_codes and vq["prior"]["cache"][2] == g * g  # keys of every cell
    assert site.megabytes() < site.megabytes(libraries=True)


def test_a_folder_that_is_not_empty_is_refused_unless_forced_and_a_refusal_leaves_it_as_it_was(explorer_, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(SiteError, match="not an empty folder.*--force"):
        export_site(explorer_, out, log=lambda *a: None)
    with pytest.raises(SiteError, match=r"over --max-mb 0\.001.*largest files"):
        export_site(explorer_, out, force=True, max_mb=0.001, log=lambda *a: None)
    assert (out / "mine.txt").read_text() == "keep me" and [p.name for p in out.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no half-built folder left beside it
    report = export_site(explorer_, out, force=True, log=lambda *a: None)
    assert not (out / "mine.txt").exists() and (out / "manifest.json").is_file() and report.models


def test_a_model_too_large_for_a_page_is_refused_with_its_size(explorer_, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_parts, "MAX_MB", 1e-6)
    with pytest.raises(SiteError, match=r"MB of weights: too large for a page.*python app\.py"):
        export_site(explorer_, tmp_path / "site", log=lambda *a: None)
    assert not (tmp_path / "site").exists()


@pytest.mark.slow
def test_the_command_says_what_to_do_and_exits_2_on_a_folder_that_is_not_empty(app_checkpoints, tmp_path):
    (tmp_path / "x").write_text("")
    out = subprocess.run([sys.executable, "-m", "explorer.export_site", "--checkpoints", str(app_checkpoints),
                          "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "not an empty folder" in out.stderr and "--force" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_fitted_prior_is_written_as_its_weights_means_and_cholesky_factors(teach_ex, tmp_path):
    import torch

    report = export_site(teach_ex, tmp_path / "site", log=lambda *a: None)
    manifest = json.loads((report.out / "manifest.json").read_text())
    entry = next(m for m in manifest["models"] if m["name"] == "vae4")
    gm = teach_ex.store.model("vae4", "vae").fitted_prior
    k, d = gm.means.shape
    assert entry["fitted_prior"] == {"components": k} and entry["files"]["mixture"] == "mixture.bin"
    flat = np.fromfile(report.out / "models" / entry["folder"] / "mixture.bin", np.float32)
    assert flat.size == k + k * d + k * d * d
    assert np.allclose(flat[:k], torch.softmax(gm.logits, 0).numpy(), atol=1e-7) and abs(flat[:k].sum() - 1) < 1e-5
    assert np.allclose(flat[k:k + k * d].reshape(k, d), gm.means.numpy(), atol=1e-6)
    assert np.allclose(flat[k + k * d:].reshape(k, d, d), gm.scale_tril.numpy(), atol=1e-6)
    others = {m["name"]: m for m in manifest["models"]}
    assert others["vae2"]["fitted_prior"] is None and "mixture" not in others["vae2"]["files"]
    assert others["vq"]["prior"] is None and "prior" not in others["vq"]["files"]  # a VQ-VAE without a prior


def test_a_vae_too_large_for_a_page_ships_its_preview_decoder_in_place_of_its_own(tmp_path, monkeypatch):
    """With a preview decoder (explorer.preview) beside it, a model over the page's budget is exported with the
    preview as its decoder, checked against the preview in PyTorch, labelled, and without an encoder."""
    diffusers = pytest.importorskip("diffusers")
    import torch

    from explorer.compute import preview_fit
    from explorer.service import projection
    from explorer.service.explorer import Explorer
    from explorer.service.image_sets import ImageSet
    from explorer.service.preview import train_preview

    monkeypatch.setattr(projection, "umap_2d", lambda points, progress=None: projection.pca_2d(points))  # no UMAP
    monkeypatch.setattr(preview_fit, "seconds_per_decode", lambda decode, latent, seconds: 0.001)
    torch.manual_seed(0)
    body = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"), "norm_num_groups": 4,
            "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
            "layers_per_block": 1, "sample_size": 16, "in_channels": 3, "out_channels": 3}
    diffusers.AutoencoderKL(latent_channels=4, **body).save_pretrained(tmp_path / "kl")
    images = ImageSet.from_arrays(np.random.default_rng(0).integers(0, 256, (30, 3, 16, 16), dtype=np.uint8))
    ex = Explorer([tmp_path / "kl"], log=lambda *a: None, images=images)
    ex.store.latent_view("kl")
    train_preview(ex.store, "kl", minutes=1, log=lambda *a: None, max_steps=3)
    ex = Explorer([tmp_path / "kl"], log=lambda *a: None, images=images)  # opens the model with its preview
    label = ex.store.model("kl").preview.label
    monkeypatch.setattr(onnx_parts, "MAX_MB", 1e-6)  # the model is too large for a page; its preview is not refused
    out = export_site(ex, tmp_path / "site", log=lambda *a: None).out
    (entry,) = json.loads((out / "manifest.json").read_text())["models"]
    assert entry["preview"] == label and label.startswith("preview, ") and label.endswith(" dB")
    assert "encoder" not in entry["files"] and (out / "models" / entry["folder"] / "decoder.onnx").is_file()
    assert entry["checks"]["decoder"]["max_difference"] <= onnx_parts.TOLERANCE


def test_the_page_plotly_is_the_app_release_cut_to_the_traces_the_page_draws():
    """The static page's plotly.js (scripts/plotly_bundle/build.sh) is the release the app serves, with scattergl:
    rebuild it when the plotly package changes."""
    import re

    from explorer.site import vendor

    def version(path):
        return re.search(r"plotly\.js v([0-9.]+)", path.read_text()[:300]).group(1)

    assert version(vendor.PLOTLY_JS) == version(vendor.PLOTLY_PACKAGE_JS)
    bundle = vendor.PLOTLY_JS.read_text()
    assert '"scattergl"' in bundle and len(bundle) < vendor.PLOTLY_PACKAGE_JS.stat().st_size / 2
