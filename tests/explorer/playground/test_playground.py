"""The playground's logic without a browser: toy data, controls, a run's training and measurements, the pool, the
worker processes."""
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.errors import PlaygroundError
from explorer.playground.data import TOY_SETS, toy_points
from explorer.playground.pool import PlaygroundPool
from explorer.playground.run import PlaygroundRun
from explorer.playground.scenes import playground_scene, playground_stats
from explorer.playground.settings import PlaygroundSettings, check_settings
from explorer.playground.workers import WORKER_NICE, LocalRuns, WorkerRuns
from vae_core.models.points import PointGaussian, PointVAE, point_config

pytestmark = pytest.mark.usefixtures("vc_one_thread")
ROOT = Path(__file__).resolve().parents[3]


def test_toy_sets_are_reproducible_from_their_seed_and_standardised():
    for name in TOY_SETS:
        a, b, c = toy_points(name, 0), toy_points(name, 0), toy_points(name, 1)
        assert a.shape == (2000, 2) and np.array_equal(a, b) and not np.array_equal(a, c)
        assert np.allclose(a.mean(0), 0, atol=1e-5) and np.allclose(a.std(0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="pick one of"):
        toy_points("circles")


def test_the_point_likelihood_is_the_gaussian_density_in_nats():
    params = torch.tensor([[0.5, -1.0, math.log(2.0), 0.0]])  # loc (0.5, -1), log scale (log 2, 0)
    x = torch.tensor([[1.5, 0.0]])
    expected = torch.distributions.Normal(torch.tensor([0.5, -1.0]), torch.tensor([2.0, 1.0])).log_prob(x).sum()
    assert PointGaussian().log_prob(params, x).item() == pytest.approx(expected.item(), abs=1e-3)  # soft floor
    vae = PointVAE(point_config(latent_dim=1))
    assert vae.loss(torch.zeros(4, 2))["loss"].shape == ()  # the VAE's own -ELBO over points


@pytest.mark.parametrize(("values", "words"), [({"lr": 1.0}, "learning rate must be from"),
                                               ({"batch_size": 4}, "batch size must be from"),
                                               ({"mc_samples": 2.5}, "whole number"),
                                               ({"beta": "lots"}, "must be a number"),
                                               ({"lr": float("nan")}, "learning rate"),
                                               ({"model": "gan"}, "model must be one of")])
def test_a_control_outside_its_range_is_refused_with_a_message(values, words):
    with pytest.raises(PlaygroundError, match=words):
        check_settings(values)


def test_settings_that_need_no_new_model_keep_the_run():
    s = check_settings({"lr": 0.01, "mc_samples": 4.0})
    assert s.lr == 0.01 and s.mc_samples == 4 and isinstance(s.mc_samples, int)
    assert s.shape() == PlaygroundSettings().shape()
    assert check_settings({"num_codes": 8}).shape() != PlaygroundSettings().shape()


def test_a_vae_run_learns_its_data():
    run = PlaygroundRun(PlaygroundSettings(data="moons"))
    for _ in range(30):
        run.train_for(1.0, max_steps=20)
    first, last = np.mean(run.curves.loss[:3]), np.mean(run.curves.loss[-3:])
    assert last < first - 0.2, (first, last)
    scene = playground_scene(run.snapshot(), 1)
    assert '"panels"' in scene and "nats per point" in scene


def test_the_gradient_variance_falls_as_l_grows():
    run = PlaygroundRun(PlaygroundSettings(data="ring", seed=3))
    run.train_for(1.0, max_steps=100)
    v = run.gradient_variance()
    assert v[1] > v[4] > v[16] > 0, v
    assert "L = 16" in playground_stats(run.snapshot(), "training")


def test_a_diverging_run_pauses_with_a_note_saying_what_to_lower():
    run = PlaygroundRun(PlaygroundSettings())
    with torch.no_grad():
        run.model.decoder[-1].weight.fill_(float("nan"))
    assert run.train_for(1.0, max_steps=5) == 0
    assert "lower the learning rate" in run.paused_note


def vq_usage(kmeans: bool, restarts: bool) -> PlaygroundRun:
    run = PlaygroundRun(PlaygroundSettings(model="vqvae", data="ring", kmeans_init=kmeans, restarts=restarts))
    for _ in range(30):
        run.train_for(1.0, max_steps=20)
    return run


@pytest.mark.slow
def test_without_kmeans_init_and_restarts_a_vq_vae_on_the_ring_leaves_codes_dead_that_the_defaults_use():
    default, bare = vq_usage(True, True), vq_usage(False, False)
    dead_default, dead_bare = int(default.snapshot()["dead"].sum()), int(bare.snapshot()["dead"].sum())
    assert dead_default == 0 and default.curves.used[-1] == 1.0
    assert dead_bare >= 4 and bare.curves.restarts[-1] == 0, dead_bare
    assert default.curves.perplexity[-1] > bare.curves.perplexity[-1]


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_the_pool_trains_at_most_n_runs_and_the_others_wait_in_line_first_come_first_served():
    clock, s = Clock(), PlaygroundSettings()
    pool = PlaygroundPool(max_running=2, slice_s=0.001, clock=clock, runs=LocalRuns())
    for session in "abcd":
        pool.play(session, s)
    assert pool.counts() == (2, 2)
    assert [pool.place(x) for x in "abcd"] == [0, 0, 1, 2]
    waiting = pool.tick("d")
    assert waiting.waiting == 2 and "place 2 in line" in waiting.status and waiting.snapshot["steps"] == 0
    pool.close("a")  # a tab closed: its slot goes to the first in line
    assert pool.steps_of("a") is None and pool.place("c") == 0 and pool.place("d") == 1
    assert pool.tick("c").snapshot["steps"] > 0
    pool.pause("b", s)  # a paused run holds no slot
    assert pool.place("d") == 0 and pool.counts() == (2, 0)


def test_a_tick_that_waited_for_its_run_while_the_tab_paused_trains_no_more_and_says_paused():
    pool, s = PlaygroundPool(max_running=1, slice_s=0.001, runs=LocalRuns()), PlaygroundSettings()
    pool.play("a", s)
    e, steps = pool.entries["a"], pool.runs.runs["a"].steps
    answers = {}
    with e.lock:  # the run is busy: the tick below decides to train, then waits for it
        tick = threading.Thread(target=lambda: answers.update(tick=pool.tick("a")))
        tick.start()
        while e.updates < 2:  # the tick has taken its slot's decision (play's own tick was the first)
            time.sleep(0.001)
        pause = threading.Thread(target=lambda: answers.update(pause=pool.pause("a", s)))
        pause.start()
        while e.playing:  # the pause is in, and waits for the run too
            time.sleep(0.001)
    tick.join()
    pause.join()
    assert pool.runs.runs["a"].steps == steps  # no slice after the pause, whichever got the run first
    assert answers["tick"].status == "paused" and not answers["tick"].playing


def test_sessions_cannot_reach_each_others_runs():
    pool, s = PlaygroundPool(max_running=2, slice_s=0.001, runs=LocalRuns()), PlaygroundSettings()
    pool.play("a", s)
    pool.tick("a")
    steps = pool.steps_of("a")
    pool.reset("b", s)
    pool.step_once("b", s)
    assert pool.steps_of("a") == steps > 0 and pool.steps_of("b") == 1
    assert pool.runs.runs["a"].steps == steps  # the runs themselves, not only the pool's record of them
    with pytest.raises(PlaygroundError, match="reload"):
        pool.play("", s)


def test_a_run_stops_after_its_time_limit_and_when_its_tab_goes_quiet():
    clock, s = Clock(), PlaygroundSettings()
    pool = PlaygroundPool(max_running=1, time_limit_s=600, idle_s=60, slice_s=0.001, clock=clock,
                          runs=LocalRuns())
    pool.play("a", s)
    for clock.t in range(30, 601, 30):  # the tab asks for updates all along
        pool.tick("a")
    clock.t = 601
    stopped = pool.tick("a")
    assert stopped.snapshot is None and "10 minutes" in stopped.status and pool.counts() == (0, 0)
    pool.play("b", s)
    pool.play("c", s)
    clock.t += 61  # neither tab asked for an update for a minute: both dropped
    pool.play("d", s)
    assert pool.steps_of("b") is None and pool.steps_of("c") is None and pool.counts() == (1, 0)
    assert "b" not in pool.runs.runs


@pytest.mark.slow
def test_worker_processes_train_the_runs_at_a_lower_priority_and_a_dead_worker_is_replaced():
    runs, s = WorkerRuns(workers=2), PlaygroundSettings()
    try:
        a = runs.update("a", s, train_s=60.0, max_steps=3)
        b = runs.update("b", replace(s, model="vqvae"), train_s=60.0, max_steps=2)
        assert a.snapshot["steps"] == 3 and b.snapshot["steps"] == 2 and b.snapshot["kind"] == "vqvae"
        assert runs.home["a"] is not runs.home["b"]  # one worker each: they train side by side
        worker = runs.home["a"]
        if hasattr(os, "SCHED_IDLE"):  # Linux: it runs only when the CPU would otherwise idle
            assert os.sched_getscheduler(worker.proc.pid) == os.SCHED_IDLE
        else:
            assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE
        assert runs.update("a", s).snapshot["steps"] == 3  # kept in its worker between calls
        with pytest.raises(PlaygroundError, match="run failed .ValueError: unknown toy data set"):
            runs.update("a", replace(s, data="circles"))  # the worker's error comes back as one line
        assert runs.update("a", s).snapshot["steps"] == 3  # and the run is still there
        worker.proc.kill()
        worker.proc.wait()
        with pytest.raises(PlaygroundError, match="press reset"):
            runs.update("a", s)  # its runs are gone, and it says so
        assert runs.update("a", s).snapshot["steps"] == 0  # a fresh worker, a fresh run
        assert runs.update("b", replace(s, model="vqvae")).snapshot["steps"] == 2  # the other worker kept its run
        runs.drop("b")
        assert "b" not in runs.home
    finally:
        runs.stop()


@pytest.mark.slow
def test_one_worker_is_kept_ready_started_in_the_background_before_any_tab_asks():
    runs, s = WorkerRuns(workers=3), PlaygroundSettings()
    try:
        first, second, third = runs.workers
        assert first.started and not second.started  # started with the pool, nothing waited for it
        assert first.proc.poll() is None
        runs.update("a", s, train_s=60.0, max_steps=1)
        assert runs.home["a"] is first and second.started and not third.started  # the next one gets ready
        runs.update("b", s, train_s=60.0, max_steps=1)
        assert runs.home["b"] is second and third.started
        runs.drop("a")
        runs.update("c", s)  # a freed worker takes the next run
        assert runs.home["c"] is first
    finally:
        runs.stop()


@pytest.mark.slow
def test_a_workers_warm_up_pays_the_first_runs_imports_and_leaves_no_run():
    code = ("import sys, torch\nfrom explorer.playground.worker_process import warm_up\n"
            "from explorer.playground.workers import LocalRuns\n"
            "assert 'torch._dynamo' not in sys.modules\nruns = LocalRuns()\nwarm_up(runs)\n"
            "print('torch._dynamo' in sys.modules, len(runs.runs))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "0"]  # torch.optim's first use imports torch._dynamo: taken here
