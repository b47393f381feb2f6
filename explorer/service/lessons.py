"""The Lessons tab's service: the lessons' steps (lesson_steps.py), each control checked, and the measurement each
step shows, computed on the chosen checkpoint through the model door by explorer/compute/lessons/ (the commitment
sweep by explorer/playground/commitment_sweep.py). Lessons and steps are numbered from 1, as in the URL
(?lesson=1&step=2). Every measurement is seeded: the same URL gives the same figures.
"""
import numpy as np
import torch

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.lessons.elbo import kl_estimates, network_scales
from explorer.compute.lessons.gaussian_decoder import pixel_neighbourhood
from explorer.compute.lessons.gradients import decoder_log_likelihood, gradient_variance
from explorer.compute.lessons.straight_through import cells, codebook_step, straight_through
from explorer.compute.montecarlo import check_seed, monte_carlo
from explorer.errors import LessonError, MissingCapability
from explorer.playground.commitment_sweep import STEPS, WEIGHTS, sweep_point
from explorer.service.lesson_steps import LESSONS, Lesson, Step
from explorer.service.store import Store

ELBO_SAMPLES = 64  # draws of the ELBO step's Monte Carlo estimate
EMA_IMAGES = 32  # test images whose code vectors make the EMA step's batch
CACHE = 256  # measurements kept (each small)
SWEEP_STEPS = STEPS  # Adam steps of each commitment sweep run


def lesson(n) -> Lesson:
    """Lesson n (1-based), or LessonError naming the ones there are."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(LESSONS):
        raise LessonError(f"there is no lesson {n!r}: pick 1..{len(LESSONS)} "
                          f"({', '.join(f'{i + 1}: {x.title}' for i, x in enumerate(LESSONS))})")
    return LESSONS[int(n) - 1]


def step(n, m) -> Step:
    """Step m (1-based) of lesson n."""
    steps = lesson(n).steps
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= len(steps):
        raise LessonError(f"lesson {n} has steps 1..{len(steps)}, not {m!r}")
    return steps[int(m) - 1]


def check_choice(s: Step, choice):
    """The step's choice (its first value when None), or LessonError naming the values it takes."""
    if not s.choices:
        return None
    if choice is None:
        return s.choices[0]
    for c in s.choices:
        if isinstance(choice, (int, float, str)) and str(c) == str(choice) or choice == c:
            return c
    raise LessonError(f"{s.choice_label} must be one of {', '.join(map(str, s.choices))}, got {choice!r}")


class LessonsService:
    def __init__(self, store: Store):
        self.store = store
        self._cache = BoundedCache(CACHE)
        self._sweep = BoundedCache(CACHE)  # commitment sweep points by (seed, weight)

    def measure(self, n: int, m: int, vae: str = "", vq: str = "", index: int = 0, seed: int = 0, choice=None):
        """The measurement step m of lesson n shows, on checkpoint `vae` or `vq` (the lesson's kind), for test
        image `index`, `seed` and the step's choice; kept, so Back and Next cost nothing."""
        s, kind = step(n, m), lesson(n).kind
        name = vae if kind == "vae" else vq
        if not name:
            raise MissingCapability(f"this lesson needs a {kind.upper()} checkpoint: pick one above")
        seed, choice = check_seed(seed), check_choice(s, choice)
        index = int(index) if "index" in s.controls else 0
        compute = lambda: getattr(self, s.measure)(name, index, seed, choice)
        if s.measure == "commitment":  # its table grows with each weight tried: kept point by point instead
            return compute()
        return self._cache.get((s.measure, name, index, seed, choice), compute)

    # --- the VAE lesson ------------------------------------------------------------------------------------
    def _vae(self, name: str):
        model = self.store.model(name, "vae", "this lesson")
        if model.missing("decoder scale"):
            raise MissingCapability(f"{name}: {model.missing('decoder scale')}")
        return model

    def encoder_decoder(self, name, index, seed, choice):
        return network_scales(self._vae(name), self.store.image(name, index))

    def elbo(self, name, index, seed, choice):
        return monte_carlo(self._vae(name), self.store.stored_image(name, index), ELBO_SAMPLES, seed)

    def kl(self, name, index, seed, choice):
        mu, log_sigma = self._vae(name).encode(self.store.image(name, index))
        return kl_estimates(mu[0].detach().double().numpy(), log_sigma[0].detach().double().exp().numpy(), seed)

    def gradients(self, name, index, seed, choice):
        model, x = self._vae(name), self.store.image(name, index)
        mu, log_sigma = model.encode(x)
        return gradient_variance(decoder_log_likelihood(model, x), mu[0].detach().double().numpy(),
                                 log_sigma[0].detach().double().exp().numpy(), int(choice), seed)

    @torch.no_grad()
    def gaussian(self, name, index, seed, choice):
        model = self._vae(name)
        if model.likelihood.kind == "bernoulli":
            raise MissingCapability(f"{name} has a Bernoulli decoder: this step needs a discretised one")
        self.store.image(name, index)  # checks the range
        mu = self.store.posteriors(name).mu
        probs = model.likelihood.level_probs(model.decode(torch.as_tensor(mu[index:index + 1], dtype=torch.float32)))
        return pixel_neighbourhood(mu, self.store.data(name).x_test, mu[index], probs[0].double().numpy())

    # --- the VQ-VAE lesson ---------------------------------------------------------------------------------
    def _vq(self, name: str):
        model = self.store.model(name, "vqvae", "this lesson")
        if getattr(getattr(model, "cfg", None), "quantizer", "vq") == "fsq":
            raise MissingCapability(f"{name} quantises by FSQ (no learned codebook): pick a VQ checkpoint")
        return model

    def straight_through(self, name, index, seed, choice):
        model, x = self._vq(name), self.store.image(name, index)
        z_e = model.encode(x)
        cell = int(choice) % (z_e.shape[2] * z_e.shape[3])  # the cell, on a grid of any size
        recon = lambda z_q: (model.decode(z_q) - x).pow(2).sum()  # the decoded image's squared error
        return straight_through(z_e, model.codebook, recon, cell)

    def ema(self, name, index, seed, choice):
        model = self._vq(name)
        n = min(EMA_IMAGES, len(self.store.data(name).x_test))
        z = torch.cat([model.encode(self.store.image(name, i)) for i in range(n)])
        d = z.shape[1]
        return codebook_step(cells(z).reshape(-1, d), model.codebook, float(choice))

    def commitment(self, name, index, seed, choice):
        """Every weight tried so far with this seed (the one asked for run now, if new), by weight."""
        self._sweep.get((seed, choice), lambda: sweep_point(float(choice), seed, SWEEP_STEPS))
        tried = {w for w in (*WEIGHTS, choice) if (seed, w) in self._sweep}
        return [self._sweep.get((seed, w), None) for w in sorted(tried)]
