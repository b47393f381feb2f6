"""The app's named API endpoints through gradio_client, against `python app.py` (the `app_url` fixture), and the
files the server will and will not hand out."""
import json
import math
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402  (after the importorskip above, which must run first)
from gradio_client.exceptions import AppError  # noqa: E402  (likewise)


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def open_image(path) -> Image.Image:
    im = Image.open(path)
    im.load()
    return im


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


# --- /decode_latent ---------------------------------------------------------------------------------------------
def test_decode_latent_returns_an_image(client, app_models):
    path = client.predict(app_models.vae, [0.5] * app_models.latent_dim, api_name="/decode_latent")
    im = open_image(path)
    assert im.format == "PNG" and min(im.size) >= 64


@pytest.mark.parametrize("latent, message", [
    ("wrong_length", "latent must be a list of"),
    (["nan"], "NaN or inf"),
    (["inf"], "NaN or inf"),
    ([1e6], "must lie within"),
    ("abc", "latent must be a list of"),
    (None, "latent must be a list of"),
])
def test_decode_latent_refuses_bad_latents(client, app_models, latent, message):
    d = app_models.latent_dim
    if latent == "wrong_length":
        latent = [0.0] * (d + 1)
    elif isinstance(latent, list):
        latent = latent + [0.0] * (d - 1)
    with pytest.raises(AppError, match=message):
        client.predict(app_models.vae, latent, api_name="/decode_latent")


def test_decode_latent_refuses_a_nan_sent_as_json(app_url, app_models):
    """gradio_client cannot send NaN (not JSON); raw HTTP can (Python's json reads NaN): the app must refuse it."""
    call = app_url + "gradio_api/call/decode_latent"
    body = '{{"data": [{}, [NaN{}]]}}'.format(json.dumps(app_models.vae), ", 0" * (app_models.latent_dim - 1))
    req = urllib.request.Request(call, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        event = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{call}/{event}", timeout=60) as r:
        stream = r.read().decode()
    assert "event: error" in stream and "NaN or inf" in stream, stream


@pytest.mark.parametrize("name", ["no-such-model", "../../etc/passwd", "/etc/passwd", ""])
def test_decode_latent_refuses_unknown_checkpoints(client, app_models, name):
    with pytest.raises(AppError, match="unknown checkpoint"):
        client.predict(name, [0.0] * app_models.latent_dim, api_name="/decode_latent")


def test_decode_latent_refuses_a_vqvae(client, app_models):
    with pytest.raises(AppError, match="takes a VAE checkpoint"):
        client.predict(app_models.vq, [0.0] * app_models.latent_dim, api_name="/decode_latent")


# --- /decode_codes ----------------------------------------------------------------------------------------------
def test_decode_codes_returns_an_image_that_depends_on_the_codes(client, app_models):
    n, k = app_models.grid, app_models.num_codes
    a = client.predict(app_models.vq, [[0] * n for _ in range(n)], api_name="/decode_codes")
    b = client.predict(app_models.vq, [[(r * n + c) % k for c in range(n)] for r in range(n)],
                       api_name="/decode_codes")
    ia, ib = open_image(a), open_image(b)
    assert ia.format == "PNG" and ia.size == ib.size
    assert ia.tobytes() != ib.tobytes()


def test_decode_codes_accepts_integral_floats(client, app_models):
    n = app_models.grid
    client.predict(app_models.vq, [[1.0] * n for _ in range(n)], api_name="/decode_codes")  # JSON has no ints


@pytest.mark.parametrize("kind, message", [
    ("short", "code grid must be"),
    ("ragged", "code grid must be"),
    ("flat", "code grid must be"),
    ("too_big", "indices must be in 0.."),
    ("negative", "indices must be in 0.."),
    ("fraction", "every cell must be an integer"),
    ("bool", "every cell must be an integer"),
    ("string", "every cell must be an integer"),
])
def test_decode_codes_refuses_bad_grids(client, app_models, kind, message):
    n, k = app_models.grid, app_models.num_codes
    grid = [[0] * n for _ in range(n)]
    if kind == "short":
        grid = grid[:-1]
    elif kind == "ragged":
        grid[-1] = grid[-1][:-1]
    elif kind == "flat":
        grid = [0] * (n * n)
    else:
        grid[-1][-1] = {"too_big": k, "negative": -1, "fraction": 1.5, "bool": True, "string": "3"}[kind]
    with pytest.raises(AppError, match=message):
        client.predict(app_models.vq, grid, api_name="/decode_codes")


def test_decode_codes_refuses_unknown_checkpoints_and_vaes(client, app_models):
    grid = [[0] * app_models.grid for _ in range(app_models.grid)]
    with pytest.raises(AppError, match="unknown checkpoint"):
        client.predict("../" + app_models.vq, grid, api_name="/decode_codes")
    with pytest.raises(AppError, match="takes a VQ-VAE checkpoint"):
        client.predict(app_models.vae, grid, api_name="/decode_codes")


# --- /reconstruct -----------------------------------------------------------------------------------------------
def test_reconstruct_returns_two_images_and_metrics(client, app_models, tmp_path):
    src = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), (200, 40, 30)).save(src)
    vae_img, vq_img, metrics = client.predict(handle_file(str(src)), app_models.vae, app_models.vq,
                                              api_name="/reconstruct")
    a, b = open_image(vae_img), open_image(vq_img)
    assert a.format == b.format == "PNG" and a.size == b.size
    for key in ("vae_mse", "vae_psnr", "vqvae_mse", "vqvae_psnr"):
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), metrics
        assert metrics[key] > 0
    assert "converted from 40x30 RGB" in metrics["note"] and "padded to a square" in metrics["note"]


