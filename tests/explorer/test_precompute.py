"""python -m explorer.precompute: the projections cached ahead of time, for a checkpoint's own images or --images."""
import shutil

import numpy as np

from explorer.precompute import main


def test_precompute_caches_the_maps_of_the_images_app_py_would_show(app_checkpoints, tmp_path, capsys):
    folder = tmp_path / "ckpts"
    shutil.copytree(app_checkpoints, folder)
    before = set(folder.rglob("projections/*.npz"))
    images = tmp_path / "mine.npz"
    np.savez(images, x=np.random.default_rng(0).integers(0, 256, (12, 1, 8, 8), dtype=np.uint8))
    main([str(folder), "--images", str(images)])
    out = capsys.readouterr().out
    added = set(folder.rglob("projections/*.npz")) - before
    assert out.count("projection cached") == 2 and len(added) == 2  # one new map for each of the two models
    main([str(folder), "--images", str(images)])  # again: read from the cache, nothing new
    assert set(folder.rglob("projections/*.npz")) - before == added
