"""What the page writes into its URL (views/url.py view_state): read back by url_state.from_query."""
from types import SimpleNamespace

import numpy as np

from explorer.session import CodesSession, LatentSession
from explorer.url_state import from_query, to_query
from explorer.views.url import view_state

MU = np.array([[0.0, 0.0], [1.0, -2.0]], np.float32)
EX = SimpleNamespace(latent_view=lambda name: SimpleNamespace(proj=SimpleNamespace(latents=MU)))


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
