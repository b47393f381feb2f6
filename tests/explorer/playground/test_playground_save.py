"""Save as checkpoint: an image run becomes a vae_core checkpoint that the explorer opens beside the others, and a
point run, a missing run or a taken name is refused without touching anything."""
import numpy as np
import pytest
import torch

import vae_core
from explorer.errors import PlaygroundError, UnreadableCheckpoint
from explorer.playground.pool import PlaygroundPool
from explorer.playground.settings import PlaygroundSettings
from explorer.playground.workers import LocalRuns
from explorer.service.explorer import Explorer

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def test_a_saved_image_run_opens_in_the_explorer_and_nothing_else_is_touched(tmp_path):
    pool = PlaygroundPool(max_running=1, slice_s=0.001, runs=LocalRuns(), save_dir=tmp_path / "saved")
    s = PlaygroundSettings(data="digits", seed=1)
    with pytest.raises(PlaygroundError, match="no run to save"):
        pool.save("a", "first")
    pool.play("a", s)
    for _ in range(5):
        pool.tick("a")
    folder = pool.save("a", "first")
    assert (folder / "config.json").exists() and (folder / "model.safetensors").exists()
    with pytest.raises(PlaygroundError, match="saved already"):
        pool.save("a", "first")
    with pytest.raises(PlaygroundError, match="plain folder name"):
        pool.save("a", "../escape")

    run = pool.runs.runs["a"]
    model = vae_core.load(folder)
    x = run.data[:4]
    with torch.no_grad():
        assert torch.allclose(model.reconstruct(x), run.model.eval().reconstruct(x), atol=1e-6)

    ex = Explorer([], log=lambda *a: None)
    assert ex.store.names("vae") == []
    name = ex.store.add_folder(folder)
    assert name == "first" and ex.store.names("vae") == ["first"]
    view = ex.store.latent_view(name)  # the digits' test split, mapped by the 2-D latent itself (no UMAP)
    assert view.proj.method == "identity" and len(view.proj.coords) == len(view.data.x_test) > 300
    assert set(np.unique(view.proj.labels)) == set(range(10))
    image = ex.map.decode_latent(name, [0.0, 0.0])
    assert np.asarray(image).std() > 0
    with pytest.raises(UnreadableCheckpoint, match="offered already"):
        ex.store.add_folder(folder)

    pool.play("b", PlaygroundSettings(data="moons"))
    with pytest.raises(PlaygroundError, match="image runs"):
        pool.save("b", "points")
    assert not (tmp_path / "saved" / "points").exists()
