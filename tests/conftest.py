"""Shared fixtures, and the markers each folder gets.

The folders mirror the source: tests/vae_core, tests/explorer/<layer>, tests/browser (Chromium and the running app's
HTTP API: marked `browser`) and tests/benchmarks (the benchmarks' smoke runs: marked `slow`); tests/test_readme.py runs
the README's examples. A test that takes seconds is marked `slow` where it is defined. The fast path leaves both out:
    python -m pytest -m "not browser and not slow"

vae_core: `vc_one_thread` (tiny models run fastest on one thread, and do not fight other jobs for cores),
`tiny_cfg` (a factory of tiny digits configs), `digits` (scikit-learn's 8x8 digits as a Dataset).
"""
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
FOLDER_MARKS = {"browser": "browser", "benchmarks": "slow"}


# the files that take longest, run first: with two processes each taking whole files (scripts/test.sh), a long file
# left for the end keeps one process busy while the other idles (docs/benchmarks.md, "The tests")
LONGEST_FIRST = ("browser/test_playground.py", "benchmarks/test_playground.py", "browser/test_url.py",
                 "browser/test_diffusers.py", "browser/test_map.py", "browser/test_sessions.py",
                 "vae_core/test_reliability_training.py", "browser/test_lessons.py", "browser/test_static_site.py",
                 "benchmarks/test_load_test.py", "vae_core/test_default_checkpoints.py", "browser/test_codes.py")


def pytest_collection_modifyitems(items):
    for item in items:
        folder = Path(item.path).resolve().relative_to(TESTS).parts[0]
        if folder in FOLDER_MARKS:
            item.add_marker(FOLDER_MARKS[folder])
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(item.path).resolve().relative_to(TESTS).as_posix(), len(rank)))


@pytest.fixture(scope="module")
def vc_one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_cfg():
    """tiny_cfg(**overrides) -> a Config small enough to train in a second on the 8x8 digits."""
    from vae_core import Config

    def make(**overrides):
        kw = {"width": 8, "latent_dim": 4, "num_codes": 16, "code_dim": 8, "channels": 1, "image_size": 8,
              "data": "digits", "epochs": 1, "batch_size": 32}
        return Config(**{**kw, **overrides})

    return make


@pytest.fixture(scope="session")
def digits():
    from vae_core.data import load_dataset

    return load_dataset("digits", log=lambda *a: None)


# --- the running app (tests/browser/) ---------------------------------------
# `app_checkpoints`: a folder with a tiny digits VAE (2-D latent: its map is the latent itself) and a tiny VQ-VAE
# (32 codes: PCA codebook map) with a tiny prior over its codes, projections cached; or the folder in
# $VAE_EXPLORER_SCREENSHOT_CKPTS.
# `app_models`: names and sizes of the checkpoints the app shows first. `app_url`: `python app.py` serving them.
ROOT = Path(__file__).resolve().parents[1]
CKPTS_ENV = "VAE_EXPLORER_SCREENSHOT_CKPTS"  # real checkpoints for the screenshots (browser/test_screenshots.py)
NO_UMAP = "raise ImportError('tests must not import umap (slow numba compile): a projection cache is missing')\n"


