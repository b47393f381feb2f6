"""The Playground's state in the URL: every control and the hidden ones round-trip, and a damaged link keeps its
good values and says what it dropped."""
from dataclasses import fields

from explorer.playground.settings import PlaygroundSettings
from explorer.playground.url_state import HIDEABLE, from_query, to_query
from explorer.service.url_state import from_query as page_state


def test_every_control_and_the_hidden_ones_round_trip_through_the_query():
    s = PlaygroundSettings(model="vqvae", data="spiral", seed=7, latent_dim=1, arch="conv", lr=0.0125, batch_size=64,
                           mc_samples=4, beta=0.5, num_codes=8, commitment=0.75, codebook_weight=2.0,
                           codebook="loss", ema_decay=0.99, kmeans_init=False, restarts=False, steps_per_scene=1)
    assert all(getattr(s, f.name) != getattr(PlaygroundSettings(), f.name) for f in fields(s))  # every key written
    q = to_query(s, ["save", "beta", "lr"])
    assert "pg_lr=0.0125" in q and "pg_kmeans_init=0" in q and q.endswith("pg_hide=lr,beta,save")
    back = from_query(q)
    assert back.settings == s and back.hidden == ("lr", "beta", "save") and back.messages == []
    assert from_query("?" + q).settings == s  # a query with its ?, or a mapping (request.query_params)
    assert from_query({"pg_seed": "3", "pg_model": "vqvae"}).settings == PlaygroundSettings(model="vqvae", seed=3)
    assert to_query(PlaygroundSettings()) == "" and from_query("").settings == PlaygroundSettings()
    assert set(HIDEABLE) >= {f.name for f in fields(s)}


def test_bad_values_are_dropped_with_a_message_and_the_good_ones_kept():
    state = from_query("pg_seed=4&pg_lr=5&pg_model=gan&pg_beta=nan&pg_restarts=maybe&pg_steps_per_scene=3"
                       "&pg_colour=red&pg_hide=lr,wings&seed=9")
    assert state.settings == PlaygroundSettings(seed=4) and state.hidden == ("lr",)
    said = " | ".join(state.messages)
    assert len(state.messages) == 7, said
    for words in ("pg_lr='5' dropped: learning rate must be from 1e-05 to 0.1", "model must be one of vae, vqvae",
                  "pg_beta='nan'", "pg_restarts='maybe' is not 1 or 0", "steps per scene must be one of 0, 10, 1",
                  "'pg_colour' is not a Playground control", "pg_hide= names 'wings'"):
        assert words in said


def test_the_page_state_opens_the_playground_tab_and_leaves_the_pg_keys_to_it():
    assert page_state("tab=playground&pg_seed=2&seed=5").tab == "playground"
    assert page_state("tab=playground&pg_seed=2&seed=5").seed == 5  # the Maths tab's seed, not the Playground's
