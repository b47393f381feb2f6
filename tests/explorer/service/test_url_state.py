"""The shareable URL state: round trips, clear messages for bad values, and garbage never crashes the parser."""
import random
import string

import pytest

from explorer.service.url_state import (
    DEFAULT,
    KEYS,
    UrlStateError,
    ViewState,
    from_query,
    from_query_lenient,
    to_query,
)

STATES = [
    ViewState(),
    ViewState(vae="fashion-vae", vq="fashion-vqvae", tab="axes", index=12, axes=(3, 5), samples=64, seed=7),
    ViewState(vae="runs/my-vae", z=(0.1, -2.5, 1e-7, 0.30000000000000004, -49.99), neighbours=100, rows=16, steps=15),
    ViewState(tab="quantisation", code_index=9999, cell=(6, 0)),
    ViewState(tab="maths", axes=(0, 15), samples=1, seed=10**9),  # the Maths tab's settings
]


@pytest.mark.parametrize("state", STATES)
def test_state_round_trips_through_the_query_string(state):
    q = to_query(state)
    assert from_query(q) == state and from_query("?" + q) == state
    assert from_query(f"https://host.example/?__theme=dark&{q}") == state  # a whole URL, Gradio's keys ignored


def test_defaults_write_nothing_and_a_mapping_is_read_like_a_query():
    assert to_query(DEFAULT) == "" and from_query("") == DEFAULT
    assert from_query({"index": "3", "L": ["2", "5"], "other": 1}) == ViewState(index=3, samples=5)  # last wins


@pytest.mark.parametrize("query, key", [
    ("index=-1", "index"), ("index=abc", "index"), ("index=1e3", "index"), ("L=0", "L"), ("L=65", "L"),
    ("z=1,nan", "z"), ("z=1,inf", "z"), ("z=1,,2", "z"), ("z=51", "z"), ("axes=1", "axes"), ("axes=1,2,3", "axes"),
    ("tab=nope", "tab"), ("vae=../etc", "vae"), ("vae=%2Fetc%2Fpasswd", "vae"), ("cell=1,x", "cell"),
    ("k=0", "k"), ("steps=16", "steps"), ("rows=0", "rows"), ("seed=99999999999", "seed"),
])
def test_bad_values_get_a_message_naming_the_key(query, key):
    with pytest.raises(UrlStateError, match=key):
        from_query(query)
    state, messages = from_query_lenient(query + "&codes=4&vq=a-vq")  # the good values stay
    assert len(messages) == 1 and key in messages[0] and (state.code_index, state.vq) == (4, "a-vq")


def test_lenient_parsing_keeps_the_good_values():
    state, messages = from_query_lenient("vae=ok&index=zz&L=9&axes=1,1,1")
    assert state == ViewState(vae="ok", samples=9) and len(messages) == 2


def test_too_long_or_non_text_queries_are_refused():
    with pytest.raises(UrlStateError, match="characters"):
        from_query("z=" + "1," * 5000)
    with pytest.raises(UrlStateError, match="text"):
        from_query(12)
    assert from_query_lenient(None)[0] == DEFAULT
    with pytest.raises(UrlStateError, match="could not be read"):
        from_query("http://[::1/?index=3")  # urlsplit: invalid IPv6 URL


def test_fuzzed_queries_never_crash():
    rng = random.Random(0)
    alphabet = string.printable + "%&=,;?#\u00e9\u2603\x00"
    keys = list(KEYS) + ["", "x", "__theme"]
    for _ in range(3000):
        if rng.random() < 0.5:
            q = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        else:
            q = "&".join(f"{rng.choice(keys)}={''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))}"
                         for _ in range(rng.randint(1, 6)))
        try:
            s = from_query(q)
        except UrlStateError:
            pass
        else:
            assert isinstance(s, ViewState) and from_query(to_query(s)) == s
        s, messages = from_query_lenient(q)
        assert isinstance(s, ViewState) and all(isinstance(m, str) for m in messages)
