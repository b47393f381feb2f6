"""The device chosen at the model door: parsing --device and refusing a device that is not here (never the CPU in its
place), refusing weights that do not fit, and every adapter giving CPU float32 whatever dtype its weights are in
(bfloat16 and float64 weights on the CPU exercise the same casting as a GPU's half precision)."""
import pytest
import torch
from safetensors.torch import save_file

import app
from explorer import export_site, precompute
from explorer.errors import DeviceUnavailable, ModelTooLarge
from explorer.models import device as dev
from explorer.models import diffusers_models, found, given_module, open_folder
from explorer.service.explorer import Explorer
from vae_core import Config
from vae_core.checkpoint import save_checkpoint
from vae_core.models import build_model

diffusers = pytest.importorskip("diffusers")
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 16, "in_channels": 3, "out_channels": 3}


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny diffusers AutoencoderKL and VQModel, and an untrained vae_core VAE and VQ-VAE (8x8 digits)."""
    root = tmp_path_factory.mktemp("device")
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=4, **BODY).save_pretrained(root / "kl")
    diffusers.VQModel(latent_channels=4, num_vq_embeddings=32, vq_embed_dim=4, **BODY).save_pretrained(root / "vq")
    common = {"data": "digits", "channels": 1, "image_size": 8, "width": 8, "latent_dim": 4, "num_codes": 16,
              "code_dim": 8}
    for kind in ("vae", "vqvae"):
        cfg = Config(model=kind, **common)
        save_checkpoint(root / f"core-{kind}", build_model(cfg), cfg)
    return root


def test_auto_is_the_cpu_here_and_the_cpu_is_always_there(no_gpu):
    assert dev.choose_device("auto") == torch.device("cpu")
    assert dev.choose_device("CPU") == torch.device("cpu")


def test_a_cuda_device_that_is_not_here_is_refused_with_what_to_do(no_gpu):
    with pytest.raises(DeviceUnavailable, match=r"no CUDA device here \(torch.cuda.is_available\(\) is False\): "
                                                r"use --device cpu or auto, or install a CUDA build of torch"):
        dev.choose_device("cuda")
    with pytest.raises(DeviceUnavailable, match="no CUDA device"):
        dev.choose_device("cuda:0")


def test_a_cuda_index_past_the_last_device_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceUnavailable, match=r"no cuda:3 here: this machine has 1 CUDA device \(cuda:0 to cuda:0\)"):
        dev.choose_device("cuda:3")


def test_mps_without_apple_silicon_and_unknown_names_are_refused(no_gpu):
    with pytest.raises(DeviceUnavailable, match=r"no MPS device here .*use --device cpu or auto"):
        dev.choose_device("mps")
    for name in ("gpu", "tpu", "cuda:x", ""):
        with pytest.raises(DeviceUnavailable, match="unknown device .*use auto, cpu, cuda"):
            dev.choose_device(name)


def test_the_memory_check_refuses_weights_larger_than_what_is_free_with_both_sizes():
    cpu = torch.device("cpu")
    with pytest.raises(ModelTooLarge, match=r"big does not fit on cpu: its weights take 1\.9 GiB "
                                            r"\(1,000,000,000 numbers in bfloat16\) and 1\.0 GiB is free there"):
        dev.check_fits("big", 10**9, torch.bfloat16, 2**30, cpu)
    dev.check_fits("big", 10**9, torch.bfloat16, 2 * 10**9, cpu)  # fits exactly
    dev.check_fits("big", 10**12, torch.float32, None, cpu)  # free memory unknown: not refused
    assert dev.available_ram("MemTotal: 100 kB\nMemAvailable:   2048 kB\n") == 2 * 2**20
    assert dev.available_ram("MemTotal: 100 kB\n") is None


def test_the_weights_are_counted_from_the_file_header(tmp_path, folders):
    save_file({"a": torch.zeros(3, 4), "b": torch.zeros(5, dtype=torch.float16)}, tmp_path / "w.safetensors")
    assert dev.stored_numbers(tmp_path / "w.safetensors") == 17
    kl = open_folder(folders / "kl", log=None)
    assert kl.numbers() == sum(p.numel() for p in kl.load().parameters())


def test_a_model_that_does_not_fit_is_refused_when_it_is_opened(folders, monkeypatch):
    ex = Explorer([folders], log=lambda *a: None, device="cpu")
    monkeypatch.setattr(found, "free_bytes", lambda device: 1000)
    with pytest.raises(ModelTooLarge, match=r"kl does not fit on cpu: its weights take .* MiB .* and 0\.0 MiB is free"):
        ex.store.model("kl")
    with pytest.raises(ModelTooLarge, match="core-vae does not fit"):
        ex.store.model("core-vae")


def cpu_float32(*tensors):
    for t in tensors:
        assert t.device.type == "cpu" and (t.dtype == torch.float32 or not t.is_floating_point()), (t.device, t.dtype)


def test_diffusers_models_in_half_precision_give_cpu_float32(folders, monkeypatch):
    dtype = torch.bfloat16
    monkeypatch.setattr(diffusers_models, "PIXELS_PER_PASS", 2 * 16 * 16)  # three images: two passes, joined
    kl = open_folder(folders / "kl", log=None).open(torch.device("cpu"), dtype)
    assert next(kl.parameters()).dtype == dtype
    x = torch.rand(3, 3, 16, 16)
    mu, log_sigma = kl.encode(x)
    cpu_float32(mu, log_sigma, kl.decode_location(mu), kl.reconstruct(x), kl.sample(2, torch.Generator()))
    assert mu.shape == (3, 256)
    reference = open_folder(folders / "kl", log=None).load()  # float32, in one pass
    torch.testing.assert_close(mu, reference.encode(x)[0], atol=0.1, rtol=0.1)  # bfloat16: 8 bits of mantissa
    vq = open_folder(folders / "vq", log=None).open(torch.device("cpu"), dtype)
    z_e = vq.encode(x)
    z_q, grid = vq.quantize(z_e)
    cpu_float32(z_e, z_q, grid, vq.decode(z_q), vq.decode_indices(grid), vq.codebook, vq.reconstruct(x))
    assert grid.shape == (3, 8, 8) and 0 <= float(vq.decode_indices(grid).min())


def test_vae_core_models_run_in_float32_and_give_cpu_tensors_from_every_method(folders):
    with pytest.raises(ValueError, match="runs in float32"):
        open_folder(folders / "core-vae", log=None).open(torch.device("cpu"), torch.float16)
    vae = open_folder(folders / "core-vae", log=None).open(torch.device("cpu"))
    x = torch.rand(2, 1, 8, 8)
    mu, log_sigma = vae.encode(x)
    g = torch.Generator().manual_seed(0)
    cpu_float32(mu, log_sigma, vae.decode(mu), vae.decode_location(mu), vae.log_importance_weights(x, 3, g),
                vae.sample_latents(2, g), vae.sample(2, g), vae.reconstruct(x))
    assert vae.likelihood.log_prob(vae.decode(mu), x).shape == (2,)  # the likelihood takes what decode gives
    vq = open_folder(folders / "core-vqvae", log=None).open(torch.device("cpu"))
    z_q, grid = vq.quantize(vq.encode(x))
    cpu_float32(z_q, grid, vq.decode(z_q), vq.decode_indices(grid), vq.codebook, vq.reconstruct(x))


def test_a_module_in_float64_is_fed_its_dtype_and_gives_float32():
    class Double(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = torch.nn.Linear(4, 4).double(), torch.nn.Linear(4, 4).double()

        def encode(self, x):
            assert x.dtype == torch.float64
            h = self.enc(x.flatten(1))
            return h, torch.zeros_like(h)

        def decode(self, z):
            return torch.sigmoid(self.dec(z)).reshape(-1, 1, 2, 2)

    model = given_module("double", Double(), (1, 2, 2)).model
    mu, log_sigma = model.encode(torch.rand(3, 1, 2, 2))
    cpu_float32(mu, log_sigma, model.decode_location(mu))


def test_the_cpu_copy_is_the_model_itself_on_the_cpu(folders):
    ex = Explorer([folders], log=lambda *a: None, device="cpu")
    assert ex.store.cpu_model("kl", "vae") is ex.store.model("kl")


def test_the_commands_exit_2_with_the_message_for_a_device_that_is_not_here(no_gpu, capsys, folders, tmp_path):
    for main, argv in [(app.main, ["--checkpoints", str(folders)]), (precompute.main, [str(folders)]),
                       (export_site.main, ["--checkpoints", str(folders), "--out", str(tmp_path / "site")])]:
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--device", "cuda"])
        assert exit_.value.code == 2
        assert "no CUDA device here (torch.cuda.is_available() is False)" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()
