"""The Lessons tab's measurements: each claim a lesson step makes about the VAE or the VQ-VAE, as a pure function
that measures it on a model (through the model door) or on plain tensors, seeded so a URL's seed reproduces it.

    elbo.py              the ELBO's two terms; KL in closed form beside its Monte Carlo estimate as L grows
    gradients.py         the reparameterisation gradient's variance beside the score-function (REINFORCE) one's
    gaussian_decoder.py  what "stuck with a Gaussian" costs: a pixel's values near a latent beside p(x_pixel|z)
    straight_through.py  the gradients the selected code gets; one EMA codebook step beside one k-means step
The commitment-weight sweep trains Playground models, so it lives a layer up: explorer/playground/commitment_sweep.py.
"""
