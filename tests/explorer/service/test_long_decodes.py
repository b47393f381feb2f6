"""Which full decodes wait for each other (service/latent_map.py): a long model's (over LONG_SECONDS, or with a
preview) one at a time; a model slow only because the machine was busy when it first decoded does not queue behind
a long model's decode, and is fast again after one fast decode. The decoders are stand-ins that sleep or wait."""
import threading
import time

import numpy as np
import pytest

from explorer.service import latent_map
from explorer.service.explorer import Explorer

LONG = 1.0  # LONG_SECONDS here: far from the 0.15 s of a small model's busy first decode


@pytest.fixture
def ex(teach_ckpts, monkeypatch):
    monkeypatch.setattr(latent_map, "LONG_SECONDS", LONG)
    return Explorer([teach_ckpts], log=lambda *a: None)


def stand_in(model, monkeypatch, first_s: float, then=None):
    """model.decode_location sleeps first_s on its first call, then calls then() (if given) before decoding."""
    decode, calls = model.decode_location, []

    def slow(z):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(first_s)
        elif then is not None:
            then()
        return decode(z)
    monkeypatch.setattr(model, "decode_location", slow)


def test_a_busy_first_decode_does_not_queue_a_small_model_behind_a_long_one(ex, monkeypatch):
    release, started = threading.Event(), threading.Event()
    long_z, small_z = ex.map.map_latent("vae2", index=0).tolist(), ex.map.map_latent("vae4", index=0).tolist()

    def hold():
        started.set()
        assert release.wait(30)
    stand_in(ex.store.model("vae2"), monkeypatch, 1.2 * LONG, then=hold)
    stand_in(ex.store.model("vae4"), monkeypatch, 0.15)  # its first decode on a busy machine
    ex.map.decode_full("vae2", long_z)
    ex.map.decode_full("vae4", small_z)
    assert ex.map.is_long("vae2") and ex.map.is_slow("vae4") and not ex.map.is_long("vae4")
    worker = threading.Thread(target=ex.map.decode_full, args=("vae2", long_z))
    worker.start()
    try:
        assert started.wait(30)
        image, seconds = ex.map.decode_full("vae4", small_z)  # does not wait for the long decode held open
        assert worker.is_alive() and image.size[0] > 0
    finally:
        release.set()
        worker.join(30)
    assert not ex.map.is_slow("vae4")  # its fastest decode is now a quick one


def test_long_decodes_wait_for_each_other(ex, monkeypatch):
    release, started, order = threading.Event(), threading.Event(), []

    def hold():
        started.set()
        assert release.wait(30)
    stand_in(ex.store.model("vae2"), monkeypatch, 1.2 * LONG, then=hold)
    z = ex.map.map_latent("vae2", index=0).tolist()
    ex.map.decode_full("vae2", z)
    first = threading.Thread(target=lambda: (ex.map.decode_full("vae2", z), order.append("first")))
    first.start()
    assert started.wait(30)
    stand_in(ex.store.model("vae4"), monkeypatch, 1.2 * LONG)  # vae4 becomes long too
    ex.map.decode_full("vae4", ex.map.map_latent("vae4", index=0).tolist())  # (not long yet: did not wait)
    second = threading.Thread(target=lambda: (ex.map.decode_full("vae4", ex.map.map_latent("vae4", index=1)
                                                                  .tolist()), order.append("second")))
    second.start()
    time.sleep(0.3)
    assert order == [] and np.all([first.is_alive(), second.is_alive()])  # the second waits for the first
    release.set()
    first.join(30)
    second.join(30)
    assert order == ["first", "second"]