@pytest.fixture(scope="session")
def app_checkpoints(tmp_path_factory) -> Path:
    if os.environ.get(CKPTS_ENV):
        return Path(os.environ[CKPTS_ENV]).resolve()
    from explorer.service.explorer import Explorer
    from vae_core import Config, load
    from vae_core.train import train
    from vae_core.train_prior import prior_config, train_prior

    out = tmp_path_factory.mktemp("app-checkpoints")
    common = {"data": "digits", "channels": 1, "image_size": 8, "width": 8, "lr": 3e-3}
    # beta < 1 and 20 epochs: with the defaults the tiny VAE collapses to its prior, so every latent decodes to
    # the same picture and no test could see a click change the image
    configs = {"digits-vae": Config(model="vae", latent_dim=2, beta=0.1, epochs=20, **common),
               "digits-vqvae": Config(model="vqvae", num_codes=32, code_dim=8, epochs=5, **common)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, cfg in configs.items():
            train(cfg, out / name, device="cpu", log=lambda *a: None)
        prior = prior_config(load(out / "digits-vqvae").cfg, epochs=2, batch_size=32, prior_dim=16, prior_layers=2,
                             prior_heads=2, lr=3e-3)
        train_prior(out / "digits-vqvae", prior, device="cpu", log=lambda *a: None)
        ex = Explorer([out], log=lambda *a: None)  # cache the projections now: the app starts warm
        ex.store.latent_view("digits-vae")
        ex.store.codebook_view("digits-vqvae")
    finally:
        torch.set_num_threads(threads)
    assert "umap" not in sys.modules
    return out


@dataclass
class AppModels:
    vae: str  # the VAE and VQ-VAE the page opens with
    vq: str
    latent_dim: int
    grid: int  # side of the VQ-VAE code grid
    num_codes: int
    registry: object  # explorer.service.registry.Registry over app_checkpoints (models load on demand)


@pytest.fixture(scope="session")
def app_models(app_checkpoints) -> AppModels:
    from explorer.service.registry import Registry

    reg = Registry([app_checkpoints], log=lambda *a: None)
    vaes, vqs = reg.names("vae"), reg.names("vqvae")
    assert vaes and vqs, f"{app_checkpoints} needs a VAE and a VQ-VAE checkpoint"
    vq_cfg = reg.get(vqs[0]).cfg
    return AppModels(vaes[0], vqs[0], reg.get(vaes[0]).cfg.latent_dim, vq_cfg.image_size // 4, vq_cfg.num_codes, reg)



@pytest.fixture(scope="session")
def app_url(app_checkpoints, tmp_path_factory):
    """`python app.py --checkpoints <app_checkpoints>` on a free port; its URL once it answers HTTP 200."""
    from tests.launch import AppStartError, start_app, stop_app

    tmp = tmp_path_factory.mktemp("app")
    env = {"GRADIO_TEMP_DIR": str(tmp / "gradio")}
    if not os.environ.get(CKPTS_ENV):  # the tiny checkpoints need no UMAP: make an import fail fast, not compile
        (tmp / "no_umap" / "umap").mkdir(parents=True)
        (tmp / "no_umap" / "umap" / "__init__.py").write_text(NO_UMAP)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp / "no_umap"), os.environ.get("PYTHONPATH")]))
    try:
        proc, url, _ = start_app([app_checkpoints], tmp / "app.log", env, timeout=180)
    except AppStartError as e:
        pytest.fail(str(e))
    try:
        yield url
    finally:
        stop_app(proc)


# --- the page in Chromium (tests/browser/; tests/browser_app.py: AppPage) -------------------------------
@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Playwright) for one browser test file; skips them without Playwright.

    Module scope, not session: while Playwright's sync API is open it holds an event loop on the main thread, and
    later tests that call asyncio.run() (tests/explorer/web/test_output_race.py) would fail."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.launch import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_app(browser, app_url):
    """open_app() -> a new AppPage (its own browser context: a separate session), closed after the test."""
    from tests.browser_app import AppPage

    pages = []

    def make() -> AppPage:
        pages.append(AppPage(browser, app_url))
        return pages[-1]

    yield make
    for p in pages:
        p.close()


# --- the Maths tab's logic (tests/explorer/compute, tests/explorer/service) ---
@pytest.fixture(scope="session")
def teach_ckpts(tmp_path_factory) -> Path:
    """Tiny digits checkpoints: a VAE with a 4-D latent (its map is a PCA here: no UMAP in tests) and a fitted prior
    over z, a 2-D VAE (none) and a 16-code VQ-VAE, projections cached."""
    from explorer.service import projection
    from explorer.service.explorer import Explorer
    from vae_core import Config
    from vae_core.fit_prior import fit_prior
    from vae_core.train import train

    out = tmp_path_factory.mktemp("teach-checkpoints")
    common = {"data": "digits", "channels": 1, "image_size": 8, "width": 8, "batch_size": 64}
    configs = {"vae4": Config(model="vae", latent_dim=4, beta=0.5, epochs=2, **common),
               "vae2": Config(model="vae", latent_dim=2, beta=0.5, epochs=2, **common),
               "vq": Config(model="vqvae", num_codes=16, code_dim=8, epochs=1, **common)}
    threads, umap_2d = torch.get_num_threads(), projection.umap_2d
    torch.set_num_threads(1)
    projection.umap_2d = lambda points, progress=None: projection.pca_2d(points)
    try:
        for name, cfg in configs.items():
            train(cfg, out / name, device="cpu", log=lambda *a: None)
        fit_prior(out / "vae4", "cpu", log=lambda *a: None, gmm_components=3, gmm_iterations=30)
        ex = Explorer([out], log=lambda *a: None)
        for name in ("vae4", "vae2"):
            ex.store.latent_view(name)
        ex.store.codebook_view("vq")
    finally:
        torch.set_num_threads(threads)
        projection.umap_2d = umap_2d
    return out


@pytest.fixture(scope="session")
def teach_ex(teach_ckpts):
    from explorer.service.explorer import Explorer

    return Explorer([teach_ckpts], log=lambda *a: None)
