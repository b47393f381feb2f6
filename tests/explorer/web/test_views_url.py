"""What the page writes into its URL (views/url.py view_state): read back by url_state.from_query."""
from types import SimpleNamespace

import numpy as np

from explorer.service.url_state import from_query, to_query
from explorer.web.session import CodesSession, LatentSession, MathsSession
from explorer.web.views.url import view_state

MU = np.array([[0.0, 0.0], [1.0, -2.0]], np.float32)
EX = SimpleNamespace(map=SimpleNamespace(point=lambda name, i: SimpleNamespace(latent=MU[i])),
                     store=SimpleNamespace(dims_by_kl=lambda name: np.array([1, 0])))  # z1 is the more active one


def test_a_selected_image_is_written_as_its_index_without_its_latent():
    latent = LatentSession(loaded=True, vae="v", index=1).with_latent(MU[1])
    s = view_state(EX, latent, CodesSession(), "map", "q")
    assert (s.vae, s.vq, s.index, s.z, s.code_index, s.cell) == ("v", "q", 1, None, None, None)
    assert from_query(to_query(s)) == s


def test_a_moved_latent_is_written_rounded_and_the_codes_cell_too():
    latent = LatentSession(loaded=True, vae="v", index=1).with_latent([0.123456, -2.0])
    codes = CodesSession(loaded=True, vq="q2", index=7, cell=(1, 0))
    s = view_state(EX, latent, codes, "codes", "q")
    assert s.z == (0.1235, -2.0) and s.vq == "q2" and s.code_index == 7 and s.cell == (1, 0) and s.tab == "codes"
    assert from_query(to_query(s)) == s


def test_a_page_not_loaded_yet_writes_the_defaults_only():
    s = view_state(EX, LatentSession(), CodesSession(), "", "")
    assert to_query(s) == ""


def test_the_maths_settings_are_written_and_the_axes_only_when_they_are_not_the_default():
    latent = LatentSession(loaded=True, vae="v", index=1).with_latent(MU[1])
    maths = MathsSession(loaded=True, vae="v", i=1, j=0, samples=20, seed=3)  # the default axes: most active first
    s = view_state(EX, latent, CodesSession(), "maths", "q", maths)
    assert (s.tab, s.axes, s.samples, s.seed) == ("maths", None, 20, 3)
    assert "L=20" in to_query(s) and "seed=3" in to_query(s) and "axes" not in to_query(s)
    s = view_state(EX, latent, CodesSession(), "maths", "q", MathsSession(loaded=True, vae="v", i=0, j=1))
    assert (s.axes, s.samples, s.seed) == ((0, 1), 8, 0) and to_query(s).endswith("axes=0,1")  # L, seed: defaults
    assert from_query(to_query(s)) == s
    assert view_state(EX, latent, CodesSession(), "map", "q", MathsSession(i=0, j=1, samples=5)).axes is None