def test_reconstruct_refuses_a_non_image(client, app_models, tmp_path):
    src = tmp_path / "notes.png"
    src.write_text("this is text, not a PNG")
    with pytest.raises(AppError, match="could not read the upload as an image"):
        client.predict(handle_file(str(src)), app_models.vae, app_models.vq, api_name="/reconstruct")


def test_reconstruct_refuses_unknown_checkpoints(client, app_models, tmp_path):
    src = tmp_path / "img.png"
    Image.new("L", (8, 8)).save(src)
    with pytest.raises(AppError, match="unknown checkpoint"):
        client.predict(handle_file(str(src)), app_models.vae, "../../etc/passwd", api_name="/reconstruct")


# --- files the server hands out ---------------------------------------------------------------------------------
def test_plotly_js_is_served(app_url):
    from explorer.web.components.plot import PLOTLY_JS

    with urllib.request.urlopen(f"{app_url}gradio_api/file={PLOTLY_JS}", timeout=30) as r:
        assert r.status == 200
        assert b"plotly" in r.read(4096).lower()


@pytest.mark.parametrize("path", ["/etc/passwd", "%2Fetc%2Fpasswd", "../../../../etc/passwd", "weights", "app.py"])
def test_other_files_are_refused(app_url, app_checkpoints, path):
    """Only plotly.min.js, the page modules and decoders the app offers its page, and its outputs are served: not
    system files, checkpoint weights or the app's source."""
    root = Path(__file__).resolve().parents[2]
    path = {"weights": str(next(app_checkpoints.glob("*/model.safetensors"))),
            "app.py": str(root / "app.py")}.get(path, path)
    assert status_of(f"{app_url}gradio_api/file={path}") != 200


# --- /sample ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["vae", "vq"])
def test_sample_returns_n_images_reproducibly(client, app_models, kind):
    name = app_models.vae if kind == "vae" else app_models.vq
    first = client.predict(name, 3, 7, api_name="/sample")
    again = client.predict(name, 3, 7, api_name="/sample")
    assert len(first) == 3
    images = [open_image(item["image"]) for item in first]
    assert all(im.format == "PNG" for im in images)
    assert [im.tobytes() for im in images] == [open_image(item["image"]).tobytes() for item in again]


@pytest.mark.parametrize("name, n, seed, message", [
    ("vae", 0, 0, "number of samples must be in 1..64"),
    ("vae", 1000, 0, "number of samples must be in 1..64"),
    ("vae", 2, -5, "seed"),
    ("nope", 2, 0, "unknown checkpoint"),
])
def test_sample_refuses_bad_requests(client, app_models, name, n, seed, message):
    name = app_models.vae if name == "vae" else name
    with pytest.raises(AppError, match=message):
        client.predict(name, n, seed, api_name="/sample")
